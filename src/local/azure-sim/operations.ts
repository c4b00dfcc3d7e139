/**
 * ARM asynchronous operations: starting one (Azure-AsyncOperation, Location and Retry-After
 * headers), ending it by clock time, and serving its status (…/operations/{id}) and result
 * (…/operationResults/{id}) resources. Duration and Retry-After per kind come from lro.ts.
 */
import type { Simulator } from './sim';
import { ArmError, type ArmRequest, type ArmResponse } from './types';
import { eqi } from './util';
import type { LroKind } from './lro';

export interface AsyncOperation {
  id: string;
  name: string;
  subscriptionId: string;
  namespace: string;
  location: string;
  tenantId: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  kind: LroKind;
  /** Clock time the operation turns terminal (ignored when `doneWhen` is set). */
  endsAt: number;
  /** Ends the operation when the resource says so (e.g. a version PUT ends with its replication). */
  doneWhen?: () => boolean;
  /** Retry-After (seconds) sent while it runs; undefined = no header. */
  retryAfterSeconds?: number;
  startTime: number;
  endTime?: number;
  error?: { code: string; message: string };
  /** Body of the final Location GET (200) — e.g. a run command result; 204 when absent. */
  result?: unknown;
  /** Runs once when the operation turns terminal (e.g. a delete finishing). */
  onDone?: () => void;
}

/**
 * Starts an ARM async operation and returns the headers ARM sends with it. It turns terminal when
 * its kind's duration has passed on the simulator clock (or when `doneWhen` says so, or at
 * `endsAt`), whether or not anybody polls it; `Retry-After` is the kind's Azure value.
 */
export interface BeginOperationArgs {
  subscriptionId: string;
  namespace: string;
  location: string;
  kind: LroKind;
  outcome?: { error?: { code: string; message: string }; result?: unknown; onDone?: () => void };
  location202?: boolean;
  apiVersion: string | undefined;
  /** Absolute clock time it ends (instead of the kind's duration). */
  endsAt?: number;
  doneWhen?: () => boolean;
}

export function beginOperation(sim: Simulator, args: BeginOperationArgs): Record<string, string> {
  const name = sim.newGuid();
  const timing = sim.lroTimings[args.kind];
  const now = sim.clock.now();
  const op: AsyncOperation = {
    id: `/subscriptions/${args.subscriptionId}/providers/${args.namespace}/locations/${args.location}/operations/${name}`,
    name,
    subscriptionId: args.subscriptionId,
    namespace: args.namespace,
    location: args.location,
    tenantId: sim.tenantOf(args.subscriptionId),
    status: 'InProgress',
    kind: args.kind,
    endsAt: args.endsAt ?? now + timing.durationMs,
    ...(args.doneWhen ? { doneWhen: args.doneWhen } : {}),
    ...(timing.retryAfterSeconds !== undefined ? { retryAfterSeconds: timing.retryAfterSeconds } : {}),
    startTime: now,
    ...(args.outcome?.error ? { error: args.outcome.error } : {}),
    ...(args.outcome?.result !== undefined ? { result: args.outcome.result } : {}),
    ...(args.outcome?.onDone ? { onDone: args.outcome.onDone } : {}),
  };
  sim.operations.set(name.toLowerCase(), op);
  const q = `?api-version=${args.apiVersion ?? ''}`;
  const headers: Record<string, string> = {
    'Azure-AsyncOperation': `${sim.armEndpoint}${op.id}${q}`,
    ...retryAfter(op),
  };
  if (args.location202)
    headers.Location = `${sim.armEndpoint}/subscriptions/${args.subscriptionId}/providers/${args.namespace}/locations/${args.location}/operationResults/${name}${q}`;
  return headers;
}

function retryAfter(op: AsyncOperation): Record<string, string> {
  return op.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(op.retryAfterSeconds) };
}

/** Ends every operation whose time has come (runs before each request and inventory()). */
export function settleOperations(operations: Map<string, AsyncOperation>, now: number): void {
  for (const op of operations.values()) {
    if (op.status !== 'InProgress') continue;
    const done = op.doneWhen ? op.doneWhen() : now >= op.endsAt;
    if (!done) continue;
    op.status = op.error ? 'Failed' : 'Succeeded';
    op.endTime = op.doneWhen ? now : Math.max(op.startTime, op.endsAt);
    op.onDone?.();
  }
}

export function operationRequest(sim: Simulator, req: ArmRequest): ArmResponse | undefined {
  // /subscriptions/{s}/providers/{ns}/locations/{loc}/operations|operationResults|operationStatuses|asyncoperations/{id}
  const seg = req.segments;
  if (seg.length !== 8 || seg[2]?.toLowerCase() !== 'providers' || seg[4]?.toLowerCase() !== 'locations')
    return undefined;
  const kind = seg[6]?.toLowerCase();
  if (kind !== 'operations' && kind !== 'operationresults') return undefined;
  const op = sim.operations.get((seg[7] ?? '').toLowerCase());
  if (!op) throw new ArmError(404, 'NotFound', `The operation '${seg[7] ?? ''}' could not be found.`);
  if (!eqi(op.tenantId, req.claims.tid))
    throw new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${req.claims.oid}' with object id '${req.claims.oid}' does not have authorization to perform action '${op.namespace}/locations/operations/read' over scope '/subscriptions/${op.subscriptionId}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  sim.settleOperations();
  sim.onOperationPoll?.({ kind: op.kind, status: op.status, path: req.path });
  if (kind === 'operationresults') {
    if (op.status === 'InProgress')
      return {
        status: 202,
        headers: {
          Location: `${sim.armEndpoint}${req.path}?api-version=${req.apiVersion ?? ''}`,
          ...retryAfter(op),
        },
      };
    if (op.status === 'Failed')
      throw new ArmError(
        400,
        op.error?.code ?? 'OperationFailed',
        op.error?.message ?? 'The operation failed.',
      );
    if (op.result !== undefined) return { status: 200, body: op.result };
    // ResourceGroups_Delete answers only 200 or 202 (REST spec; @azure/arm-resources refuses
    // anything else, a 204 included); the other deletes modelled here also allow 204.
    return { status: op.kind === 'resourceGroupDelete' ? 200 : 204 };
  }
  return {
    status: 200,
    headers: op.status === 'InProgress' ? retryAfter(op) : {},
    body: {
      id: op.id,
      name: op.name,
      status: op.status,
      startTime: new Date(op.startTime).toISOString(),
      ...(op.endTime !== undefined ? { endTime: new Date(op.endTime).toISOString() } : {}),
      ...(op.error && op.status === 'Failed' ? { error: op.error } : {}),
      ...(op.status === 'Succeeded' && op.result !== undefined ? { properties: { output: op.result } } : {}),
    },
  };
}
