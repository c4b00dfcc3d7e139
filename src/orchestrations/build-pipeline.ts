/**
 * The build orchestration: preflight → build (Image Builder) → test → per stage: approve → promote.
 * Deterministic: time only from context.df.currentUtcDateTime, no I/O (activities do it), every
 * wait raced against a deadline and the cancel event. On failure, rejection, timeout or cancel the
 * compensation removes what this build created (test VMs, template, versions), so a build is
 * all-or-nothing: an image that did not pass every gate is never left as "latest" anywhere.
 * Over 600 lines: the steps are closures over one build's state; issue 16 moves each step to a module
 * of its own under src/orchestrations/build/.
 *
 * Compensation DELETES this build's versions (ENG included, also after a later stage's rejection)
 * rather than excluding them from latest with an end-of-life date, because:
 * - none of them was released: TEST and PROD copies stay excluded from latest until their gate
 *   passed, the ENG version is latest only in the engineering tenant (for engineering use), and a
 *   build that stops short of its last stage is not a release anywhere;
 * - a version left behind (even excluded) can still be pinned by id, keeps its replicas (storage
 *   cost, per-gallery version limits) and would make the gallery disagree with the build record;
 * - a partial copy (replication failed or cancelled) is not a usable image at all.
 * It deletes only versions tagged with its own build id (a version-number collision never removes
 * another build's version). Released versions are withdrawn with revokeImageVersion instead, which
 * does exclude + end-of-life (they may be in use).
 */
import { RetryOptions, type OrchestrationContext, type Task } from 'durable-functions';
import { readTaskFailure } from '../domain/pipeline/task-failure';
import type { BuildEventInput, BuildEventKind } from '../domain/notifications/events';
import {
  approvalEventName,
  type ApprovalDecision,
  type ApprovalRequest,
  type RaisedApprovalDecision,
} from '../ports/approvals';
import type { GalleryImageVersionRef, ImageTemplateRef, TargetRegion, VmRef } from '../ports/azure';
import {
  BUILD_ORCHESTRATION,
  CANCEL_EVENT,
  type BuildCustomStatus,
  type BuildFailure,
  type BuildOutcome,
  type BuildStep,
  type StageStatus,
} from '../domain/build-status';
import {
  Activities,
  AZURE_CALL_RETRY,
  refusalOf,
  type BuildStatus,
  type ClaimBuildSlotInput,
  type DecisionVerification,
  type VerifyDecisionInput,
  type PreflightResult,
  type TestScriptResult,
  type TestVmTeardown,
  type VersionInfo,
} from '../domain/pipeline/activities';
import {
  AWAIT_OPERATION_ORCHESTRATION,
  type AwaitOperationInput,
  type AwaitOutcome,
  type JudgeName,
  type PollTiming,
} from './await-done';
import type { PipelineDefinition, PipelineStage } from '../domain/pipeline/definition';
import { ADMIT_BUILD_ACTIVITY, type BuildInput } from '../domain/pipeline/admission';
import { imageVersionFor, shortHash } from '../domain/pipeline/versioning';
import { stagingResourceGroupIdFor } from '../domain/pipeline/recipe';
import {
  BUILD_SLOT_POLL_MS,
  BUILD_SLOT_TAG,
  buildSlotKey,
  slotPollDelayMs,
  type SlotDecision,
} from '../domain/pipeline/build-slots';
import {
  DEFAULT_BUILD_POLL_DEFAULTS,
  DEFAULT_REPLICATION_POLL_DEFAULTS,
  nextPollDelayMs,
  nextReplicationPollDelayMs,
  type BuildHistory,
} from '../domain/polling';
import { notify } from './notify';

export const WAIT_FOR_BUILD_ORCHESTRATION = 'waitForImageBuild';
export const WAIT_FOR_REPLICATION_ORCHESTRATION = 'waitForVersionReplication';
export const WAIT_FOR_BUILD_SLOT_ORCHESTRATION = 'waitForBuildSlot';
/** Polls per generation of a waiting sub-orchestration before it continues as new (bounded history, cheap replays). */
export const POLLS_PER_GENERATION = 8;

/**
 * How the orchestration waits for Azure's long-running operations (started by an activity that
 * returns once ARM accepted them): first read after Azure's Retry-After, then at that pace, within
 * `withinMs`. Durations and Retry-After from recorded traffic (src/local/azure-sim/lro.ts).
 */
export const LRO_WAITS = {
  templateCreate: { pollMs: 15_000, withinMs: 30 * 60_000 }, // ~30 s
  templateDelete: { pollMs: 20_000, withinMs: 30 * 60_000 }, // ~77 s
  vmCreate: { pollMs: 15_000, withinMs: 30 * 60_000 }, // ~2 min, Retry-After 10–30 s
  vmDelete: { pollMs: 15_000, withinMs: 30 * 60_000 }, // VM ~1 min, then NIC (Retry-After 10 s) and disk
  versionUpdate: { pollMs: 60_000, withinMs: 60 * 60_000 }, // ~3 min, Retry-After 60 s
  versionDelete: { pollMs: 60_000, withinMs: 30 * 60_000 }, // ~1.5 min, Retry-After 60 s
  /** A test script runs up to its timeout (90 min allowed): 30 s growing to 5 min between reads. */
  runCommand: { pollMs: 30_000, backoff: 1.5, maxPollMs: 5 * 60_000, withinMs: 15 * 60_000 },
} as const satisfies Record<string, Omit<PollTiming, 'deadlineMs'> & { withinMs: number }>;
export { BUILD_ORCHESTRATION };

export type { BuildInput };

export interface BuildResult {
  outcome: BuildOutcome;
  imageVersion?: string;
  versions: { stage: string; id: string }[];
  tests: TestScriptResult[];
  failure?: BuildFailure;
  /**
   * Approval events not acted on: they did not match the pending request (wrong request id, version
   * or stage), or, with a signing key configured, did not carry a valid signature.
   */
  ignoredDecisions: {
    stage: string;
    at: string;
    requestId: string;
    imageVersion: string;
    eventStage: string;
    decision: string;
    approver: string;
    reason: 'mismatch' | 'unverified';
    detail?: string;
  }[];
}

/**
 * The retry policy of every activity call (see ActivityRefusal for why only transient errors reach
 * it). The host does the retrying; retryTimeoutInMilliseconds stays unset (Azure/azure-functions-durable-js#629).
 */
/**
 * Refusals after which Azure names when the same call will succeed (`retryAfterMs`): the build waits
 * that long on a durable timer and calls again, rather than failing.
 */
const WAIT_THEN_RETRY_CODES = new Set(['NicReservedForAnotherVm']);
/** After a cancel, how often and how long the cleanup waits for the run to leave Canceling. */
const CANCEL_POLL_MS = 60_000;
const CANCEL_WAIT_MAX_MS = 60 * 60_000;

export const AZURE_CALL_RETRY_OPTIONS: RetryOptions = Object.assign(
  new RetryOptions(AZURE_CALL_RETRY.firstRetryIntervalInMilliseconds, AZURE_CALL_RETRY.maxNumberOfAttempts),
  {
    backoffCoefficient: AZURE_CALL_RETRY.backoffCoefficient,
    maxRetryIntervalInMilliseconds: AZURE_CALL_RETRY.maxRetryIntervalInMilliseconds,
  },
);
export { AZURE_CALL_RETRY };

/** An activity refused (non-retryable FactoryError, returned rather than thrown). */
export class ActivityRefused extends Error {
  constructor(
    readonly activity: string,
    readonly refusal: { code: string; message: string; hint?: string; retryAfterMs?: number },
  ) {
    super(`${activity}: ${refusal.message}`);
  }
}

