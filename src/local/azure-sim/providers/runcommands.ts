/**
 * Managed Run Command: `Microsoft.Compute/virtualMachines/runCommands` (PUT/GET/DELETE/list).
 *
 * Modelled from the REST spec (azure-rest-api-specs, Compute `virtualMachineRunCommands`, examples
 * VirtualMachineRunCommand_CreateOrUpdate.json / _Get.json: PUT answers 201 with
 * `provisioningState: Creating`, later reads `Succeeded`; `asyncExecution`, `timeoutInSeconds`,
 * `treatFailureAsDeploymentFailure` echoed) and the SDK model's documentation: with
 * `asyncExecution: true` "provisioning will complete as soon as the script starts and will not wait
 * for script to complete"; `$expand=instanceView` adds `instanceView` with `executionState`
 * (Pending, Running, Succeeded, Failed, TimedOut, …), `exitCode`, `output`, `error`, `startTime`,
 * `endTime`. The simulated VM runs nothing: `scriptRunCommand` decides output, exit code and how long
 * the script runs (executeScript in compute.ts); the output is cut to its last 4,096 bytes.
 */
import type { Route, Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { isObject, str } from '../util';
import { authorizeFor, idOf, mustGet } from './common';
import { vmReadyAt } from './vm';
import { executeScript, lastBytes } from './vm-run-command';

const TYPE = 'Microsoft.Compute/virtualMachines/runCommands';

interface Execution {
  startsAt: number;
  endsAt: number;
  timedOut: boolean;
  exitCode: number;
  stdout: string;
  stderr: string;
}

function executionOf(r: SimResource): Execution {
  return r.internal.execution as Execution;
}

function executionState(sim: Simulator, r: SimResource): string {
  const e = executionOf(r);
  const now = sim.clock.now();
  if (now < e.startsAt) return 'Pending';
  if (now < e.endsAt) return 'Running';
  if (e.timedOut) return 'TimedOut';
  return e.exitCode === 0 ? 'Succeeded' : 'Failed';
}

function provisioningState(sim: Simulator, r: SimResource): string {
  if (r.internal.deleting) return 'Deleting';
  const e = executionOf(r);
  const now = sim.clock.now();
  const async = r.properties.asyncExecution === true;
  if (now < (async ? e.startsAt : e.endsAt)) return 'Creating';
  const state = executionState(sim, r);
  const failed = state === 'Failed' || state === 'TimedOut';
  return failed && r.properties.treatFailureAsDeploymentFailure === true && !async ? 'Failed' : 'Succeeded';
}

function runCommandView(sim: Simulator, r: SimResource, expand: boolean): Record<string, unknown> {
  const v = sim.view(r);
  const props = v.properties as Record<string, unknown>;
  delete props.runAsPassword;
  delete props.protectedParameters;
  props.provisioningState = provisioningState(sim, r);
  if (expand) {
    const e = executionOf(r);
    const state = executionState(sim, r);
    const ended = state !== 'Pending' && state !== 'Running';
    props.instanceView = {
      executionState: state,
      ...(ended && !e.timedOut ? { exitCode: e.exitCode } : {}),
      output: ended ? lastBytes(e.stdout) : '',
      error: ended ? lastBytes(e.stderr) : '',
      ...(state !== 'Pending' ? { startTime: new Date(e.startsAt).toISOString() } : {}),
      ...(ended ? { endTime: new Date(e.endsAt).toISOString() } : {}),
    };
  }
  return v;
}

function vmOf(sim: Simulator, req: ArmRequest): SimResource {
  const vmId = idOf(req).split('/').slice(0, -2).join('/');
  const vm = sim.getResource(vmId);
  if (!vm)
    throw sim.notFound(req.segments.slice(0, 8), 'Microsoft.Compute/virtualMachines', req.segments[7] ?? '');
  return vm;
}

function putRunCommand(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, TYPE, 'write');
  const vm = vmOf(sim, req);
  if (sim.clock.now() < vmReadyAt(sim, vm) || vm.internal.deleting)
    throw new ArmError(
      409,
      'OperationNotAllowed',
      `Operation 'RunCommand' is not allowed on VM '${vm.name}' since the VM is not running (provisioning state is not Succeeded).`,
    );
  const id = idOf(req);
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = isObject(body.properties) ? structuredClone(body.properties) : {};
  const source = isObject(props.source) ? props.source : {};
  const script = str(source.script);
  if (script === undefined)
    throw new ArmError(
      400,
      'InvalidParameter',
      'The simulator runs inline scripts only (properties.source.script); scriptUri, commandId and gallery scripts are not modelled.',
    );
  const os = isObject(vm.properties.osProfile) ? vm.properties.osProfile : {};
  const shell = isObject(os.linuxConfiguration) ? 'Shell' : 'PowerShell';
  const { out, durationMs } = executeScript(sim, vm, shell, script);
  const now = sim.clock.now();
  const startsAt = now + sim.lroTimings.runCommandCreate.durationMs;
  const timeoutMs = typeof props.timeoutInSeconds === 'number' ? props.timeoutInSeconds * 1000 : 0;
  const timedOut = timeoutMs > 0 && durationMs > timeoutMs;
  const execution: Execution = {
    startsAt,
    endsAt: startsAt + (timedOut ? timeoutMs : durationMs),
    timedOut,
    exitCode: out.exitCode,
    stdout: out.stdout,
    stderr: out.stderr,
  };
  const existing = sim.getResource(id);
  const name = req.segments[req.segments.length - 1] ?? '';
  const r = sim.putResource({
    id,
    type: TYPE,
    name,
    subscriptionId: vm.subscriptionId,
    resourceGroup: vm.resourceGroup,
    location,
    tags: isObject(body.tags)
      ? Object.fromEntries(Object.entries(body.tags).map(([k, v]) => [k, String(v)]))
      : {},
    properties: { ...props, asyncExecution: props.asyncExecution === true },
    internal: { execution },
  });
  r.internal = { execution };
  const async = props.asyncExecution === true;
  const headers = sim.beginOperation({
    subscriptionId: vm.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: vm.location,
    kind: 'runCommandCreate',
    apiVersion: req.apiVersion,
    endsAt: async ? execution.startsAt : execution.endsAt,
  });
  return { status: existing ? 200 : 201, body: runCommandView(sim, r, false), headers };
}

