/**
 * The cheap path through every access entry of infra/access.json: a simulated world whose access is
 * (re)deployed from a given description, and each port call (and preflight) a pipeline makes, once,
 * through the real adapters and SDK clients. `runProbes` stops at the first step that fails and
 * names it, so the mutation test can show which step notices a removed entry. Every run uses its
 * own names (template, image definition, VM), so nothing one run left behind lets the next skip a
 * call ("no-op when it exists").
 */
import { loadConfig } from '../../src/config';
import { createAzurePorts } from '../../src/adapters';
import { runPreflight } from '../../src/activities/preflight';
import { loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
import { startAzureSimulator, createStandardWorld, type AzureSimulator } from '../../src/local/azure-sim';
import type { AccessDescription } from '../../src/local/azure-sim/access';
import { redeployAccess, type StandardWorld } from '../../src/local/azure-sim/world';
import type { AzurePorts } from '../../src/ports/azure';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { pipelineSettingsForWorld, settingsForWorld } from '../../src/local/world-settings';
import type { ImageTemplateSpec, ImageVersionSpec } from '../../src/ports/azure';
import { VirtualClock } from '../../src/shared/clock';
import { NotificationsAdapter } from '../../src/adapters/notifications';
import { buildCloudEvent } from '../../src/domain/notifications/events';
import type { NotificationsPort } from '../../src/ports/notifications';

const PIPELINE = 'ubuntu-2204-base';
const MINUTE = 60_000;

export interface ProbeResult {
  /** The first step that failed, or undefined when every step passed. */
  failedStep?: string;
  error?: string;
}

export interface ProbeWorld {
  sim: AzureSimulator;
  world: StandardWorld;
  clock: VirtualClock;
  azure: AzurePorts;
  notifications: NotificationsPort;
  pipeline: PipelineDefinition;
  runs: number;
}

export async function startProbeWorld(caFile: string): Promise<ProbeWorld> {
  const clock = new VirtualClock(Date.UTC(2026, 10, 10, 6, 0, 0));
  const sim = await startAzureSimulator({
    clock,
    seed: 7,
    durations: { buildMs: 10 * MINUTE, replicationPerRegionMs: MINUTE, vmCreateMs: MINUTE },
  });
  const world = createStandardWorld(sim);
  const env: Record<string, string> = {
    TASK_HUB_NAME: 'AccessProbes',
    ...settingsForWorld(sim, world, { caFile }),
    ...pipelineSettingsForWorld(world),
  };
  // ManagedIdentityCredential reads these from the process environment (jest isolates it per file).
  process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
  const azure = createAzurePorts(loadConfig(env), { env, log: () => undefined, updateIntervalInMs: 1 });
  const pipeline = loadPipelinesOrThrow('pipelines', env).get(PIPELINE);
  if (pipeline === undefined) throw new Error(`pipelines/${PIPELINE}.yaml is missing`);
  const notifications = new NotificationsAdapter(loadConfig(env), { env });
  return { sim, world, clock, azure, notifications, pipeline, runs: 0 };
}

/** Deploys `access` into the probe world (replacing what was there) and runs the cheap path. */
export async function runProbes(probe: ProbeWorld, access: AccessDescription): Promise<ProbeResult> {
  const { sim, world, clock, azure, pipeline } = probe;
  redeployAccess(sim, world, access);
  const n = (probe.runs += 1);
  const IMAGE = `probe-${n}`;
  let step = 'start';
  try {
    const { eng, test, prod } = world;
    const templates = { subscriptionId: eng.subscriptionId, resourceGroup: world.templateResourceGroup };
    const run = async (name: string, fn: () => Promise<unknown>) => {
      step = name;
      await fn();
    };

    // Preflight of the sample pipeline, with the build on infra's build subnet.
    const withSubnet = {
      ...pipeline,
      build: { ...pipeline.build, subnetId: world.buildNetwork.goodSubnetId },
    };
    await run('preflight', async () => {
      const result = await runPreflight(azure, { buildId: 'probe', definition: withSubnet });
      if (result.problems.length > 0) throw new Error(result.problems.map((p) => p.message).join('; '));
    });
    await run('publish a build event to the notifications topic', () =>
      probe.notifications.publish(
        buildCloudEvent({
          kind: 'started',
          buildId: `probe-${n}`,
          pipeline: pipeline.name,
          imageVersion: '1.0.0',
          occurredAt: new Date(clock.now()).toISOString(),
        }),
      ),
    );
    // The Functions host (not an adapter) calls the scheduler's data plane, which the simulator does
    // not model; what that plane judges is the factory identity's data actions on the task hub, so
    // the step reads them through ARM's role assignments, as preflight reads grants.
    await run('durable host: the factory may use the Durable Task Scheduler task hub', async () => {
      const grants = await azure
        .access('eng')
        .listRoleGrants(world.factoryIdentity.principalId, world.durableTaskScheduler.taskHubId);
      if (!grants.some((g) => g.roleName === 'Durable Task Data Contributor'))
        throw new Error('no Durable Task Data Contributor on the scheduler or task hub');
    });
    await run('claimBuildSlot: list the template group', () =>
      azure.testVms('eng').listTaggedResources(templates, 'image-factory-slot', 'x'),
    );
    await run('platform image versions', () =>
      azure.platformImages('eng').listVersions({
        subscriptionId: eng.subscriptionId,
        location: eng.location,
        ...world.platformImages.ubuntu,
      }),
    );
    await run('read the build subnet', async () => {
      if ((await azure.network('eng').getSubnet(world.buildNetwork.goodSubnetId)) === undefined)
        throw new Error('build subnet not found');
    });
    await run('read a managed image source', async () => {
      if ((await azure.access('eng').getResource(world.managedImageId)) === undefined)
        throw new Error('managed image not found');
    });
    for (const [profile, t] of [
      ['eng', eng],
      ['test', test],
      ['prod', prod],
    ] as const) {
      const definition = {
        subscriptionId: t.subscriptionId,
        resourceGroup: t.galleryResourceGroup,
        gallery: t.galleryName,
        image: IMAGE,
      };
      await run(`${profile}: ensure the image definition`, () =>
        azure.galleries(profile).ensureImageDefinition({
          ...definition,
          location: t.location,
          osType: 'Linux',
          osState: 'Generalized',
          hyperVGeneration: 'V2',
          securityType: 'TrustedLaunch',
          identifier: pipeline.image.identifier,
        }),
      );
      await run(`${profile}: read the image definition`, () =>
        azure.galleries(profile).getImageDefinition(definition),
      );
      await run(`${profile}: list versions`, () => azure.galleries(profile).listVersions(definition));
    }

    // Image Builder: a build on the build subnet that distributes to the ENG gallery.
    const builder = azure.imageBuilder('eng');
    const u = world.platformImages.ubuntu;
    const versionId = `${eng.galleryId}/images/${IMAGE}/versions/1.0.0`;
    const spec = (name: string): ImageTemplateSpec => ({
      ...templates,
      name,
      location: eng.location,
      buildIdentityId: world.buildIdentity.id,
      vmSize: 'Standard_D2s_v5',
      osDiskSizeGB: 64,
      buildTimeoutInMinutes: 60,
      subnetId: world.buildNetwork.goodSubnetId,
      source: {
        type: 'PlatformImage',
        publisher: u.publisher,
        offer: u.offer,
        sku: u.sku,
        version: 'latest',
      },
      customizers: [{ type: 'Shell', name: 'probe', inline: ['true'] }],
      distribute: {
        galleryImageVersionId: versionId,
        runOutputName: 'eng',
        targetRegions: [{ name: eng.location, replicaCount: 1, storageAccountType: 'Standard_LRS' }],
        excludeFromLatest: false,
      },
      tags: {},
    });
    const ref = { ...templates, name: `it-probe-${n}` };
    await run('create the image template', async () => {
      // Returns once ARM accepted it; Image Builder provisions it in ~30 s.
      await builder.createTemplate(spec(ref.name));
      clock.advanceBy(MINUTE);
      const status = await builder.templateProvisioning(ref);
      if (status?.provisioningState !== 'Succeeded')
        throw new Error(
          `template ${status?.provisioningState ?? 'missing'}: ${status?.provisioningError?.message ?? ''}`,
        );
    });
    await run('read the image template', () => builder.getTemplate(ref));
    await run('run the image template', () => builder.startRun(ref));
    await run('build and distribute', async () => {
      for (let i = 0; i < 10; i += 1) {
        clock.advanceBy(5 * MINUTE);
        const status = await builder.getTemplate(ref);
        if (status?.lastRun?.runState !== 'Running') break;
      }
      const status = await builder.getTemplate(ref);
      if (status?.lastRun?.runState !== 'Succeeded')
        throw new Error(`run ${status?.lastRun?.runState ?? '?'}: ${status?.lastRun?.message ?? ''}`);
    });
    await run('read the run output', async () => {
      if ((await builder.getRunOutput(ref, 'eng')) === undefined) throw new Error('no run output');
    });
    await run('read customization.log', async () => {
      if ((await builder.readCustomizationLog(ref, 5)) === undefined) throw new Error('log not readable');
    });
    const cancelRef = { ...templates, name: `it-probe-cancel-${n}` };
    await run('cancel a run', async () => {
      await builder.createTemplate(spec(cancelRef.name));
      clock.advanceBy(MINUTE);
      await builder.startRun(cancelRef);
      await builder.cancelRun(cancelRef);
      // Image Builder refuses to delete a template while its run is Canceling (simulator: 15 min).
      clock.advanceBy(20 * MINUTE);
    });
    await run('delete the image templates', async () => {
      await builder.deleteTemplate(ref);
      await builder.deleteTemplate(cancelRef);
      clock.advanceBy(2 * MINUTE); // a template delete takes ~77 s
    });

    // Versions: read and patch in ENG, copy ENG → TEST → PROD across tenants.
    const version = (t: typeof eng) => ({
      subscriptionId: t.subscriptionId,
      resourceGroup: t.galleryResourceGroup,
      gallery: t.galleryName,
      image: IMAGE,
      version: '1.0.0',
    });
    await run('eng: read and patch the version', async () => {
      if ((await azure.galleries('eng').getVersion(version(eng))) === undefined)
        throw new Error('no version');
      await azure.galleries('eng').updateVersion(version(eng), { tags: { probe: 'yes' } });
    });
    const copy = (t: typeof eng, sourceId: string): ImageVersionSpec => ({
      ...version(t),
      location: t.location,
      source: { kind: 'galleryImageVersion', id: sourceId },
      targetRegions: [{ name: t.location, replicaCount: 1, storageAccountType: 'Standard_LRS' }],
      excludeFromLatest: false,
      tags: {},
    });
    for (const [profile, t, from] of [
      ['test', test, eng],
      ['prod', prod, test],
    ] as const) {
      await run(`${profile}: copy the version from ${from === eng ? 'ENG' : 'TEST'}`, async () => {
        const source = `${from.galleryId}/images/${IMAGE}/versions/1.0.0`;
        await azure
          .galleries(profile, { auxiliaryTenantIds: [from.tenantId] })
          .beginCreateVersion(copy(t, source));
        clock.advanceBy(10 * MINUTE);
        const made = await azure.galleries(profile).getVersion(version(t));
        if (made?.provisioningState !== 'Succeeded')
          throw new Error(`copy ${made?.provisioningState ?? 'missing'}`);
      });
    }

    // Test VM from the ENG version in the test subnet.
    const vm = {
      subscriptionId: eng.subscriptionId,
      resourceGroup: world.testVm.resourceGroup,
      name: `vm-probe-${n}`,
    };
    const vmSpec = {
      ...vm,
      location: eng.location,
      imageVersionId: versionId,
      subnetId: world.testVm.subnetId,
      vmSize: 'Standard_D2s_v5',
      osType: 'Linux' as const,
      securityType: 'TrustedLaunch' as const,
      tags: { 'image-factory-run': `probe-${n}` },
    };
    await run('create the test VM', async () => {
      // Returns once ARM accepted it; the VM takes ~2 min. The call after that tags its OS disk.
      await azure.testVms('eng').createVm(vmSpec);
      clock.advanceBy(3 * MINUTE);
      if ((await azure.testVms('eng').getVm(vm))?.provisioningState !== 'Succeeded')
        throw new Error('VM not ready');
      await azure.testVms('eng').createVm(vmSpec);
    });
    // Retention: Resource Graph finds a tenant's VM and scale set (outside the test group) using the
    // version, in ENG and in each stage subscription; without read on them the answer would be empty.
    await run('retention: Resource Graph finds the VMs and scale sets using a version', async () => {
      for (const [profile, t] of [
        ['eng', eng],
        ['test', test],
        ['prod', prod],
      ] as const) {
        const used = `${t.galleryId}/images/${IMAGE}/versions/1.0.0`;
        const users = ['vm', 'scaleSet'].map((kind) =>
          sim.addImageConsumer({
            subscriptionId: t.subscriptionId,
            resourceGroup: 'rg-workloads',
            name: `${kind}-probe-${n}`,
            location: t.location,
            imageVersionId: used,
            kind: kind as 'vm' | 'scaleSet',
          }),
        );
        const found = await azure
          .imageUsage(profile)
          .usersOf({ subscriptionIds: [t.subscriptionId], versionIds: [used] });
        const seen = found.get(used.toLowerCase()) ?? [];
        const missing = users.filter((id) => !seen.includes(id));
        if (missing.length > 0) throw new Error(`${profile}: not found: ${missing.join(', ')}`);
      }
    });
    // The adapter tags the implicit OS disk (best effort, so only a leak check would notice).
    await run('the test VM, its NIC and its tagged OS disk are found by tag', async () => {
      const tagged = await azure
        .testVms('eng')
        .listTaggedResources(
          { subscriptionId: eng.subscriptionId, resourceGroup: world.testVm.resourceGroup },
          'image-factory-run',
          `probe-${n}`,
        );
      if (!tagged.some((id) => /\/disks\//i.test(id)))
        throw new Error(`OS disk not tagged: ${tagged.join(', ')}`);
    });
    await run('run a command on the test VM', async () => {
      const command = { name: `probe-${n}`, shell: 'Shell' as const, script: 'true', timeoutSeconds: 60 };
      await azure.testVms('eng').startRunCommand(vm, command);
      clock.advanceBy(2 * MINUTE);
      const progress = await azure.testVms('eng').getRunCommand(vm, command.name);
      if (progress?.state !== 'Succeeded') throw new Error(`run command ${progress?.state ?? 'missing'}`);
    });
    await run('delete the test VM', async () => {
      // Starts the VM's delete, then its NIC's and disk's once it is gone: call until nothing is left.
      for (let i = 0; i < 6 && (await azure.testVms('eng').deleteVm(vm)).remaining.length > 0; i++)
        clock.advanceBy(2 * MINUTE);
      const left = await azure
        .testVms('eng')
        .listTaggedResources(
          { subscriptionId: eng.subscriptionId, resourceGroup: world.testVm.resourceGroup },
          'image-factory-run',
          `probe-${n}`,
        );
      if (left.length > 0) throw new Error(`left behind: ${left.join(', ')}`);
    });
    // A VM create that fails leaves its NIC behind (the VM never got it): cleanup deletes it itself.
    await run('clean up the NIC of a failed VM create', async () => {
      const failed = { ...vm, name: `vm-probe-failed-${n}` };
      sim.failVmCreate({
        vmName: failed.name,
        code: 'AllocationFailed',
        message:
          'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.',
      });
      await azure.testVms('eng').createVm({ ...vmSpec, name: failed.name });
      clock.advanceBy(5 * MINUTE); // the create fails; the NIC's 180 s reservation passes
      let remaining: string[] = [];
      for (let i = 0; i < 6; i++) {
        remaining = (await azure.testVms('eng').deleteVm(failed)).remaining;
        if (remaining.length === 0) break;
        clock.advanceBy(2 * MINUTE);
      }
      if (remaining.length > 0) throw new Error(`left behind: ${remaining.join(', ')}`);
    });
    await run('delete the versions', async () => {
      for (const [profile, t] of [
        ['prod', prod],
        ['test', test],
        ['eng', eng],
      ] as const)
        await azure.galleries(profile).deleteVersion(version(t));
    });
    return {};
  } catch (error) {
    return { failedStep: step, error: error instanceof Error ? error.message : String(error) };
  }
}