/**
 * Calls an activity under the retry policy; a refusal is thrown as ActivityRefused at once.
 * For sub-orchestrations and the revoke orchestration too.
 */
/**
 * One poll inside a waiting sub-orchestration: no retry policy (the next poll is the retry). A
 * transient failure gives `undefined`; a refusal is returned for the caller to end the wait with.
 */
export function* poll<T>(
  context: OrchestrationContext,
  name: string,
  activityInput: unknown,
): Generator<
  Task,
  | { value: T }
  | { refused: { code: string; message: string; hint?: string; retryAfterMs?: number } }
  | undefined,
  unknown
> {
  let result: unknown;
  try {
    result = yield context.df.callActivity(name, activityInput);
  } catch (error) {
    if (errorInfo(error).retryable) return undefined;
    return { refused: { code: errorInfo(error).code, message: errorInfo(error).message } };
  }
  const refusal = refusalOf(result);
  return refusal === undefined ? { value: result as T } : { refused: refusal };
}

export function* callAzure<T>(
  context: OrchestrationContext,
  name: string,
  activityInput: unknown,
): Generator<Task, T, unknown> {
  const result = yield context.df.callActivityWithRetry(name, AZURE_CALL_RETRY_OPTIONS, activityInput);
  const refusal = refusalOf(result);
  if (refusal !== undefined) throw new ActivityRefused(name, refusal);
  return result as T;
}

/** A failure the orchestration decided on (as opposed to an activity's error). */
class BuildStopped extends Error {
  constructor(
    readonly outcome: Exclude<BuildOutcome, 'running' | 'succeeded'>,
    readonly failure: BuildFailure,
  ) {
    super(failure.message);
  }
}

interface ErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  hint?: string;
}

/** What a failed activity (or sub-orchestration) says, in whichever shape the host delivered it. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof ActivityRefused)
    return {
      code: error.refusal.code,
      message: error.refusal.message,
      retryable: false,
      ...(error.refusal.hint ? { hint: error.refusal.hint } : {}),
      ...(error.refusal.retryAfterMs !== undefined ? { retryAfterMs: error.refusal.retryAfterMs } : {}),
    };
  return readTaskFailure(error);
}

const rgId = (subscriptionId: string, resourceGroup: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
const galleryImageId = (stage: PipelineStage, image: string) =>
  `${rgId(stage.subscriptionId, stage.gallery.resourceGroup)}/providers/Microsoft.Compute/galleries/${stage.gallery.name}/images/${image}`;
const targetRegions = (stage: PipelineStage): TargetRegion[] =>
  stage.regions.map((r) => ({
    name: r.name,
    replicaCount: r.replicas,
    storageAccountType: r.storageAccountType,
  }));
const versionRef = (stage: PipelineStage, image: string, version: string): GalleryImageVersionRef => ({
  subscriptionId: stage.subscriptionId,
  resourceGroup: stage.gallery.resourceGroup,
  gallery: stage.gallery.name,
  image,
  version,
});

/**
 * The build: admission first (admission.ts: the served definition, the digest, the environments'
 * gates), then the build of exactly the definition admission returned. The input never carries a
 * definition, so a start through the Durable management API cannot bring its own.
 */
export function* buildImagePipeline(context: OrchestrationContext): Generator<Task, BuildResult, unknown> {
  const input = context.df.getInput<BuildInput>();
  let definition: PipelineDefinition;
  try {
    definition = yield* callAzure<PipelineDefinition>(context, ADMIT_BUILD_ACTIVITY, input);
  } catch (error) {
    // Refused (or admission could not run): nothing was created, so there is nothing to undo.
    const info = errorInfo(error);
    const failure: BuildFailure = {
      code: info.code,
      message: info.message,
      step: 'admission',
      ...(info.hint ? { hint: info.hint } : {}),
    };
    const claimed = (input as { pipeline?: unknown } | null)?.pipeline;
    context.df.setCustomStatus({
      buildId: typeof input?.buildId === 'string' ? input.buildId : context.df.instanceId,
      pipeline: typeof claimed === 'string' ? claimed : '(refused)',
      outcome: 'failed',
      step: 'done',
      stages: [],
      message: failure.message,
      failure,
      updatedAt: context.df.currentUtcDateTime.toISOString(),
    } satisfies BuildCustomStatus);
    throw new Error(`${failure.code}: ${failure.message}`);
  }
  return yield* runBuild(context, input, definition);
}