function getRunCommand(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, TYPE, 'read');
  vmOf(sim, req);
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview';
  return { status: 200, body: runCommandView(sim, mustGet(sim, req, TYPE), expand) };
}

function listRunCommands(sim: Simulator, req: ArmRequest): ArmResponse {
  const vmId = idOf(req).split('/').slice(0, -1).join('/');
  sim.authorize(req.claims, `${TYPE}/read`, vmId);
  const vm = sim.getResource(vmId);
  if (!vm)
    throw sim.notFound(req.segments.slice(0, 8), 'Microsoft.Compute/virtualMachines', req.segments[7] ?? '');
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'instanceview';
  return {
    status: 200,
    body: {
      value: sim
        .resourcesIn(vm.id)
        .filter((r) => r.type === TYPE)
        .map((r) => runCommandView(sim, r, expand)),
    },
  };
}

function deleteRunCommand(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, TYPE, 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  const first = r.internal.deleting !== true;
  r.internal.deleting = true;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'runCommandDelete',
    location202: true,
    apiVersion: req.apiVersion,
    ...(first ? { outcome: { onDone: () => sim.deleteResource(r.id) } } : {}),
  });
  return { status: 202, headers };
}

export const runCommandRoutes: Route[] = [
  { type: 'microsoft.compute/virtualmachines/runcommands', verb: 'put', handler: putRunCommand },
  { type: 'microsoft.compute/virtualmachines/runcommands', verb: 'get', handler: getRunCommand },
  { type: 'microsoft.compute/virtualmachines/runcommands', verb: 'list', handler: listRunCommands },
  { type: 'microsoft.compute/virtualmachines/runcommands', verb: 'delete', handler: deleteRunCommand },
];
