/**
 * Running an image template: the run action and its checks, cancel, and the clock-driven phases
 * of a run (build VM while building, gallery version, run outputs, customization.log).
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';
import { eqi, isObject, str } from '../util';
import { createVersionResource } from './gallery-versions';
import { compareVersions } from './images';
import { defaultFindings, UBUNTU_2204 } from './security-gate-vm';
import {
  CANCELING_MS,
  TS,
  TYPE,
  identityIsContributorOn,
  idOf,
  internalOf,
  lastRunStatus,
  runOutputs,
  unauthorizedStaging,
  type RunState,
} from './imagebuilder-common';

export function runTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req, 1);
  sim.authorize(req.claims, `${TYPE}/run/action`, id);
  const r = sim.getResource(id);
  if (!r) throw sim.notFound(req.segments, TYPE, req.segments[req.segments.length - 2] ?? '');
  const it = internalOf(r);
  const now = sim.clock.now();
  if (r.properties.provisioningState !== 'Succeeded')
    throw new ArmError(
      400,
      'BadRequest',
      `The image template is not in a succeeded provisioning state and cannot be run. ${TS}`,
    );
  if (it.run && ['Running', 'Canceling'].includes(String(lastRunStatus(sim, it, it.run, now).runState)))
    throw new ArmError(
      409,
      'Conflict',
      `The image template has a build in progress. Wait for it to finish or cancel it. ${TS}`,
    );
  if (it.customStaging && !identityIsContributorOn(sim, it.identity.principalId, it.stagingRgId)) {
    const headers = sim.beginOperation({
      subscriptionId: r.subscriptionId,
      namespace: 'Microsoft.VirtualMachineImages',
      location: r.location,
      kind: 'templateRun',
      location202: true,
      apiVersion: req.apiVersion,
      outcome: { error: unauthorizedStaging(it.stagingRgId) },
    });
    return { status: 202, headers };
  }
  const total = sim.durations.buildMs;
  const runId = sim.newGuid();
  const run: RunState = {
    runId,
    startedAt: now,
    building: now + total * 0.02,
    customizing: now + total * 0.3,
    distributing: now + total * 0.7,
    end: now + total,
  };
  const timeoutMin =
    typeof r.properties.buildTimeoutInMinutes === 'number' && r.properties.buildTimeoutInMinutes > 0
      ? r.properties.buildTimeoutInMinutes
      : 240;
  const customizers = Array.isArray(r.properties.customize) ? r.properties.customize.filter(isObject) : [];
  const failing = sim.customizerFailures.find((f) =>
    customizers.some((c) => str(c.name) === f.customizerName),
  );
  const logUrl = `${sim.armEndpoint}/${it.storageAccount}/packerlogs/${runId}/customization.log`;
  const vmProfile = isObject(r.properties.vmProfile) ? r.properties.vmProfile : {};
  const subnetId = isObject(vmProfile.vnetConfig) ? str(vmProfile.vnetConfig.subnetId) : undefined;
  const osIsWindows = /windows/i.test(JSON.stringify(r.properties.source));
  const nsgOk = subnetId ? subnetAllowsLoadBalancer(sim, subnetId, osIsWindows ? 60000 : 60001) : true;
  const packerFail = `Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: Packer build command has failed: exit status 1. During the image build, a failure has occurred, please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuildertroubleshoot. Image Build log location: ${logUrl}. OperationId: ${runId}`;
  if (!nsgOk) {
    run.failure = {
      at: run.building + total * 0.1,
      subState: 'Building',
      message: `${packerFail}`,
      log: [
        `==> azure-arm: Waiting for SSH to become available...`,
        `==> azure-arm: Timeout waiting for the proxy VM: connection from AzureLoadBalancer to port ${osIsWindows ? 60000 : 60001} was refused by the network security group of subnet ${subnetId ?? ''}.`,
      ],
    };
  } else if (failing) {
    run.failure = {
      at: run.customizing + total * 0.2,
      subState: 'Customizing',
      message: packerFail,
      log: [
        `==> azure-arm: Provisioning with shell script / customizer '${failing.customizerName}'`,
        ...failing.logLines,
      ],
    };
  } else if (total > timeoutMin * 60_000) {
    run.failure = {
      at: now + timeoutMin * 60_000,
      subState: 'Building',
      // The troubleshooting guide's "Timeout exceeded" error, as lastRunStatus shows it.
      message: `Deployment failed. Correlation ID: ${runId}. Failed in building/customizing image: Failed while waiting for packerizer: Timeout waiting for microservice to complete: 'context deadline exceeded'`,
      log: ['==> azure-arm: build timed out'],
    };
  }
  it.run = run;
  const stagingName = it.stagingRgId.split('/').pop() ?? '';
  sim.blobs.set(
    `${it.storageAccount}/packerlogs/${runId}/customization.log`.toLowerCase(),
    `[${new Date(now).toISOString()}] PACKER OUT azure-arm: Build started\n`,
  );
  void stagingName;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.VirtualMachineImages',
    location: r.location,
    kind: 'templateRun',
    location202: true,
    apiVersion: req.apiVersion,
  });
  return { status: 202, headers };
}

/**
 * Whether the subnet's NSG lets AzureLoadBalancer reach the proxy VM on `port`: inbound rules (custom
 * and default) in priority order, the first one matching source AzureLoadBalancer and the port decides.
 */