function* runBuild(
  context: OrchestrationContext,
  input: BuildInput,
  definition: PipelineDefinition,
): Generator<Task, BuildResult, unknown> {
  const eng = definition.stages[0] as PipelineStage;
  const startedAt = context.df.currentUtcDateTime;
  const imageVersion = imageVersionFor(startedAt, input.buildId);
  const nowIso = () => context.df.currentUtcDateTime.toISOString();
  const cancel = context.df.waitForExternalEvent(CANCEL_EVENT);

  const status: BuildCustomStatus = {
    buildId: input.buildId,
    pipeline: definition.name,
    ...(context.df.version ? { factoryVersion: context.df.version } : {}),
    outcome: 'running',
    step: 'preflight',
    imageVersion,
    stages: definition.stages.map((stage) => ({
      name: stage.name,
      tenantId: stage.tenantId,
      state: 'pending',
    })),
    updatedAt: nowIso(),
  };
  const result: BuildResult = {
    outcome: 'running',
    imageVersion,
    versions: [],
    tests: [],
    ignoredDecisions: [],
  };
  const publish = (step?: BuildStep, message?: string, stageName?: string) => {
    if (step !== undefined) status.step = step;
    if (message !== undefined) status.message = message;
    if (stageName !== undefined) status.currentStage = stageName;
    status.updatedAt = nowIso();
    recordTimeline(status);
    context.df.setCustomStatus(status);
  };
  const stageStatus = (name: string) => status.stages.find((s) => s.name === name) as StageStatus;
  const setStage = (name: string, patch: Partial<StageStatus>) => Object.assign(stageStatus(name), patch);

  // What compensation must undo, recorded before each create is attempted.
  const created = {
    template: undefined as (ImageTemplateRef & { credential: string }) | undefined,
    vms: [] as (VmRef & { credential: string })[],
    versions: [] as { stage: PipelineStage; ref: GalleryImageVersionRef }[],
  };

  let compensating = false;
  /** Calls an activity (host retries for transient errors); any failure stops the build with its code. */
  function* call<T>(name: string, activityInput: unknown): Generator<Task, T, unknown> {
    let value: T;
    for (let waits = 0; ; waits++) {
      try {
        value = yield* callAzure<T>(context, name, activityInput);
        break;
      } catch (error) {
        const info = errorInfo(error);
        // Azure named the time after which the same call succeeds (a NIC held by a failed VM
        // create): wait it out on a durable timer, a few times at most, instead of failing.
        if (WAIT_THEN_RETRY_CODES.has(info.code) && info.retryAfterMs !== undefined && waits < 3) {
          publish(status.step, `waiting ${Math.round(info.retryAfterMs / 1000)} s: ${info.message}`);
          yield* pause(info.retryAfterMs);
          continue;
        }
        throw stoppedBy(name, error, info);
      }
    }
    // A cancel that arrived while a step ran (e.g. preflight) stops the build before the next step.
    // Deterministic: replay applies the cancel event at the same place in the history.
    if (!compensating && cancel.isCompleted) throw cancelled();
    return value;
  }

  /**
   * Image Builder refuses to delete a template whose run is Running or Canceling ("…delete is not
   * allowed in provisioning state: provisioned or run state: canceling": danielsollondon/azvmimagebuilder
   * #48, #79): after a cancel, the cleanup polls on durable timers until the run has ended (bounded;
   * a read failure or the bound lets the delete try anyway and report what it could not do).
   */
  function* waitForRunToEnd(ref: ImageTemplateRef, credential: string): Generator<Task, void, unknown> {
    const until = context.df.currentUtcDateTime.getTime() + CANCEL_WAIT_MAX_MS;
    for (;;) {
      let state: string | undefined;
      try {
        state = (yield* callAzure<BuildStatus>(context, Activities.getImageBuildStatus, { credential, ref }))
          .runState;
      } catch {
        return;
      }
      if (state !== 'Running' && state !== 'Canceling') return;
      if (context.df.currentUtcDateTime.getTime() >= until) return;
      publish(status.step, `waiting for Image Builder to finish canceling ${ref.name} before deleting it`);
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + CANCEL_POLL_MS));
    }
  }

  /** A wait that a cancel cuts short, except while compensating (cleanup must finish). */
  function* pause(ms: number): Generator<Task, void, unknown> {
    if (!compensating) return yield* sleep(ms);
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + ms));
  }

  function stoppedBy(name: string, error: unknown, info: ErrorInfo): BuildStopped {
    return new BuildStopped('failed', {
      code: info.code,
      message: error instanceof ActivityRefused ? error.message : `${name}: ${info.message}`,
      step: status.step,
      ...(status.currentStage ? { stage: status.currentStage } : {}),
      ...(info.hint ? { hint: info.hint } : {}),
    });
  }

  /** The outcome of an activity task that already settled (e.g. the winner of a race). */
  function settled<T>(name: string, task: Task): T {
    const error = task.isFaulted ? task.result : undefined;
    const refusal = task.isFaulted ? undefined : refusalOf(task.result);
    if (!task.isFaulted && refusal === undefined) return task.result as T;
    const info = errorInfo(refusal ? new ActivityRefused(name, refusal) : error);
    throw new BuildStopped('failed', {
      code: info.code,
      message: `${name}: ${info.message}`,
      step: status.step,
      ...(status.currentStage ? { stage: status.currentStage } : {}),
      ...(info.hint ? { hint: info.hint } : {}),
    });
  }

  /** Sleeps, unless the build is cancelled meanwhile. */
  function* sleep(ms: number): Generator<Task, void, unknown> {
    const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + ms));
    const winner = yield context.df.Task.any([timer, cancel]);
    if (winner === cancel) {
      timer.cancel();
      throw cancelled();
    }
  }

  let operationWaits = 0;
  /**
   * The generic "wait until the resource says done" step: a sub-orchestration (await-operation.ts)
   * reads `activity` on durable timers until `judge` says done or failed, or the deadline passes.
   * Raced against cancel unless it must run to its end (teardown, compensation). A failure whose
   * code is `expected` is returned; any other stops the build.
   */
  function* untilDone(
    what: string,
    activity: string,
    activityInput: unknown,
    judge: JudgeName,
    timing: Omit<PollTiming, 'deadlineMs'> & { withinMs: number },
    options: { cancellable?: boolean; failedCode?: string; timedOutCode?: string; expected?: string } = {},
  ): Generator<Task, { value: unknown } | { failure: ErrorInfo }, unknown> {
    operationWaits += 1;
    const { withinMs, ...poll } = timing;
    const wait = context.df.callSubOrchestrator(
      AWAIT_OPERATION_ORCHESTRATION,
      {
        what,
        activity,
        activityInput,
        judge,
        timing: { ...poll, deadlineMs: context.df.currentUtcDateTime.getTime() + withinMs },
        failedCode: options.failedCode ?? 'OperationFailed',
        timedOutCode: options.timedOutCode ?? 'OperationTimedOut',
        reads: 0,
      } satisfies AwaitOperationInput,
      `${input.buildId}:await:${operationWaits}`,
    );
    if ((options.cancellable ?? true) && !compensating) {
      const winner = yield context.df.Task.any([wait, cancel]);
      if (winner === cancel) throw cancelled();
    } else yield wait;
    const outcome = wait.result as AwaitOutcome;
    if ('done' in outcome) return { value: outcome.done };
    const failure: ErrorInfo = {
      code: outcome.failed.code,
      message: outcome.failed.message,
      retryable: false,
      ...(outcome.failed.hint ? { hint: outcome.failed.hint } : {}),
    };
    if (options.expected !== undefined && failure.code === options.expected) return { failure };
    throw new BuildStopped('failed', {
      code: failure.code,
      message: failure.message,
      step: status.step,
      ...(status.currentStage ? { stage: status.currentStage } : {}),
      ...(failure.hint ? { hint: failure.hint } : {}),
    });
  }

  /** Creates the template (the activity returns once ARM accepted it) and waits until it is provisioned. */
  function* createTemplate(spec: unknown, ref: ImageTemplateRef): Generator<Task, void, unknown> {
    yield* call(Activities.createImageTemplate, { credential: eng.credential, spec });
    yield* untilDone(
      `provision image template ${ref.name}`,
      Activities.getImageTemplateProvisioning,
      { credential: eng.credential, ref },
      'templateProvisioned',
      LRO_WAITS.templateCreate,
    );
  }

  function* deleteTemplate(credential: string, ref: ImageTemplateRef): Generator<Task, void, unknown> {
    yield* call(Activities.deleteImageTemplate, { credential, ref });
    yield* untilDone(
      `delete image template ${ref.name}`,
      Activities.getImageBuildStatus,
      { credential, ref },
      'templateGone',
      LRO_WAITS.templateDelete,
      { cancellable: false },
    );
  }

  function* updateVersion(
    credential: string,
    ref: GalleryImageVersionRef,
    patch: Record<string, unknown>,
  ): Generator<Task, void, unknown> {
    yield* call(Activities.updateImageVersion, { credential, ref, patch });
    yield* untilDone(
      `update image version ${ref.version}`,
      Activities.getImageVersion,
      { credential, ref },
      'versionUpdated',
      LRO_WAITS.versionUpdate,
    );
  }

  function* deleteVersion(
    credential: string,
    ref: GalleryImageVersionRef,
    onlyIfBuildId: string,
  ): Generator<Task, void, unknown> {
    const deleting = yield* call<boolean>(Activities.deleteImageVersion, { credential, ref, onlyIfBuildId });
    if (!deleting) return;
    yield* untilDone(
      `delete image version ${ref.version}`,
      Activities.getImageVersion,
      { credential, ref },
      'versionGone',
      LRO_WAITS.versionDelete,
      { cancellable: false },
    );
  }

  /** Tears a test VM down (VM, then NIC and disk), waiting until nothing is left. */
  function* deleteTestVm(vm: VmRef & { credential: string }): Generator<Task, void, unknown> {
    const teardown = {
      credential: vm.credential,
      ref: { subscriptionId: vm.subscriptionId, resourceGroup: vm.resourceGroup, name: vm.name },
    };
    const first = yield* call<TestVmTeardown>(Activities.deleteTestVm, teardown);
    if (first.remaining.length === 0) return;
    // The teardown activity starts only deletes not yet running, so it is also the read.
    yield* untilDone(
      `delete test VM ${vm.name}`,
      Activities.deleteTestVm,
      teardown,
      'testVmGone',
      LRO_WAITS.vmDelete,
      { cancellable: false },
    );
  }

  const cancelled = () => {
    const data = (cancel.result ?? {}) as { reason?: string; requestedBy?: string };
    return new BuildStopped('canceled', {
      code: 'Canceled',
      message: `Canceled${data.requestedBy ? ` by ${data.requestedBy}` : ''}: ${data.reason ?? 'no reason given'}`,
      step: status.step,
      ...(status.currentStage ? { stage: status.currentStage } : {}),
    });
  };

  let replicationWaits = 0;
  /** Waits in a sub-orchestration, so this history stays small however long replication takes. */
  function* waitForReplication(
    stage: PipelineStage,
    ref: GalleryImageVersionRef,
  ): Generator<Task, void, unknown> {
    const began = context.df.currentUtcDateTime.getTime();
    let progress: Pick<WaitForReplicationInput, 'polls' | 'regions'> = { polls: 0 };
    for (;;) {
      replicationWaits += 1;
      const wait = context.df.callSubOrchestrator(
        WAIT_FOR_REPLICATION_ORCHESTRATION,
        {
          credential: stage.credential,
          ref,
          stageName: stage.name,
          startedMs: began,
          deadlineMs: began + 6 * 60 * 60 * 1000,
          ...progress,
        } satisfies WaitForReplicationInput,
        `${input.buildId}:replicate:${replicationWaits}`,
      );
      const winner = yield context.df.Task.any([wait, cancel]);
      if (winner === cancel) throw cancelled();
      const outcome = wait.result as ReplicationOutcome;
      // Per-region progress in the build's own status, as each region changes state.
      setStage(stage.name, { regions: outcome.regions });
      publish();
      if (outcome.state === 'InProgress') {
        progress = { polls: outcome.polls, regions: outcome.regions };
        continue;
      }
      if (outcome.state === 'Completed') return;
      throw new BuildStopped('failed', {
        code:
          outcome.state === 'Missing'
            ? 'VersionMissing'
            : outcome.state === 'TimedOut'
              ? 'ReplicationTimedOut'
              : 'ReplicationFailed',
        message: `replication of ${ref.version} to ${stage.name}: ${outcome.message}`,
        step: 'promote',
        stage: stage.name,
      });
    }
  }

  let slotWaits = 0;
  /** Waits for a build slot of the ENG subscription and build region (see build-slots.ts). */
  function* waitForBuildSlot(templateRef: ImageTemplateRef, slotKey: string): Generator<Task, void, unknown> {
    const claim: ClaimBuildSlotInput = {
      credential: eng.credential,
      scope: { subscriptionId: templateRef.subscriptionId, resourceGroup: templateRef.resourceGroup },
      slotKey,
      templateName: templateRef.name,
    };
    const slot = yield* call<SlotDecision>(Activities.claimBuildSlot, claim);
    if (slot.granted) return;
    publish(
      'waitingForBuildSlot',
      `waiting for a build slot in ${definition.build.location} (subscription ${eng.subscriptionId}): ${slot.running + slot.ahead} build(s) ahead for ${slot.limit} slot(s)`,
      eng.name,
    );
    slotWaits += 1;
    const began = context.df.currentUtcDateTime.getTime();
    const wait = context.df.callSubOrchestrator(
      WAIT_FOR_BUILD_SLOT_ORCHESTRATION,
      { claim, startedMs: began, polls: 0 } satisfies WaitForBuildSlotInput,
      `${input.buildId}:slot:${slotWaits}`,
    );
    const winner = yield context.df.Task.any([wait, cancel]);
    if (winner === cancel) throw cancelled();
    const outcome = wait.result as SlotWaitOutcome;
    if (outcome.error)
      throw new BuildStopped('failed', {
        code: outcome.error.code,
        message: `${Activities.claimBuildSlot}: ${outcome.error.message}`,
        step: 'waitingForBuildSlot',
        stage: eng.name,
        ...(outcome.error.hint ? { hint: outcome.error.hint } : {}),
      });
    if (!outcome.granted)
      throw new BuildStopped('failed', {
        code: 'TemplateMissing',
        message: `image template ${templateRef.name} disappeared while waiting for a build slot`,
        step: 'waitingForBuildSlot',
        stage: eng.name,
      });
  }

  function* runTests(
    stage: PipelineStage,
    where: { resourceGroup: string; subnetId: string },
    imageVersionId: string,
  ): Generator<Task, void, unknown> {
    const vm: VmRef & { credential: string } = {
      credential: stage.credential,
      subscriptionId: stage.subscriptionId,
      resourceGroup: where.resourceGroup,
      // Windows computer names are at most 15 characters.
      name: `vmt${shortHash(input.buildId)}${stage.name.toLowerCase()}`.slice(0, 15),
    };
    created.vms.push(vm);
    const location = definition.build.location;
    const vmSpec = {
      subscriptionId: vm.subscriptionId,
      resourceGroup: vm.resourceGroup,
      name: vm.name,
      location,
      imageVersionId,
      subnetId: where.subnetId,
      vmSize: definition.test.vmSize,
      osType: definition.image.osType,
      securityType: definition.image.securityType === 'TrustedLaunch' ? 'TrustedLaunch' : 'Standard',
      tags: { 'imagefactory.buildId': input.buildId, 'imagefactory.purpose': 'test' },
    };
    try {
      yield* call(Activities.createTestVm, { credential: stage.credential, spec: vmSpec });
      // Run Command needs a running VM: the create was only accepted; read it on durable timers.
      const vmRef = { subscriptionId: vm.subscriptionId, resourceGroup: vm.resourceGroup, name: vm.name };
      yield* untilDone(
        `test VM ${vm.name} in ${stage.name}`,
        Activities.getTestVm,
        { credential: stage.credential, ref: vmRef },
        'vmReady',
        LRO_WAITS.vmCreate,
        { failedCode: 'TestVmNotReady', timedOutCode: 'TestVmNotReady' },
      );
      // Once it is Succeeded, the same (idempotent) activity tags its OS disk.
      yield* call(Activities.createTestVm, { credential: stage.credential, spec: vmSpec });
      for (const [index, script] of definition.test.scripts.entries()) {
        const runCommandName = `imagefactory-test-${index + 1}`;
        const timeoutSeconds = definition.test.timeoutMinutes * 60;
        yield* call(Activities.startTestScript, {
          credential: stage.credential,
          ref: vmRef,
          runCommandName,
          script,
          timeoutSeconds,
        });
        const ended = yield* untilDone(
          `test '${script.name}' in ${stage.name} (timeout ${definition.test.timeoutMinutes} minutes)`,
          Activities.getTestScriptResult,
          { credential: stage.credential, ref: vmRef, runCommandName, scriptName: script.name },
          'scriptEnded',
          { ...LRO_WAITS.runCommand, withinMs: timeoutSeconds * 1000 + LRO_WAITS.runCommand.withinMs },
          { failedCode: 'TestFailed', timedOutCode: 'TestFailed' },
        );
        const outcome = (ended as { value: TestScriptResult }).value;
        result.tests.push(outcome);
        // Also in the status, so a build page shows test output while it runs and after a failure.
        (status.tests ??= []).push({
          stage: stage.name,
          ...outcome,
          outputTail: outcome.outputTail.slice(-300),
        });
        if (outcome.exitCode !== 0) {
          throw new BuildStopped('failed', {
            code: 'TestFailed',
            message: `test '${script.name}' failed in ${stage.name} with exit code ${outcome.exitCode}`,
            step: 'test',
            stage: stage.name,
            logExcerpt: outcome.outputTail,
          });
        }
      }
    } finally {
      // Always torn down: success, test failure, activity failure or cancel.
      yield* deleteTestVm(vm);
      created.vms = created.vms.filter((v) => v !== vm);
    }
  }

  function* approve(
    stage: PipelineStage,
    approvalRequired: { deadlineHours: number },
    attempt: number,
  ): Generator<Task, ApprovalDecision, unknown> {
    const requestedAt = context.df.currentUtcDateTime;
    const deadline = new Date(requestedAt.getTime() + approvalRequired.deadlineHours * 60 * 60 * 1000);
    const request: ApprovalRequest = {
      requestId: `${input.buildId}-${stage.name}-${attempt}`,
      buildId: input.buildId,
      pipeline: definition.name,
      stage: stage.name,
      imageVersion,
      recipeHash: status.recipeHash ?? '',
      testSummary: result.tests.map((t) => `${t.name}: exit ${t.exitCode}`).join('; ') || 'no tests',
      requestedAt: requestedAt.toISOString(),
      deadline: deadline.toISOString(),
    };
    // Pending before it is sent: the status is committed with the send, so an approver who answers at
    // once finds the request the decisions trigger matches against (a decision raised before the wait
    // below starts is buffered by the Durable runtime, not lost).
    status.pendingApproval = request;
    setStage(stage.name, {
      state: 'awaitingApproval',
      approval: {
        requestId: request.requestId,
        requestedAt: request.requestedAt,
        deadline: request.deadline,
      },
    });
    publish(
      'approve',
      `waiting for the ${stage.name} approval (change request ${request.requestId}) until ${request.deadline}`,
      stage.name,
    );
    try {
      yield* call(Activities.sendApprovalRequest, request);
    } catch (error) {
      delete status.pendingApproval;
      throw error;
    }
    yield* event('waitingForApproval', { stage: stage.name, deadline: request.deadline });
    for (;;) {
      // A fresh timer (to the same deadline) per wait: a task yielded again in a new Task.any is
      // sent to the host as a new CreateTimer, which takes a sequence id the library does not count,
      // and every later task's result would then land on the wrong task.
      const deadlineTimer = context.df.createTimer(deadline);
      const decisionTask = context.df.waitForExternalEvent(approvalEventName(stage.name));
      const winner = yield context.df.Task.any([decisionTask, deadlineTimer, cancel]);
      if (winner !== deadlineTimer) deadlineTimer.cancel();
      if (winner === cancel) {
        delete status.pendingApproval;
        throw cancelled();
      }
      if (winner === deadlineTimer) {
        delete status.pendingApproval;
        setStage(stage.name, {
          state: 'timedOut',
          approval: { ...stageStatus(stage.name).approval!, decision: 'timedOut', decidedAt: nowIso() },
        });
        throw new BuildStopped('timedOut', {
          code: 'ApprovalTimedOut',
          message: `no ${stage.name} approval decision before ${request.deadline}`,
          step: 'approve',
          stage: stage.name,
        });
      }
      const { proof, ...decision } = (decisionTask.result ?? {}) as RaisedApprovalDecision;
      // Recorded (output and status message), never acted on; the wait goes on to the same deadline.
      const ignore = (reason: 'mismatch' | 'unverified', why: string, detail?: string) => {
        const ignored = {
          stage: stage.name,
          at: nowIso(),
          requestId: String(decision.requestId ?? ''),
          imageVersion: String(decision.imageVersion ?? ''),
          eventStage: String(decision.stage ?? ''),
          decision: String(decision.decision ?? ''),
          approver: String(decision.approver ?? ''),
          reason,
          ...(detail === undefined ? {} : { detail }),
        };
        result.ignoredDecisions.push(ignored);
        publish(
          undefined,
          `ignored a ${stage.name} decision for request '${ignored.requestId}' / version '${ignored.imageVersion}' / stage '${ignored.eventStage}' (${why}); still waiting until ${request.deadline}`,
        );
      };
      // The trigger only raises matching decisions; this check keeps a stray event from acting.
      if (
        decision.requestId !== request.requestId ||
        decision.imageVersion !== imageVersion ||
        decision.stage !== stage.name
      ) {
        ignore('mismatch', `it does not match request ${request.requestId} for ${imageVersion}`);
        continue;
      }
      // Events can also be raised through the Durable management API, whose links carry the system
      // key: with a signing key configured, only a signature release management made counts.
      const verification = yield* call<DecisionVerification>(Activities.verifyApprovalDecision, {
        decision,
        ...(proof === undefined ? {} : { proof }),
      } satisfies VerifyDecisionInput);
      if (!verification.verified) {
        ignore('unverified', verification.detail, verification.detail);
        continue;
      }
      delete status.pendingApproval;
      setStage(stage.name, {
        approval: {
          ...stageStatus(stage.name).approval!,
          decision: decision.decision,
          decidedAt: decision.decidedAt,
          approver: decision.approver,
          changeTicket: decision.changeTicket,
          ...(decision.comment ? { comment: decision.comment } : {}),
        },
      });
      const decided = { stage: stage.name, approver: decision.approver, changeTicket: decision.changeTicket };
      if (decision.decision !== 'approved') {
        setStage(stage.name, { state: 'rejected' });
        yield* event('rejected', { ...decided, ...(decision.comment ? { message: decision.comment } : {}) });
        throw new BuildStopped('rejected', {
          code: 'ApprovalRejected',
          message: `${stage.name} rejected by ${decision.approver} (${decision.changeTicket})${decision.comment ? `: ${decision.comment}` : ''}`,
          step: 'approve',
          stage: stage.name,
        });
      }
      yield* event('approved', decided);
      return decision;
    }
  }

  /** Build events (docs/notifications.md): never change the outcome. */
  const event = (kind: BuildEventKind, extra: Partial<BuildEventInput> = {}) =>
    notify(context, { kind, buildId: input.buildId, pipeline: definition.name, imageVersion, ...extra });

  const auditTags = (extra: Record<string, string> = {}): Record<string, string> => {
    const common: Record<string, string> = {
      ...(definition.tags ?? {}),
      'imagefactory.buildId': input.buildId,
      'imagefactory.pipeline': definition.name,
      'imagefactory.recipeHash': status.recipeHash ?? '',
      'imagefactory.sourceVersion': (status.sourceImageVersion ?? '').slice(-256),
      'imagefactory.testResult': result.tests.every((t) => t.exitCode === 0)
        ? `passed (${result.tests.length} scripts)`
        : 'failed',
    };
    // The build page shows the audit ledger as the gallery versions carry it: these tags, plus each
    // stage's approval (approver, change ticket), which its stage status holds already.
    status.ledger = common;
    return { ...common, ...extra };
  };

  try {
    context.df.setCustomStatus(status);
    // ---- 1. Preflight: reads only; nothing is created when it fails.
    publish('preflight', 'checking roles, network and source image');
    const preflightTask = context.df.callActivityWithRetry(Activities.preflight, AZURE_CALL_RETRY_OPTIONS, {
      buildId: input.buildId,
      definition,
      queuedAt: startedAt.toISOString(),
    });
    // Preflight only reads, so a cancel may win at once. This first race also makes the library
    // track `cancel` (it does so from the first yield), so `call` sees a cancel that arrives while
    // any later step runs.
    const first = yield context.df.Task.any([preflightTask, cancel]);
    if (first === cancel) throw cancelled();
    const preflight = settled<PreflightResult>(Activities.preflight, preflightTask);
    status.recipeHash = preflight.recipeHash;
    status.sourceImageVersion = preflight.sourceVersion;
    if (preflight.problems.length > 0) {
      throw new BuildStopped('failed', {
        code: 'PreflightFailed',
        message: `${preflight.problems.length} problem(s) must be fixed before this pipeline can build:\n${preflight.problems
          .map((p, i) => `${i + 1}. ${p.message}\n   fix: ${p.fix}`)
          .join('\n')}`,
        step: 'preflight',
        hint: preflight.problems.map((p) => p.fix).join('\n'),
      });
    }
    yield* event('started');
    for (const stage of definition.stages) {
      yield* call(Activities.ensureImageDefinition, {
        credential: stage.credential,
        spec: {
          subscriptionId: stage.subscriptionId,
          resourceGroup: stage.gallery.resourceGroup,
          gallery: stage.gallery.name,
          image: definition.image.definition,
          location: stage.regions[0]?.name ?? definition.build.location,
          osType: definition.image.osType,
          osState: 'Generalized',
          hyperVGeneration: definition.image.hyperVGeneration,
          securityType: definition.image.securityType,
          identifier: definition.image.identifier,
          ...(definition.image.features ? { features: definition.image.features } : {}),
        },
      });
    }

    // ---- 2. Build (or take a VHD built elsewhere as the ENG version).
    const engRef = versionRef(eng, definition.image.definition, imageVersion);
    setStage(eng.name, { state: 'running', startedAt: nowIso() });
    let engVersionId: string;
    if (definition.source.type === 'vhd') {
      publish('build', 'importing the VHD built elsewhere as the ENG version', eng.name);
      created.versions.push({ stage: eng, ref: engRef });
      yield* call(Activities.copyImageVersion, {
        credential: eng.credential,
        spec: {
          ...engRef,
          location: definition.build.location,
          source: {
            kind: 'vhd',
            uri: definition.source.uri,
            storageAccountId: definition.source.storageAccountId,
          },
          targetRegions: targetRegions(eng),
          excludeFromLatest: true,
          tags: auditTags(),
        },
      });
      yield* waitForReplication(eng, engRef);
      engVersionId = `${galleryImageId(eng, definition.image.definition)}/versions/${imageVersion}`;
    } else {
      const templateRef: ImageTemplateRef = {
        subscriptionId: eng.subscriptionId,
        resourceGroup: definition.build.resourceGroup,
        name: preflight.templateName,
      };
      created.template = { ...templateRef, credential: eng.credential };
      created.versions.push({ stage: eng, ref: engRef });
      const source = definition.source;
      const slotKey = buildSlotKey(eng.subscriptionId, definition.build.location);
      const stagingPrefix = definition.build.stagingResourceGroupPrefix;
      publish('build', `creating image template ${templateRef.name}`, eng.name);
      yield* createTemplate(
        {
          ...templateRef,
          location: definition.build.location,
          buildIdentityId: definition.build.identity.resourceId,
          // The template's own staging group, which Image Builder creates and deletes with it.
          ...(stagingPrefix
            ? {
                stagingResourceGroupId: stagingResourceGroupIdFor(
                  eng.subscriptionId,
                  stagingPrefix,
                  templateRef.name,
                ),
              }
            : {}),
          vmSize: definition.build.vmSize,
          osDiskSizeGB: definition.build.osDiskSizeGB,
          buildTimeoutInMinutes: definition.build.timeoutMinutes,
          ...(definition.build.subnetId ? { subnetId: definition.build.subnetId } : {}),
          source:
            source.type === 'platformImage'
              ? {
                  type: 'PlatformImage',
                  publisher: source.publisher,
                  offer: source.offer,
                  sku: source.sku,
                  version: preflight.sourceVersion || source.version,
                }
              : source.type === 'galleryImageVersion'
                ? { type: 'SharedImageVersion', imageVersionId: source.id }
                : { type: 'ManagedImage', imageId: source.id },
          customizers: definition.build.customizers,
          distribute: {
            galleryImageVersionId: `${galleryImageId(eng, definition.image.definition)}/versions/${imageVersion}`,
            runOutputName: 'eng',
            targetRegions: targetRegions(eng),
            excludeFromLatest: true,
          },
          tags: {
            'imagefactory.buildId': input.buildId,
            'imagefactory.pipeline': definition.name,
            [BUILD_SLOT_TAG]: slotKey,
          },
        },
        templateRef,
      );
      // The template is this build's ticket for a build slot; it runs once the slot is granted.
      yield* waitForBuildSlot(templateRef, slotKey);
      publish('build', `starting Image Builder on ${templateRef.name}`, eng.name);
      yield* call(Activities.startImageBuild, { credential: eng.credential, ref: templateRef });
      const history = yield* call<BuildHistory | null>(Activities.loadBuildHistory, {
        credential: eng.credential,
        image: {
          subscriptionId: eng.subscriptionId,
          resourceGroup: eng.gallery.resourceGroup,
          gallery: eng.gallery.name,
          image: definition.image.definition,
        },
      });
      publish('build', 'Image Builder is building', eng.name);
      const runStarted = context.df.currentUtcDateTime.getTime();
      const wait = context.df.callSubOrchestrator(
        WAIT_FOR_BUILD_ORCHESTRATION,
        {
          credential: eng.credential,
          ref: templateRef,
          runStartedMs: runStarted,
          timeoutMs: (definition.build.timeoutMinutes + 30) * 60_000,
          expectedMs: definition.build.expectedMinutes * 60_000,
          history,
          polls: 0,
        } satisfies WaitForBuildInput,
        `${input.buildId}:build`,
      );
      const winner = yield context.df.Task.any([wait, cancel]);
      if (winner === cancel) {
        yield* call(Activities.cancelImageBuild, { credential: eng.credential, ref: templateRef });
        throw cancelled();
      }
      const outcome = wait.result as BuildStatus;
      if (outcome.error)
        throw new BuildStopped('failed', {
          code: outcome.error.code,
          message: `${Activities.getImageBuildStatus}: ${outcome.error.message}`,
          step: 'build',
          stage: eng.name,
          ...(outcome.error.hint ? { hint: outcome.error.hint } : {}),
        });
      const buildDurationMs = context.df.currentUtcDateTime.getTime() - runStarted;
      if (outcome.runState !== 'Succeeded') {
        const log = yield* call<string | null>(Activities.readBuildLog, {
          credential: eng.credential,
          ref: templateRef,
        });
        throw new BuildStopped('failed', {
          code: outcome.exists ? 'BuildFailed' : 'TemplateMissing',
          message: `Image Builder run ${outcome.runState ?? 'did not finish'}${outcome.runSubState ? ` at ${outcome.runSubState}` : ''}: ${outcome.message ?? outcome.provisioningError ?? 'no message'}`,
          step: 'build',
          stage: eng.name,
          ...(outcome.runSubState ? { runSubState: outcome.runSubState } : {}),
          ...(log ? { logExcerpt: log } : {}),
        });
      }
      engVersionId = yield* call<string>(Activities.getImageBuildOutput, {
        credential: eng.credential,
        ref: templateRef,
        runOutputName: 'eng',
      });
      publish('build', `Image Builder finished; deleting image template ${templateRef.name}`, eng.name);
      yield* deleteTemplate(eng.credential, templateRef);
      created.template = undefined;
      yield* updateVersion(eng.credential, engRef, {
        tags: { 'imagefactory.buildDurationMs': String(buildDurationMs) },
      });
    }
    yield* waitForReplication(eng, engRef);
    setStage(eng.name, { versionId: engVersionId });

    // ---- 3. Test in ENG. A failed test stops everything before any promotion.
    publish('test', 'testing the new version on a short-lived VM', eng.name);
    setStage(eng.name, { state: 'testing' });
    yield* runTests(
      eng,
      { resourceGroup: definition.test.resourceGroup, subnetId: definition.test.subnetId },
      engVersionId,
    );
    yield* updateVersion(eng.credential, engRef, {
      excludeFromLatest: false,
      tags: auditTags(),
    });
    setStage(eng.name, { state: 'done', endedAt: nowIso() });
    result.versions.push({ stage: eng.name, id: engVersionId });

    // ---- 4/5. Approve and promote, stage by stage.
    let previous = { stage: eng, versionId: engVersionId };
    for (const stage of definition.stages.slice(1)) {
      const ref = versionRef(stage, definition.image.definition, imageVersion);
      const versionId = `${galleryImageId(stage, definition.image.definition)}/versions/${imageVersion}`;
      setStage(stage.name, { startedAt: nowIso(), state: 'pending' });
      const copy = function* (excludeFromLatest: boolean, extraTags: Record<string, string>) {
        created.versions.push({ stage, ref });
        yield* call(Activities.copyImageVersion, {
          credential: stage.credential,
          ...(previous.stage.tenantId !== stage.tenantId ? { sourceTenantId: previous.stage.tenantId } : {}),
          spec: {
            ...ref,
            location: stage.regions[0]?.name ?? definition.build.location,
            source: { kind: 'galleryImageVersion', id: previous.versionId },
            targetRegions: targetRegions(stage),
            excludeFromLatest,
            tags: auditTags(extraTags),
          },
        });
      };
      let decision: ApprovalDecision | undefined;
      if (stage.preStage) {
        publish(
          'promote',
          `pre-staging ${imageVersion} in ${stage.name} (excluded from latest until approved)`,
          stage.name,
        );
        setStage(stage.name, { state: 'promoting' });
        yield* copy(true, {});
      }
      if (stage.approval?.required) decision = yield* approve(stage, stage.approval, 1);
      const approvalTags: Record<string, string> = decision
        ? { 'imagefactory.approver': decision.approver, 'imagefactory.changeTicket': decision.changeTicket }
        : {};
      setStage(stage.name, { state: 'promoting' });
      if (stage.preStage) {
        publish('promote', `making the pre-staged ${imageVersion} latest in ${stage.name}`, stage.name);
        yield* waitForReplication(stage, ref);
        // Approval only flips the flag: one call.
        yield* updateVersion(stage.credential, ref, {
          excludeFromLatest: false,
          tags: auditTags(approvalTags),
        });
      } else {
        publish('promote', `copying ${imageVersion} into ${stage.name}`, stage.name);
        yield* copy(stage.retest, approvalTags);
        yield* waitForReplication(stage, ref);
      }
      if (stage.retest && stage.testResourceGroup && stage.testSubnetId) {
        setStage(stage.name, { state: 'testing' });
        publish('test', `re-testing in ${stage.name}`, stage.name);
        yield* runTests(
          stage,
          { resourceGroup: stage.testResourceGroup, subnetId: stage.testSubnetId },
          versionId,
        );
        if (!stage.preStage) yield* updateVersion(stage.credential, ref, { excludeFromLatest: false });
      }
      setStage(stage.name, { state: 'done', endedAt: nowIso(), versionId });
      result.versions.push({ stage: stage.name, id: versionId });
      yield* event('promoted', { stage: stage.name, versionId });
      previous = { stage, versionId };
    }
    result.outcome = 'succeeded';
    status.outcome = 'succeeded';
    publish('done', `${imageVersion} is latest in ${definition.stages.map((s) => s.name).join(', ')}`);
    return result;
  } catch (error) {
    compensating = true;
    const stopped =
      error instanceof BuildStopped
        ? error
        : new BuildStopped('failed', {
            code: errorInfo(error).code,
            message: errorInfo(error).message,
            step: status.step,
            ...(status.currentStage ? { stage: status.currentStage } : {}),
          });
    status.outcome = stopped.outcome;
    status.failure = stopped.failure;
    result.outcome = stopped.outcome;
    result.failure = stopped.failure;
    for (const stage of status.stages) {
      if (
        stage.state === 'pending' ||
        stage.state === 'running' ||
        stage.state === 'promoting' ||
        stage.state === 'testing' ||
        stage.state === 'awaitingApproval' ||
        stage.state === 'done'
      ) {
        if (stage.name === stopped.failure.stage || stage.state !== 'done') {
          stage.state =
            stopped.outcome === 'canceled'
              ? 'canceled'
              : stage.name === stopped.failure.stage
                ? stopped.outcome === 'failed'
                  ? 'failed'
                  : stage.state
                : 'skipped';
        }
      }
    }
    publish('compensate', `${stopped.outcome}: cleaning up what this build created`);
    const compensationErrors: string[] = [];
    const attempt = function* (what: string, step: () => Generator<Task, unknown, unknown>) {
      try {
        yield* step();
        return true;
      } catch (compensationError) {
        compensationErrors.push(`${what}: ${errorInfo(compensationError).message}`);
        return false;
      }
    };
    // What compensation removed, for the build page (what it could not remove is in the failure).
    for (const vm of created.vms) {
      if (yield* attempt(`delete test VM ${vm.name}`, () => deleteTestVm(vm)))
        (status.cleanedUp ??= []).push(`deleted test VM ${vm.name}`);
    }
    if (created.template) {
      const { credential, ...ref } = created.template;
      yield* attempt(`cancel build ${ref.name}`, () =>
        call(Activities.cancelImageBuild, { credential, ref }),
      );
      yield* waitForRunToEnd(ref, credential);
      if (yield* attempt(`delete template ${ref.name}`, () => deleteTemplate(credential, ref)))
        (status.cleanedUp ??= []).push(`deleted image template ${ref.name}`);
    }
    for (const { stage, ref } of [...created.versions].reverse()) {
      const removed = yield* attempt(`delete version ${ref.version} in ${stage.name}`, () =>
        // A version number collision must never delete another build's version.
        deleteVersion(stage.credential, ref, input.buildId),
      );
      if (removed) {
        (status.cleanedUp ??= []).push(`deleted version ${ref.version} in ${stage.name}`);
        // The record shows no version that no longer exists.
        delete stageStatus(stage.name).versionId;
        result.versions = result.versions.filter((v) => v.stage !== stage.name);
      }
    }
    if (compensationErrors.length > 0)
      status.failure = {
        ...stopped.failure,
        message: `${stopped.failure.message}\ncleanup left work to do:\n${compensationErrors.join('\n')}`,
      };
    publish('done', stopped.failure.message);
    if (stopped.outcome === 'failed')
      yield* event('failed', {
        code: stopped.failure.code,
        message: stopped.failure.message,
        ...(stopped.failure.stage ? { stage: stopped.failure.stage } : {}),
      });
    if (stopped.outcome === 'failed')
      throw new Error(`${stopped.failure.code}: ${status.failure?.message ?? stopped.failure.message}`);
    return result;
  }
}

