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
    if (existing !== undefined) return;
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
    // Tags on a VM do not reach its implicit OS disk: tag it so leak checks find it.
    const diskId = vm.storageProfile?.osDisk?.managedDisk?.id;
    const diskName =
      diskId === undefined ? osDiskName(spec.name) : (diskId.split('/').pop() ?? osDiskName(spec.name));
    try {
      await this.clients
        .compute(spec.subscriptionId)
        .disks.update(spec.resourceGroup, diskName, { tags: spec.tags }, this.poll);
    } catch (error) {
      // Best effort: the tag only helps leak checks; deleteVm removes the disk by name anyway.
      const classified = classifyAzureError(error, this.context('tag test VM OS disk', diskId ?? diskName));
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
    // own: Linux states it in the message ("exit status=N"); Windows is inferred from stderr.
    const result = await azureCall(context, () =>
      this.clients.compute(ref.subscriptionId).virtualMachines.runCommand(
        ref.resourceGroup,
        ref.name,
        {
          commandId: command.shell === 'Shell' ? 'RunShellScript' : 'RunPowerShellScript',
          script: command.script.split('\n'),
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

/** Turns the Run Command statuses into exit code, stdout and stderr. */
export function parseRunCommandResult(statuses: { code?: string; message?: string }[]): RunCommandResult {
  const stdOut = statuses.find((s) => s.code?.startsWith('ComponentStatus/StdOut'));
  const stdErr = statuses.find((s) => s.code?.startsWith('ComponentStatus/StdErr'));
  if (stdOut !== undefined || stdErr !== undefined) {
    const stderr = stdErr?.message ?? '';
    return { exitCode: stderr.trim() === '' ? 0 : 1, stdout: stdOut?.message ?? '', stderr };
  }
  const message = statuses.map((s) => s.message ?? '').join('\n');
  const stdout = /\[stdout\]\n([\s\S]*?)\n\[stderr\]/.exec(message)?.[1] ?? '';
  const stderr = /\[stderr\]\n([\s\S]*?)\n?$/.exec(message)?.[1] ?? '';
  const exit = /exit status=(\d+)/.exec(message)?.[1];
  return {
    exitCode: exit !== undefined ? Number(exit) : /Enable succeeded/.test(message) ? 0 : 1,
    stdout,
    stderr,
  };
}