function subnetAllowsLoadBalancer(sim: Simulator, subnetId: string, port: number): boolean {
  const subnet = sim.getResource(subnetId);
  const nsgId =
    subnet && isObject(subnet.properties.networkSecurityGroup)
      ? str(subnet.properties.networkSecurityGroup.id)
      : undefined;
  if (!nsgId) return true; // no NSG: nothing blocks it
  const nsg = sim.getResource(nsgId);
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
  const rules = [...list(nsg?.properties.securityRules), ...list(nsg?.properties.defaultSecurityRules)]
    .filter(isObject)
    .map((rule) => (isObject(rule.properties) ? rule.properties : {}))
    .filter((p) => p.direction === 'Inbound')
    .sort((a, b) => Number(a.priority ?? 0) - Number(b.priority ?? 0));
  const decisive = rules.find((p) => {
    const sources = [
      ...(Array.isArray(p.sourceAddressPrefixes) ? p.sourceAddressPrefixes.map(String) : []),
      ...(str(p.sourceAddressPrefix) ? [str(p.sourceAddressPrefix) ?? ''] : []),
    ];
    if (!sources.some((s) => s === '*' || eqi(s, 'AzureLoadBalancer'))) return false;
    if (!['*', 'Tcp', 'tcp'].includes(str(p.protocol) ?? '*')) return false;
    const ranges = [
      ...(Array.isArray(p.destinationPortRanges) ? p.destinationPortRanges.map(String) : []),
      ...(str(p.destinationPortRange) ? [str(p.destinationPortRange) ?? ''] : []),
    ];
    return ranges.some((range) => {
      if (range === '*') return true;
      const [lo, hi] = range.split('-').map(Number);
      return lo !== undefined && port >= lo && port <= (hi ?? lo);
    });
  });
  // An NSG always ends in AllowAzureLoadBalancerInBound (65001); an NSG without default rules allows too.
  return decisive === undefined || decisive.access === 'Allow';
}

export function cancelTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req, 1);
  sim.authorize(req.claims, `${TYPE}/cancel/action`, id);
  const r = sim.getResource(id);
  if (!r) throw sim.notFound(req.segments, TYPE, req.segments[req.segments.length - 2] ?? '');
  const it = internalOf(r);
  const now = sim.clock.now();
  if (!it.run || lastRunStatus(sim, it, it.run, now).runState !== 'Running')
    throw new ArmError(409, 'Conflict', `There is no build in progress to cancel. ${TS}`);
  it.run.canceledAt = now;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.VirtualMachineImages',
    location: r.location,
    kind: 'templateCancel',
    location202: true,
    apiVersion: req.apiVersion,
  });
  return { status: 202, headers };
}

