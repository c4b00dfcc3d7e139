/**
 * TestVmPort: NIC (@azure/arm-network) + VM from a gallery image version (@azure/arm-compute,
 * flattened models). The admin credential is generated here and thrown away: Linux gets a fresh SSH
 * public key (private key discarded, password login disabled), Windows a random password. Neither is
 * returned, logged or kept.
 */
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import type { VirtualMachine } from '@azure/arm-compute';
import type {
  ResourceGroupRef,
  RunCommandProgress,
  RunCommandResult,
  TestVmPort,
  TestVmState,
  TestVmSpec,
  VmRef,
} from '../ports/azure';
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
      // Called again once the VM is Succeeded: tag its OS disk (the disk id appears only on the
      // final GET). While it is still being created there is nothing to do: never PUT twice.
      if (existing.provisioningState === 'Succeeded') await this.tagOsDisk(spec, existing.osDiskId);
      return;
    }
    const network = this.clients.network(spec.subscriptionId);
    // NIC create is synchronous in Azure (201, no operation headers).
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
    // VM create takes ~2 min in Azure (Retry-After 10–30 s): return once ARM accepted the PUT; the
    // orchestration reads the VM until it is Succeeded, then calls createVm again to tag the disk.
    await azureCall(this.context('create test VM', id), async () => {
      await this.clients
        .compute(spec.subscriptionId)
        .virtualMachines.createOrUpdate(spec.resourceGroup, spec.name, body, this.poll)
        .submitted();
    });
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
      await disks
        .update(spec.resourceGroup, diskName, { tags: { ...current, ...spec.tags } }, this.poll)
        .submitted();
    } catch (error) {
      const classified = classifyAzureError(error, context);
      this.clients.runtime.log(`could not tag OS disk ${diskName}: ${classified.code}`);
    }
  }

  async getVm(ref: VmRef): Promise<TestVmState | undefined> {
    const context = this.context('read test VM', vmId(ref));
    const compute = this.clients.compute(ref.subscriptionId);
    const vm = await orUndefined(context, () => compute.virtualMachines.get(ref.resourceGroup, ref.name));
    if (vm === undefined) return undefined;
    const osDiskId = vm.storageProfile?.osDisk?.managedDisk?.id;
    // A failed create says why only in the instance view (ProvisioningState/failed/<code>).
    const failure =
      vm.provisioningState === 'Failed'
        ? (
            await orUndefined(context, () =>
              compute.virtualMachines.get(ref.resourceGroup, ref.name, { expand: 'instanceView' }),
            )
          )?.instanceView?.statuses?.find((st) => st.code?.startsWith('ProvisioningState/failed') === true)
        : undefined;
    return {
      ...(failure === undefined
        ? {}
        : {
            failure: {
              code: failure.code?.split('/')[2] ?? 'ProvisioningFailed',
              message: failure.message ?? failure.displayStatus ?? '',
            },
          }),
      provisioningState: vm.provisioningState ?? 'Unknown',
      nicIds: (vm.networkProfile?.networkInterfaces ?? [])
        .map((nic) => nic.id ?? '')
        .filter((nicId) => nicId !== ''),
      ...(osDiskId === undefined ? {} : { osDiskId }),
    };
  }

  /**
   * Starts the script as a managed Run Command (`virtualMachines/{vm}/runCommands/{name}`) with
   * `asyncExecution: true` and `timeoutInSeconds`: ARM's operation ends once the script has started,
   * so this returns in seconds however long the script runs; getRunCommand reads its instance view.
   * Safe to call twice: an existing run command of that name is never PUT again (a PUT re-runs it).
   */
  async startRunCommand(
    ref: VmRef,
    command: { name: string; shell: 'Shell' | 'PowerShell'; script: string; timeoutSeconds: number },
  ): Promise<void> {
    const id = vmId(ref);
    const context = this.context('run command on test VM', `${id}/runCommands/${command.name}`);
    const compute = this.clients.compute(ref.subscriptionId);
    const vm = await orUndefined(context, () => compute.virtualMachines.get(ref.resourceGroup, ref.name));
    if (vm === undefined)
      throw new FactoryError('NotFound', `Cannot run a command: test VM ${id} does not exist`, {
        retryable: false,
        details: { resource: id },
      });
    const existing = await orUndefined(context, () =>
      compute.virtualMachineRunCommands.getByVirtualMachine(ref.resourceGroup, ref.name, command.name),
    );
    if (existing !== undefined) return;
    // Managed Run Command reports an exit code, but the wrapper's marker also survives a script
    // that ends the shell itself (runCommandScript.ts); the marker wins when present.
    await azureCall(context, async () => {
      await compute.virtualMachineRunCommands
        .createOrUpdate(
          ref.resourceGroup,
          ref.name,
          command.name,
          {
            location: vm.location,
            source: { script: wrapScript(command.shell, command.script).join('\n') },
            asyncExecution: true,
            timeoutInSeconds: command.timeoutSeconds,
            treatFailureAsDeploymentFailure: false,
          },
          this.poll,
        )
        .submitted();
    });
  }

  async getRunCommand(ref: VmRef, name: string): Promise<RunCommandProgress | undefined> {
    const context = this.context('read run command on test VM', `${vmId(ref)}/runCommands/${name}`);
    const runCommand = await orUndefined(context, () =>
      this.clients
        .compute(ref.subscriptionId)
        .virtualMachineRunCommands.getByVirtualMachine(ref.resourceGroup, ref.name, name, {
          expand: 'instanceView',
        }),
    );
    if (runCommand === undefined) return undefined;
    const view = runCommand.instanceView;
    const state = (view?.executionState ?? 'Unknown') as RunCommandProgress['state'];
    if (state === 'Pending' || state === 'Running' || state === 'Unknown') return { state };
    const marked = takeExitMarker(view?.output ?? '');
    return {
      state,
      result: {
        exitCode: marked.exitCode ?? view?.exitCode ?? UNKNOWN_EXIT_CODE,
        stdout: marked.stdout,
        stderr: view?.error ?? '',
      },
      ...(view?.executionMessage ? { message: view.executionMessage } : {}),
    };
  }

  /**
   * Starts deleting the VM, then (once it is gone) its NICs and OS disk; returns what still exists.
   * Each call starts only what is not being deleted yet, so it is called again until nothing is
   * left (VM delete ~1 min, NIC delete Retry-After 10 s in Azure: no call awaits them).
   */
  async deleteVm(ref: VmRef): Promise<{ remaining: string[] }> {
    const compute = this.clients.compute(ref.subscriptionId);
    const network = this.clients.network(ref.subscriptionId);
    const current = await this.getVm(ref);
    const remaining: string[] = [];
    if (current !== undefined) {
      remaining.push(vmId(ref));
      if (current.provisioningState !== 'Deleting')
        await this.ignoreNotFound(this.context('delete test VM', vmId(ref)), async () => {
          await compute.virtualMachines.delete(ref.resourceGroup, ref.name, this.poll).submitted();
        });
      // NIC and disk are in use until the VM is gone (Azure deletes them with it: deleteOption).
      return { remaining };
    }
    // NICs and disk may survive (older VMs, deleteOption Detach, a crash between steps).
    for (const name of [nicName(ref.name)]) {
      const context = this.context('delete test VM network interface', `${ref.resourceGroup}/${name}`);
      const nic = await orUndefined(context, () => network.networkInterfaces.get(ref.resourceGroup, name));
      if (nic === undefined) continue;
      remaining.push(nic.id ?? name);
      if (nic.provisioningState !== 'Deleting')
        await this.ignoreNotFound(context, () =>
          network.networkInterfaces.beginDelete(ref.resourceGroup, name),
        );
    }
    for (const name of [osDiskName(ref.name)]) {
      const context = this.context('delete test VM OS disk', `${ref.resourceGroup}/${name}`);
      const disk = await orUndefined(context, () => compute.disks.get(ref.resourceGroup, name));
      if (disk === undefined) continue;
      remaining.push(disk.id ?? name);
      if (disk.provisioningState !== 'Deleting')
        await this.ignoreNotFound(context, async () => {
          await compute.disks.delete(ref.resourceGroup, name, this.poll).submitted();
        });
    }
    return { remaining };
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