export interface WaitForBuildInput {
  credential: string;
  ref: ImageTemplateRef;
  runStartedMs: number;
  timeoutMs: number;
  expectedMs: number;
  history: BuildHistory | null;
  polls: number;
  subState?: { name: string; seenAtMs: number; notSeenAtMs?: number };
}

/** Polls the run on durable timers; continues as new every few polls so history stays bounded. */
export function* waitForImageBuild(context: OrchestrationContext): Generator<Task, BuildStatus, unknown> {
  const input = context.df.getInput<WaitForBuildInput>();
  let subState = input.subState;
  for (let polls = input.polls; ; polls++) {
    const elapsedMs = context.df.currentUtcDateTime.getTime() - input.runStartedMs;
    if (polls - input.polls >= POLLS_PER_GENERATION) {
      context.df.continueAsNew({ ...input, polls, ...(subState ? { subState } : {}) });
      return { exists: true };
    }
    const delay = nextPollDelayMs({
      elapsedMs,
      ...(subState
        ? {
            runSubState: subState.name,
            subStateSeenAtMs: subState.seenAtMs,
            ...(subState.notSeenAtMs !== undefined ? { subStateNotSeenAtMs: subState.notSeenAtMs } : {}),
          }
        : {}),
      history: input.history ?? undefined,
      defaults: {
        ...DEFAULT_BUILD_POLL_DEFAULTS,
        priorP50Ms: input.expectedMs,
        priorP90Ms: input.expectedMs * 2,
      },
    });
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay));
    const polled = yield* poll<BuildStatus>(context, Activities.getImageBuildStatus, {
      credential: input.credential,
      ref: input.ref,
    });
    if (polled === undefined) continue;
    if ('refused' in polled) return { exists: true, error: polled.refused };
    const status = polled.value;
    const now = context.df.currentUtcDateTime.getTime() - input.runStartedMs;
    if (!status.exists) return status;
    if (status.provisioningState === 'Failed') return status;
    // Canceling is not an end: the run is still tearing down (and its template cannot be deleted yet).
    if (status.runState && !['Running', 'NotStarted', 'Canceling'].includes(status.runState)) return status;
    if (now > input.timeoutMs)
      return {
        ...status,
        runState: 'Failed',
        message: `no result ${Math.round(input.timeoutMs / 60000)} minutes after the run started`,
      };
    if (status.runSubState && status.runSubState !== subState?.name) {
      subState = { name: status.runSubState, seenAtMs: now, ...(subState ? { notSeenAtMs: elapsedMs } : {}) };
    }
  }
}