/** Image templates whose run is in progress now (Running, or Canceling: its build VM is still there). */
export function runningImageBuilds(
  sim: Simulator,
  now: number,
): { templateId: string; subscriptionId: string; location: string }[] {
  const running: { templateId: string; subscriptionId: string; location: string }[] = [];
  for (const r of sim.resources.values()) {
    if (r.type !== TYPE) continue;
    const it = internalOf(r);
    const state = it.run ? lastRunStatus(sim, it, it.run, now).runState : undefined;
    if (state === 'Running' || state === 'Canceling')
      running.push({ templateId: r.id, subscriptionId: r.subscriptionId, location: r.location });
  }
  return running;
}

/** Materializes clock-driven effects of runs: build VM while building, gallery version, run outputs, log. */
export function tickImageBuilder(sim: Simulator, now: number): void {
  for (const r of [...sim.resources.values()]) {
    if (r.type !== TYPE) continue;
    const it = internalOf(r);
    const run = it.run;
    if (!run) continue;
    // A canceled run makes no more progress at once, and its build VM is gone once it is Canceled.
    const canceling = run.canceledAt !== undefined && now >= run.canceledAt;
    const failed = run.failure !== undefined && now >= run.failure.at;
    const stopped = (canceling && now >= (run.canceledAt ?? 0) + CANCELING_MS) || failed;
    const stagingName = it.stagingRgId.split('/').pop() ?? '';
    const vmId = `${it.stagingRgId}/providers/Microsoft.Compute/virtualMachines/vm-${run.runId.slice(0, 8)}`;
    const building = !stopped && now >= run.building && now < run.distributing;
    if (building && !sim.getResource(vmId) && sim.getResource(it.stagingRgId)) {
      sim.putResource({
        id: vmId,
        type: 'Microsoft.Compute/virtualMachines',
        name: `vm-${run.runId.slice(0, 8)}`,
        subscriptionId: r.subscriptionId,
        resourceGroup: stagingName,
        location: r.location,
        tags: { createdBy: 'AzureVMImageBuilder' },
        properties: { provisioningState: 'Succeeded' },
      });
    } else if (!building && sim.getResource(vmId)) {
      sim.deleteResource(vmId);
    }
    const logKey = `${it.storageAccount}/packerlogs/${run.runId}/customization.log`.toLowerCase();
    if (run.failure && now >= run.failure.at && !(run as { logged?: boolean }).logged) {
      sim.blobs.set(
        logKey,
        (sim.blobs.get(logKey) ?? '') +
          run.failure.log.map((l) => `PACKER ERR ${l}`).join('\n') +
          '\nPACKER ERR Build failed.\n',
      );
      (run as { logged?: boolean }).logged = true;
    }
    if (!stopped && !canceling && now >= run.distributing && !run.versionCreated) {
      run.versionCreated = true;
      const inventory = inventoryLogLines(sim, r.properties.customize, run.runId);
      if (inventory.length > 0)
        sim.blobs.set(logKey, (sim.blobs.get(logKey) ?? '') + inventory.join('\n') + '\n');
      for (const d of (Array.isArray(r.properties.distribute) ? r.properties.distribute : []).filter(
        isObject,
      )) {
        if (str(d.type) !== 'SharedImage') continue;
        const target = str(d.galleryImageId) ?? '';
        const versionId = /\/versions\/[^/]+$/i.test(target)
          ? target
          : `${target}/versions/${autoVersion(sim, target, now)}`;
        const imageId = versionId.split('/').slice(0, -2).join('/');
        const problem = !sim.getResource(imageId)
          ? `Distribution failed: gallery image ${imageId} not found.`
          : !sim.can(it.identity.principalId, 'Microsoft.Compute/galleries/images/versions/write', versionId)
            ? `Deployment failed. Correlation ID: ${run.runId}. Not authorized to access the resource: ${versionId}. Please check the user assigned identity has the correct permissions. ${TS}`
            : sim.getResource(versionId)
              ? `Distribution failed: the gallery image version ${versionId} already exists. ${TS}`
              : undefined;
        if (problem) {
          run.failure = { at: now, subState: 'Distributing', message: problem, log: [problem] };
          continue;
        }
        const regions = Array.isArray(d.targetRegions) ? d.targetRegions.filter(isObject) : [];
        const v = createVersionResource(sim, {
          id: versionId,
          location: r.location,
          tags: isObject(d.versioning) ? {} : {},
          targetRegions: regions.map((g) => ({
            name: str(g.name) ?? r.location,
            regionalReplicaCount: typeof g.replicaCount === 'number' ? g.replicaCount : 1,
            storageAccountType: str(g.storageAccountType) ?? 'Standard_LRS',
          })),
          excludeFromLatest: d.excludeFromLatest === true,
          source: { source: { id: '' } },
          startAt: now,
          allDoneBy: run.end,
        });
        v.tags = isObject(d.artifactTags) ? (d.artifactTags as Record<string, string>) : {};
        const outs = runOutputs(r);
        outs.push({ name: str(d.runOutputName) ?? 'output', artifactId: v.id });
        r.internal.runOutputs = outs;
      }
    }
  }
}

