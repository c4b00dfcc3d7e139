/**
 * The Action Run Command on a VM (POST …/runCommand) and the script "execution" shared with the
 * managed Run Command resource (runcommands.ts): output limits and the exit-code wrapper.
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { str } from '../util';
import { DEFAULT_SCRIPT_DURATION_MS } from '../lro';
import { vmReadyAt } from './vm';
import { idOf } from './common';
import { defaultFindings, GATE_HEADER, gateReport } from './security-gate-vm';

/** Action Run Command keeps only the last 4,096 bytes of each stream (Azure's documented limit). */
export const RUN_COMMAND_OUTPUT_LIMIT = 4096;

export function lastBytes(text: string, limit = RUN_COMMAND_OUTPUT_LIMIT): string {
  const buf = Buffer.from(text, 'utf8');
  return buf.length <= limit ? text : buf.subarray(buf.length - limit).toString('utf8');
}

/** First line of Image Factory's exit-code wrapper (src/adapters/runCommandScript.ts). */
const WRAPPER_HEADER = /^# image-factory: exit-code marker wrapper v1\b/;

/**
 * The simulated VM does not execute scripts: `scriptRunCommand` decides what the user's script does.
 * When the script is Image Factory's exit-code wrapper, the VM "runs" the wrapper around it the way
 * sh/PowerShell would: the user's script sees its own text, the wrapper appends `##exitcode=N` to
 * stdout and always exits 0.
 */
function unwrap(shell: 'Shell' | 'PowerShell', script: string): { inner: string; wrapped: boolean } {
  const lines = script.split('\n');
  if (!WRAPPER_HEADER.test(lines[0] ?? '')) return { inner: script, wrapped: false };
  if (shell === 'Shell') {
    const close = lines.lastIndexOf(')');
    if (lines[1] !== '(' || lines[2] !== ':' || close < 3) return { inner: script, wrapped: false };
    return { inner: lines.slice(3, close).join('\n'), wrapped: true };
  }
  const b64 = /FromBase64String\('([A-Za-z0-9+/=]*)'\)/.exec(script)?.[1];
  if (b64 === undefined) return { inner: script, wrapped: false };
  return { inner: Buffer.from(b64, 'base64').toString('utf8'), wrapped: true };
}

export function runCommand(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req).split('/').slice(0, -1).join('/');
  sim.authorize(req.claims, 'Microsoft.Compute/virtualMachines/runCommand/action', id);
  const vm = sim.getResource(id);
  if (!vm) throw sim.notFound(req.segments, 'Microsoft.Compute/virtualMachines', req.segments[7] ?? '');
  if (sim.clock.now() < vmReadyAt(sim, vm) || vm.internal.deleting) {
    throw new ArmError(
      409,
      'OperationNotAllowed',
      `Operation 'RunCommand' is not allowed on VM '${vm.name}' since the VM is not running (provisioning state is not Succeeded).`,
    );
  }
  const body = sim.parseBody(req);
  const commandId = str(body.commandId) ?? '';
  if (commandId !== 'RunShellScript' && commandId !== 'RunPowerShellScript')
    // The Run Command doc's answer to a command id that is not available ("Restrictions"); the
    // status and code are not documented, Compute uses 404 NotFound for "entity not found".
    throw new ArmError(404, 'NotFound', 'The entity was not found in this Azure location.');
  const script = (Array.isArray(body.script) ? body.script : []).map(String).join('\n');
  const shell = commandId === 'RunShellScript' ? 'Shell' : 'PowerShell';
  const { out, durationMs } = executeScript(sim, vm, shell, script);
  const stdout = lastBytes(out.stdout);
  const stderr = lastBytes(out.stderr);
  // Linux (RunCommandLinux): one status whose message holds both streams; a non-zero exit of the
  // script is stated in it. Windows (RunCommandWindows): two statuses, StdOut and StdErr, both
  // "succeeded" whatever the script's exit code (Azure reports no exit code for RunPowerShellScript).
  const result =
    shell === 'Shell'
      ? {
          value: [
            {
              code: 'ProvisioningState/succeeded',
              level: 'Info',
              displayStatus: 'Provisioning succeeded',
              message: `${out.exitCode === 0 ? 'Enable succeeded: ' : `Enable failed: failed to execute command: command terminated with exit status=${out.exitCode}`}\n[stdout]\n${stdout}\n[stderr]\n${stderr}\n`,
            },
          ],
        }
      : {
          value: [
            {
              code: 'ComponentStatus/StdOut/succeeded',
              level: 'Info',
              displayStatus: 'Provisioning succeeded',
              message: stdout,
            },
            {
              code: 'ComponentStatus/StdErr/succeeded',
              level: 'Info',
              displayStatus: 'Provisioning succeeded',
              message: stderr,
            },
          ],
        };
  // The action's operation lasts as long as the script runs.
  const headers = sim.beginOperation({
    subscriptionId: vm.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: vm.location,
    kind: 'vmRunCommand',
    location202: true,
    apiVersion: req.apiVersion,
    endsAt: sim.clock.now() + durationMs,
    outcome: { result },
  });
  return { status: 202, headers };
}

/**
 * What the simulated VM's script produces (decided by `scriptRunCommand`) and how long it runs; the
 * exit-code wrapper is "run" around the user's script as sh/PowerShell would.
 */
export function executeScript(
  sim: Simulator,
  vm: SimResource,
  shell: 'Shell' | 'PowerShell',
  script: string,
): { out: { exitCode: number; stdout: string; stderr: string }; durationMs: number } {
  const { inner, wrapped } = unwrap(shell, script);
  const user = GATE_HEADER.test(inner.split('\n')[0] ?? '')
    ? {
        exitCode: 0,
        stdout: gateReport(shell, sim.securityFindings?.(shell) ?? defaultFindings(shell)),
        stderr: '',
      }
    : sim.runCommandScript
      ? sim.runCommandScript({
          vmId: vm.id,
          imageVersionId: str(vm.internal.imageId) ?? '',
          shell,
          script: inner,
        })
      : { exitCode: 0, stdout: '', stderr: '' };
  const durationMs = user.durationMs ?? DEFAULT_SCRIPT_DURATION_MS;
  // What the process run by the extension produced: the wrapper prints the marker and exits 0.
  const out = wrapped
    ? {
        exitCode: 0,
        stdout:
          shell === 'Shell'
            ? `${user.stdout}\n##exitcode=${user.exitCode}\n` // printf '\n##exitcode=%s\n'
            : `${user.stdout}${user.stdout === '' || user.stdout.endsWith('\n') ? '' : '\n'}##exitcode=${user.exitCode}\n`,
        stderr: user.stderr,
      }
    : { exitCode: user.exitCode, stdout: user.stdout, stderr: user.stderr };
  return { out, durationMs };
}
