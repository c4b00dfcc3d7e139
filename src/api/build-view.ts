/**
 * A build as the API shows it (GET /api/builds/{id}, the list, the fleet and the pages): read from
 * the orchestration's custom status, its output and the runtime status, whichever is newest.
 */
import type { BuildCustomStatus, StageStatus } from '../domain/build-status';
import { orchestrationFailureMessage } from '../domain/pipeline/task-failure';
import type { InstanceView } from './builds-api';

/** Runtime statuses after which an instance runs no more. */
export const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/** Outcome when the custom status has none (not published yet) or is stale (terminated, crashed). */
const RUNTIME_OUTCOME: Record<string, string> = {
  Pending: 'running',
  Running: 'running',
  Completed: 'succeeded',
  Failed: 'failed',
  Terminated: 'canceled',
  Canceled: 'canceled',
};

interface StoredBuildInput {
  /** The pipeline's name (a definition object only in inputs made before admission, or crafted). */
  pipeline?: string | { name?: string; stages?: { name: string; tenantId: string }[] };
  reason?: string;
  requestedBy?: string;
}

/** First line of an orchestrator's failure output, bounded: no stack traces in API answers. */
function firstLine(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? 'no details');
  return (text.split('\n')[0] ?? '').slice(0, 500);
}

export function buildView(status: InstanceView): Record<string, unknown> {
  const custom = (status.customStatus ?? {}) as Partial<BuildCustomStatus>;
  const input = (status.input ?? {}) as StoredBuildInput;
  const named = typeof input.pipeline === 'string' ? { name: input.pipeline } : input.pipeline;
  // Before the first episode publishes its status, the stages are unknown (admission decides the
  // definition); an input from before admission still shows the stages it carried.
  const stored: StageStatus[] =
    custom.stages ??
    (named?.stages ?? []).map((stage) => ({
      name: stage.name,
      tenantId: stage.tenantId,
      state: 'pending' as const,
    }));
  // The replication wait's instance (replicationWaits below) is the API's business, not the answer's.
  const stages = stored.map(({ replicationWait: _internal, ...stage }): StageStatus => stage);
  const finished = TERMINAL.has(status.runtimeStatus);
  // The orchestration's result (tests run, decisions ignored) once it has one; a failed build's
  // output is its error text instead.
  const output =
    status.output !== null && typeof status.output === 'object'
      ? (status.output as { tests?: unknown[]; ignoredDecisions?: unknown[] })
      : undefined;
  const outcome =
    custom.outcome !== undefined && !(custom.outcome === 'running' && finished)
      ? custom.outcome
      : (RUNTIME_OUTCOME[status.runtimeStatus] ?? 'running');
  const failure =
    custom.failure ??
    (status.runtimeStatus === 'Failed'
      ? {
          code: 'OrchestrationFailed',
          message: firstLine(orchestrationFailureMessage(status.output)),
          step: custom.step ?? 'queued',
        }
      : status.runtimeStatus === 'Terminated'
        ? { code: 'Terminated', message: firstLine(status.output), step: custom.step ?? 'queued' }
        : undefined);
  return {
    id: status.instanceId,
    pipeline: custom.pipeline ?? named?.name,
    factoryVersion: custom.factoryVersion,
    runtimeStatus: status.runtimeStatus,
    outcome,
    step: custom.step ?? (finished ? 'done' : 'queued'),
    currentStage: custom.currentStage,
    message: custom.message,
    reason: input.reason,
    requestedBy: input.requestedBy,
    imageVersion: custom.imageVersion,
    recipeHash: custom.recipeHash,
    sourceImageVersion: custom.sourceImageVersion,
    stages,
    versions: stages
      .filter((s) => s.versionId)
      .map((s) => ({ stage: s.name, tenantId: s.tenantId, id: s.versionId })),
    approvals: stages.filter((s) => s.approval !== undefined).map((s) => ({ stage: s.name, ...s.approval })),
    pendingApproval: custom.pendingApproval,
    failure,
    ledger: custom.ledger,
    timeline: custom.timeline ?? [],
    cleanedUp: custom.cleanedUp ?? [],
    securityGate: custom.securityGate,
    tests: custom.tests ?? output?.tests ?? [],
    ignoredDecisions: output?.ignoredDecisions ?? [],
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
  };
}

/**
 * The replication waits a running build names per stage (factory 0.5.0 on): their statuses carry the
 * per-region progress of every read, the build's only the first and the last (see StageStatus).
 */
export function replicationWaits(status: InstanceView): { stage: string; instanceId: string }[] {
  if (TERMINAL.has(status.runtimeStatus)) return [];
  const stages = (status.customStatus as Partial<BuildCustomStatus> | null)?.stages ?? [];
  return stages.flatMap((stage) =>
    typeof stage.replicationWait === 'string'
      ? [{ stage: stage.name, instanceId: stage.replicationWait }]
      : [],
  );
}