export interface WaitForReplicationInput {
  credential: string;
  ref: GalleryImageVersionRef;
  stageName: string;
  startedMs: number;
  deadlineMs: number;
  polls: number;
  /** Regions as the parent last saw them; absent on the first call (then the first poll reports). */
  regions?: ReplicationOutcome['regions'];
}

export interface ReplicationOutcome {
  /** InProgress: a region changed state, or a generation of polls ended; the parent calls again. */
  state: 'InProgress' | 'Completed' | 'Failed' | 'Missing' | 'TimedOut';
  message: string;
  regions: { name: string; state: string; progress: number }[];
  polls: number;
}

const regionStates = (regions: ReplicationOutcome['regions']) =>
  regions.map((r) => `${r.name}:${r.state}`).join(',');

/**
 * Polls a version's per-region replication on durable timers. It returns to the parent whenever a
 * region changes state (and at least every few polls), so the build's custom status shows
 * per-region progress while the polling itself stays out of the build's history.
 */
export function* waitForVersionReplication(
  context: OrchestrationContext,
): Generator<Task, ReplicationOutcome, unknown> {
  const input = context.df.getInput<WaitForReplicationInput>();
  let regions: ReplicationOutcome['regions'] = input.regions ?? [];
  for (let polls = input.polls; ; polls++) {
    const outcome = (state: ReplicationOutcome['state'], message: string): ReplicationOutcome => ({
      state,
      message,
      regions,
      polls,
    });
    if (polls - input.polls >= POLLS_PER_GENERATION) return outcome('InProgress', 'still replicating');
    if (input.regions !== undefined || polls > input.polls) {
      const now = context.df.currentUtcDateTime.getTime();
      const delay = nextReplicationPollDelayMs({
        elapsedMs: now - input.startedMs,
        regions,
        defaults: DEFAULT_REPLICATION_POLL_DEFAULTS,
      });
      yield context.df.createTimer(new Date(now + delay));
    }
    const polled = yield* poll<VersionInfo>(context, Activities.getImageVersion, {
      credential: input.credential,
      ref: input.ref,
    });
    if (polled === undefined) continue; // transient: the next poll is the retry
    if ('refused' in polled) return outcome('Failed', polled.refused.message);
    const info = polled.value;
    if (info === null) return outcome('Missing', `version ${input.ref.version} does not exist`);
    const before = regionStates(regions);
    regions = info.regions.map((r) => ({ name: r.name, state: r.state, progress: r.progress }));
    context.df.setCustomStatus({ stage: input.stageName, regions });
    const failedRegion = info.regions.find((r) => r.state === 'Failed');
    if (info.provisioningState === 'Failed' || failedRegion)
      return outcome(
        'Failed',
        `${failedRegion?.name ?? 'the version'} failed: ${failedRegion?.details ?? info.provisioningState}`,
      );
    if (info.provisioningState === 'Succeeded' && info.regions.every((r) => r.state === 'Completed'))
      return outcome('Completed', 'replicated to every region');
    if (context.df.currentUtcDateTime.getTime() > input.deadlineMs)
      return outcome('TimedOut', 'not replicated within 6 hours');
    if (input.regions === undefined || regionStates(regions) !== before)
      return outcome('InProgress', 'a region changed state');
  }
}

