/**
 * TestVmPort: NIC (@azure/arm-network) + VM from a gallery image version (@azure/arm-compute,
 * flattened models). The admin credential is generated here and thrown away: Linux gets a fresh SSH
 * public key (private key discarded, password login disabled), Windows a random password. Neither is
 * returned, logged or kept.
 */
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import type { VirtualMachine } from '@azure/arm-compute';
import type { ResourceGroupRef, RunCommandResult, TestVmPort, TestVmSpec, VmRef } from '../ports/azure';
import { FactoryError } from '../shared/errors';
import type { ClientFactory } from './clients';
import { azureCall, classifyAzureError, orUndefined, type ErrorContext } from './errors';
import { takeExitMarker, wrapScript } from './runCommandScript';

const ADMIN_USER = 'factoryadmin';

export function vmId(ref: VmRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${ref.name}`;
}
export const nicName = (vm: string): string => `${vm}-nic`;
export const osDiskName = (vm: string): string => `${vm}-osdisk`;

/** OpenSSH "ssh-rsa AAAA…" public key from a fresh RSA key pair; the private key is dropped. */
function throwawaySshPublicKey(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const jwk = publicKey.export({ format: 'jwk' });
  const part = (buffer: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(buffer.length);
    return Buffer.concat([length, buffer]);
  };
  const mpint = (b64url: string | undefined): Buffer => {
    const raw = Buffer.from(b64url ?? '', 'base64url');
    return part((raw[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
  };
  const blob = Buffer.concat([part(Buffer.from('ssh-rsa')), mpint(jwk.e), mpint(jwk.n)]);
  return `ssh-rsa ${blob.toString('base64')} image-factory-throwaway`;
}

/** 32 chars with upper, lower, digit and symbol (Azure's complexity rule); never stored. */
function throwawayPassword(): string {
  const sets = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!@#%^*-_=+'];
  const chars = sets.map((set) => set[randomInt(set.length)] ?? 'x');
  const all = sets.join('');
  for (const byte of randomBytes(28)) chars.push(all[byte % all.length] ?? 'x');
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] ?? 'x', chars[i] ?? 'x'];
  }
  return chars.join('');
}

function computerName(name: string, osType: 'Linux' | 'Windows'): string {
  const clean = name.replace(/[^A-Za-z0-9-]/g, '');
  return osType === 'Windows'
    ? clean.slice(0, 15).replace(/-+$/, '') || 'factoryvm'
    : clean.slice(0, 63) || 'factoryvm';
}

export class TestVmAdapter implements TestVmPort {
  constructor(private readonly clients: ClientFactory) {}

  private context(operation: string, resource: string): ErrorContext {
    return {
      operation,
      resource,
      principal: this.clients.runtime.store.principal(this.clients.credentialName),
    };
  }

  private get poll(): { updateIntervalInMs: number } {
    return { updateIntervalInMs: this.clients.runtime.updateIntervalInMs };
  }

  async createVm(spec: TestVmSpec): Promise<void> {
    const id = vmId(spec);
    const existing = await this.getVm(spec);
    if (existing !== undefined) {
      // A crash between VM create and disk tag leaves the disk untagged: finish that step.
      await this.tagOsDisk(spec, existing.osDiskId);
      return;
    }
    const network = this.clients.network(spec.subscriptionId);
    const nic = await azureCall(
      this.context('create network interface', `${spec.resourceGroup}/${nicName(spec.name)}`),
      () =>
        network.networkInterfaces.beginCreateOrUpdateAndWait(
          spec.resourceGroup,
          nicName(spec.name),
          {
            location: spec.location,
            tags: spec.tags,
            ipConfigurations: [
              { name: 'ipconfig1', subnet: { id: spec.subnetId }, privateIPAllocationMethod: 'Dynamic' },
            ],
          },
          this.poll,
        ),
    );
    const osProfile: VirtualMachine['osProfile'] =
      spec.osType === 'Linux'
        ? {
            computerName: computerName(spec.name, 'Linux'),
            adminUsername: ADMIN_USER,
            linuxConfiguration: {
              disablePasswordAuthentication: true,
              ssh: {
                publicKeys: [
                  { path: `/home/${ADMIN_USER}/.ssh/authorized_keys`, keyData: throwawaySshPublicKey() },
                ],
              },
            },
          }
        : {
            computerName: computerName(spec.name, 'Windows'),
            adminUsername: ADMIN_USER,
            adminPassword: throwawayPassword(),
          };
    const body: VirtualMachine = {
      location: spec.location,
      tags: spec.tags,
      hardwareProfile: { vmSize: spec.vmSize },
      storageProfile: {
        imageReference: { id: spec.imageVersionId },
        osDisk: {
          name: osDiskName(spec.name),
          createOption: 'FromImage',
          deleteOption: 'Delete',
          managedDisk: { storageAccountType: 'StandardSSD_LRS' },
        },
      },
      osProfile,
      networkProfile: { networkInterfaces: [{ id: nic.id ?? '', primary: true, deleteOption: 'Delete' }] },
      ...(spec.securityType === 'TrustedLaunch'
        ? {
            securityProfile: {
              securityType: 'TrustedLaunch',
              uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
            },
          }
        : {}),
    };
    const vm = await azureCall(this.context('create test VM', id), () =>
      this.clients
        .compute(spec.subscriptionId)
        .virtualMachines.createOrUpdate(spec.resourceGroup, spec.name, body, this.poll),
    );
    await this.tagOsDisk(spec, vm.storageProfile?.osDisk?.managedDisk?.id);
  }

  /**
   * Tags on a VM do not reach its implicit OS disk: tag it (merged, only when missing) so leak checks
   * by tag find VM, NIC and disk. Best effort: deleteVm removes the disk by name anyway.
   */
  private async tagOsDisk(spec: TestVmSpec, diskId: string | undefined): Promise<void> {
    const diskName =
      diskId === undefined ? osDiskName(spec.name) : (diskId.split('/').pop() ?? osDiskName(spec.name));
    const disks = this.clients.compute(spec.subscriptionId).disks;
    const context = this.context('tag test VM OS disk', diskId ?? diskName);
    try {
      const disk = await orUndefined(context, () => disks.get(spec.resourceGroup, diskName));
      if (disk === undefined) return;
      const current = disk.tags ?? {};
      if (Object.entries(spec.tags).every(([k, v]) => current[k] === v)) return;
      await disks.update(spec.resourceGroup, diskName, { tags: { ...current, ...spec.tags } }, this.poll);
    } catch (error) {
      const classified = classifyAzureError(error, context);
      this.clients.runtime.log(`could not tag OS disk ${diskName}: ${classified.code}`);
    }
  }

  async getVm(
    ref: VmRef,
  ): Promise<{ provisioningState: string; nicIds: string[]; osDiskId?: string } | undefined> {
    const vm = await orUndefined(this.context('read test VM', vmId(ref)), () =>
      this.clients.compute(ref.subscriptionId).virtualMachines.get(ref.resourceGroup, ref.name),
    );
    if (vm === undefined) return undefined;
    const osDiskId = vm.storageProfile?.osDisk?.managedDisk?.id;
    return {
      provisioningState: vm.provisioningState ?? 'Unknown',
      nicIds: (vm.networkProfile?.networkInterfaces ?? [])
        .map((nic) => nic.id ?? '')
        .filter((nicId) => nicId !== ''),
      ...(osDiskId === undefined ? {} : { osDiskId }),
    };
  }

  async runCommand(
    ref: VmRef,
    command: { shell: 'Shell' | 'PowerShell'; script: string; timeoutSeconds: number },
  ): Promise<RunCommandResult> {
    const id = vmId(ref);
    const context = this.context('run command on test VM', id);
    const vm = await orUndefined(context, () =>
      this.clients.compute(ref.subscriptionId).virtualMachines.get(ref.resourceGroup, ref.name),
    );
    if (vm === undefined)
      throw new FactoryError('NotFound', `Cannot run a command: test VM ${id} does not exist`, {
        retryable: false,
        details: { resource: id },
      });
    // VM Run Command (action): what `az vm run-command invoke` uses. It reports no exit code of its
    // own (Windows never, Linux not reliably), so the script is wrapped to print one (runCommandScript.ts).
    const result = await azureCall(context, () =>
      this.clients.compute(ref.subscriptionId).virtualMachines.runCommand(
        ref.resourceGroup,
        ref.name,
        {
          commandId: command.shell === 'Shell' ? 'RunShellScript' : 'RunPowerShellScript',
          script: wrapScript(command.shell, command.script),
        },
        this.poll,
      ),
    );
    return parseRunCommandResult(result.value ?? []);
  }

  async deleteVm(ref: VmRef): Promise<void> {
    const compute = this.clients.compute(ref.subscriptionId);
    const network = this.clients.network(ref.subscriptionId);
    const current = await this.getVm(ref);
    if (current !== undefined) {
      await this.ignoreNotFound(this.context('delete test VM', vmId(ref)), () =>
        compute.virtualMachines.delete(ref.resourceGroup, ref.name, this.poll),
      );
    }
    // NICs and disk may survive (older VMs, a crash between steps): delete them by id and by our names.
    const nicNames = new Set(
      [nicName(ref.name), ...(current?.nicIds ?? []).map((nicId) => nicId.split('/').pop() ?? '')].filter(
        (n) => n !== '',
      ),
    );
    for (const name of nicNames) {
      await this.ignoreNotFound(
        this.context('delete test VM network interface', `${ref.resourceGroup}/${name}`),
        () => network.networkInterfaces.beginDeleteAndWait(ref.resourceGroup, name, this.poll),
      );
    }
    const diskNames = new Set(
      [
        osDiskName(ref.name),
        ...(current?.osDiskId === undefined ? [] : [current.osDiskId.split('/').pop() ?? '']),
      ].filter((n) => n !== ''),
    );
    for (const name of diskNames) {
      await this.ignoreNotFound(this.context('delete test VM OS disk', `${ref.resourceGroup}/${name}`), () =>
        compute.disks.delete(ref.resourceGroup, name, this.poll),
      );
    }
  }

  private async ignoreNotFound(context: ErrorContext, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      const classified = classifyAzureError(error, context);
      if (classified.code !== 'NotFound') throw classified;
    }
  }

  async listTaggedResources(scope: ResourceGroupRef, tagName: string, tagValue: string): Promise<string[]> {
    const context = this.context(
      `list resources tagged ${tagName}=${tagValue}`,
      `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup}`,
    );
    return azureCall(context, async () => {
      const ids: string[] = [];
      const filter = `tagName eq '${tagName.replace(/'/g, "''")}' and tagValue eq '${tagValue.replace(/'/g, "''")}'`;
      for await (const resource of this.clients
        .resources(scope.subscriptionId)
        .resources.listByResourceGroup(scope.resourceGroup, { filter })) {
        if (resource.id !== undefined && resource.tags?.[tagName] === tagValue) ids.push(resource.id);
      }
      return ids.sort();
    });
  }
}

/** Exit code reported when the wrapper's marker is missing and Azure stated none (e.g. the script was killed). */
export const UNKNOWN_EXIT_CODE = -1;

/**
 * Turns the Run Command statuses into exit code, stdout and stderr. The exit code comes from the
 * wrapper's `##exitcode=N` marker (see runCommandScript.ts); without it, from Linux's "exit status=N";
 * otherwise it is unknown (UNKNOWN_EXIT_CODE), never guessed from stderr.
 */
export function parseRunCommandResult(statuses: { code?: string; message?: string }[]): RunCommandResult {
  const stdOut = statuses.find((s) => s.code?.startsWith('ComponentStatus/StdOut'));
  const stdErr = statuses.find((s) => s.code?.startsWith('ComponentStatus/StdErr'));
  let stdout: string;
  let stderr: string;
  let stated: number | undefined;
  if (stdOut !== undefined || stdErr !== undefined) {
    stdout = stdOut?.message ?? '';
    stderr = stdErr?.message ?? '';
  } else {
    const message = statuses.map((s) => s.message ?? '').join('\n');
    stdout = /\[stdout\]\n([\s\S]*?)\n\[stderr\]/.exec(message)?.[1] ?? '';
    stderr = /\[stderr\]\n([\s\S]*?)\n?$/.exec(message)?.[1] ?? '';
    const exit = /exit status=(\d+)/.exec(message)?.[1];
    stated = exit === undefined ? undefined : Number(exit);
  }
  const marked = takeExitMarker(stdout);
  return {
    exitCode: marked.exitCode ?? stated ?? UNKNOWN_EXIT_CODE,
    stdout: marked.stdout,
    stderr,
  };
}