function autoVersion(sim: Simulator, imageId: string, now: number): string {
  const d = new Date(now);
  const candidate = `0.${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}.${d.getUTCHours() * 10000 + d.getUTCMinutes() * 100 + d.getUTCSeconds()}`;
  const existing = sim.resourcesIn(imageId).map((v) => v.name);
  return existing.some((e) => compareVersions(e, candidate) === 0) ? `${candidate}1` : candidate;
}

/**
 * What Image Factory's inventory customizer (recognised by its first line, build-inventory.ts)
 * prints on the build VM, in customization.log's shape: each provisioner output line as
 * "[<operation id>] PACKER OUT     azure-arm: <line>" (the VM Image Builder troubleshooting guide's
 * log excerpts, "PACKER OUT     azure-arm: WinRM connected."). The build VM runs nothing: the image's
 * packages are the world's (`Simulator.securityFindings`, as the gate's test VM answers; default an
 * Ubuntu 22.04 image), so the gate and the log agree, as on one image. See FIDELITY.md.
 */
const INVENTORY_HEADER = /^# image-factory: inventory v1\b/;

function inventoryLogLines(sim: Simulator, customize: unknown, runId: string): string[] {
  const customizer = (Array.isArray(customize) ? customize.filter(isObject) : []).find(
    (c) => Array.isArray(c.inline) && INVENTORY_HEADER.test(String(c.inline[0])),
  );
  if (customizer === undefined) return [];
  const shell = str(customizer.type) === 'PowerShell' ? 'PowerShell' : 'Shell';
  const findings = sim.securityFindings?.(shell) ?? defaultFindings(shell);
  const distro = shell === 'Shell' ? (findings.distro === undefined ? UBUNTU_2204 : findings.distro) : null;
  const out = [`ifinv:begin`];
  if (distro) out.push(`ifinv:O\t${distro.vendor}\t${distro.codename}\t${distro.arch}`);
  findings.packages.forEach(([name, version, arch], i) =>
    out.push(
      `ifinv:P\t${i + 1}\t${name}\t${version}${shell === 'Shell' ? `\t${arch ?? distro?.arch ?? ''}` : ''}`,
    ),
  );
  out.push(`ifinv:end\t${findings.packages.length}`);
  return [
    `[${runId}] PACKER OUT ==> azure-arm: Provisioning with shell script / customizer '${str(customizer.name) ?? ''}'`,
    ...out.map((line) => `[${runId}] PACKER OUT     azure-arm: ${line}`),
  ];
}