export type SlotWaitOutcome = SlotDecision & { error?: { code: string; message: string; hint?: string } };

export interface WaitForBuildSlotInput {
  claim: ClaimBuildSlotInput;
  startedMs: number;
  polls: number;
  /** Before the next ask (slotPollDelayMs of the last answer); absent at first: one minute. */
  nextPollMs?: number;
}

/**
 * Asks for a build slot until granted, or until the build's ticket is gone (its build was cancelled
 * and compensated): every minute when next in line, less often the further back it is. Continues as new every few polls: a queue of hours stays cheap.
 * Its custom status shows the queue position.
 */
export function* waitForBuildSlot(context: OrchestrationContext): Generator<Task, SlotWaitOutcome, unknown> {
  const input = context.df.getInput<WaitForBuildSlotInput>();
  let nextPollMs = input.nextPollMs ?? BUILD_SLOT_POLL_MS;
  for (let polls = input.polls; ; polls++) {
    if (polls - input.polls >= POLLS_PER_GENERATION) {
      context.df.continueAsNew({ ...input, polls, nextPollMs });
      return { granted: false, ticketExists: true, running: 0, ahead: 0, limit: 0 };
    }
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + nextPollMs));
    const polled = yield* poll<SlotDecision>(context, Activities.claimBuildSlot, input.claim);
    if (polled === undefined) continue;
    if ('refused' in polled)
      return { granted: false, ticketExists: true, running: 0, ahead: 0, limit: 0, error: polled.refused };
    const slot = polled.value;
    if (slot.granted || !slot.ticketExists) return slot;
    nextPollMs = slotPollDelayMs(slot);
    context.df.setCustomStatus({
      waitingSinceMs: input.startedMs,
      running: slot.running,
      ahead: slot.ahead,
      limit: slot.limit,
    });
  }
}

/**
 * Entries kept in the custom status timeline: Azure limits a custom status to 16 KB of UTF-16 JSON
 * text (about 8,000 characters; learn.microsoft.com, "Custom orchestration status").
 */
const TIMELINE_ENTRIES = 24;

/**
 * The build page's timeline: a new entry whenever the step, stage or message changes, the previous
 * one ended at that moment (orchestration time, so replays write the same). The oldest entries go
 * first when there are too many.
 */
export function recordTimeline(status: BuildCustomStatus): void {
  const timeline = (status.timeline ??= []);
  const last = timeline[timeline.length - 1];
  const what = (status.message ?? '').split('\n')[0]?.slice(0, 100) ?? '';
  if (last && last.step === status.step && last.stage === status.currentStage && last.what === what) return;
  if (last && last.endedAt === undefined) last.endedAt = status.updatedAt;
  if (status.step === 'done') return;
  timeline.push({
    step: status.step,
    ...(status.currentStage === undefined ? {} : { stage: status.currentStage }),
    what,
    startedAt: status.updatedAt,
  });
  if (timeline.length > TIMELINE_ENTRIES) timeline.splice(0, timeline.length - TIMELINE_ENTRIES);
}
