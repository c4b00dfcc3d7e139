/**
 * BuildRun: the one record a build's steps share, passed to each step explicitly. It holds what the
 * build has published (custom status), what it will return (result), what compensation must undo
 * (created), and the cancel event every wait races against; and it makes the calls every step makes
 * the same way: an activity with retries, a durable wait a cancel cuts short, a wait for an Azure
 * operation in a sub-orchestration. Nothing here yields on its own; the steps decide the sequence.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import { refusalOf } from '../../domain/pipeline/activities';
import type { TestScriptResult } from '../../domain/pipeline/activities';
import type { GalleryImageVersionRef, ImageTemplateRef, VmRef } from '../../ports/azure';
import {
  CANCEL_EVENT,
  type BuildCustomStatus,
  type BuildFailure,
  type BuildOutcome,
  type BuildStep,
  type SecurityGateStatus,
  type StageStatus,
} from '../../domain/build-status';
import type { BuildInput } from '../../domain/pipeline/admission';
import type { PipelineDefinition, PipelineStage } from '../../domain/pipeline/definition';
import { imageVersionFor } from '../../domain/pipeline/versioning';
import {
  AWAIT_OPERATION_ORCHESTRATION,
  type AwaitOperationInput,
  type AwaitOutcome,
  type JudgeName,
  type PollTiming,
  timingForRelease,
} from '../await-done';
import type { BuildEventInput, BuildEventKind } from '../../domain/notifications/events';
import { notify, type Announcements, type BuildEventDraft } from '../notify';
import { ActivityRefused, BuildStopped, callAzure, errorInfo, type ErrorInfo } from './activity-calls';

export interface BuildResult {
  outcome: BuildOutcome;
  imageVersion?: string;
  versions: { stage: string; id: string }[];
  tests: TestScriptResult[];
  failure?: BuildFailure;
  securityGate?: SecurityGateStatus;
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

/** What compensation must undo, recorded before each create is attempted. */
export interface Created {
  template: (ImageTemplateRef & { credential: string }) | undefined;
  vms: (VmRef & { credential: string })[];
  versions: { stage: PipelineStage; ref: GalleryImageVersionRef }[];
}

/**
 * Refusals after which Azure names when the same call will succeed (`retryAfterMs`): the build waits
 * that long on a durable timer and calls again, rather than failing.
 */
const WAIT_THEN_RETRY_CODES = new Set(['NicReservedForAnotherVm']);

export class BuildRun {
  readonly eng: PipelineStage;
  readonly startedAt: Date;
  readonly imageVersion: string;
  /** The cancel event: every wait of the build races against it (see raceCancel). */
  readonly cancel: Task;
  readonly status: BuildCustomStatus;
  readonly result: BuildResult;
  readonly created: Created = { template: undefined, vms: [], versions: [] };
  /** Set once compensation runs: from then on waits run to their end and a cancel stops nothing. */
  compensating = false;
  /** Counters that give each sub-orchestration of this build its own instance id. */
  private readonly waits = { operation: 0, replication: 0, slot: 0 };

  constructor(
    readonly context: OrchestrationContext,
    readonly input: BuildInput,
    readonly definition: PipelineDefinition,
  ) {
    this.eng = definition.stages[0] as PipelineStage;
    this.startedAt = context.df.currentUtcDateTime;
    this.imageVersion = imageVersionFor(this.startedAt, input.buildId);
    this.cancel = context.df.waitForExternalEvent(CANCEL_EVENT);
    this.status = {
      buildId: input.buildId,
      pipeline: definition.name,
      ...(context.df.version ? { factoryVersion: context.df.version } : {}),
      outcome: 'running',
      step: 'preflight',
      imageVersion: this.imageVersion,
      stages: definition.stages.map((stage) => ({
        name: stage.name,
        tenantId: stage.tenantId,
        state: 'pending',
      })),
      updatedAt: this.now(),
    };
    this.result = {
      outcome: 'running',
      imageVersion: this.imageVersion,
      versions: [],
      tests: [],
      ignoredDecisions: [],
    };
  }

  /** The orchestration's (replay-safe) time. */
  now(): string {
    return this.context.df.currentUtcDateTime.toISOString();
  }

  nowMs(): number {
    return this.context.df.currentUtcDateTime.getTime();
  }

  /** Publishes the custom status, with the step, message and current stage when given. */
  publish(step?: BuildStep, message?: string, stageName?: string): void {
    if (step !== undefined) this.status.step = step;
    if (message !== undefined) this.status.message = message;
    if (stageName !== undefined) this.status.currentStage = stageName;
    this.status.updatedAt = this.now();
    recordTimeline(this.status);
    this.context.df.setCustomStatus(this.status);
  }

  stage(name: string): StageStatus {
    return this.status.stages.find((s) => s.name === name) as StageStatus;
  }

  setStage(name: string, patch: Partial<StageStatus>): StageStatus {
    return Object.assign(this.stage(name), patch);
  }

  /** Instance id of this build's next sub-orchestration of a kind (`<buildId>:<kind>:<n>`). */
  nextWaitId(kind: keyof BuildRun['waits']): string {
    this.waits[kind] += 1;
    const label = kind === 'operation' ? 'await' : kind === 'replication' ? 'replicate' : 'slot';
    return `${this.input.buildId}:${label}:${this.waits[kind]}`;
  }

  /** Calls an activity (host retries for transient errors); any failure stops the build with its code. */
  *call<T>(name: string, activityInput: unknown): Generator<Task, T, unknown> {
    let value: T;
    for (let waits = 0; ; waits++) {
      try {
        value = yield* callAzure<T>(this.context, name, activityInput);
        break;
      } catch (error) {
        const info = errorInfo(error);
        // Azure named the time after which the same call succeeds (a NIC held by a failed VM
        // create): wait it out on a durable timer, a few times at most, instead of failing.
        if (WAIT_THEN_RETRY_CODES.has(info.code) && info.retryAfterMs !== undefined && waits < 3) {
          this.publish(
            this.status.step,
            `waiting ${Math.round(info.retryAfterMs / 1000)} s: ${info.message}`,
          );
          yield* this.pause(info.retryAfterMs);
          continue;
        }
        throw this.stoppedBy(name, error, info);
      }
    }
    this.stopIfCancelled();
    return value;
  }

  /**
   * Calls an activity as `call` does, for a step that can go on without its result: an activity
   * that fails after its retries comes back as the failure it would have stopped the build with. A
   * cancel still stops the build.
   */
  *callOrFailure<T>(
    name: string,
    activityInput: unknown,
  ): Generator<Task, { value: T } | { failure: BuildFailure }, unknown> {
    try {
      return { value: yield* this.call<T>(name, activityInput) };
    } catch (error) {
      if (!(error instanceof BuildStopped) || error.outcome !== 'failed') throw error;
      return { failure: error.failure };
    }
  }

  /**
   * A cancel that arrived while a step ran uncut (e.g. preflight, a template's wait) stops the build
   * before the next step. Deterministic: replay applies the cancel event at the same place in the
   * history.
   */
  stopIfCancelled(): void {
    if (!this.compensating && this.cancel.isCompleted) throw this.cancelled();
  }

  /** Waits for `task` unless the build is cancelled first (then throws the cancel). */
  *raceCancel(task: Task): Generator<Task, void, unknown> {
    const winner = yield this.context.df.Task.any([task, this.cancel]);
    if (winner === this.cancel) throw this.cancelled();
  }

  /** A wait that a cancel cuts short, except while compensating (cleanup must finish). */
  *pause(ms: number): Generator<Task, void, unknown> {
    if (!this.compensating) return yield* this.sleep(ms);
    yield this.context.df.createTimer(new Date(this.nowMs() + ms));
  }

  /** Sleeps, unless the build is cancelled meanwhile. */
  *sleep(ms: number): Generator<Task, void, unknown> {
    const timer = this.context.df.createTimer(new Date(this.nowMs() + ms));
    const winner = yield this.context.df.Task.any([timer, this.cancel]);
    if (winner === this.cancel) {
      timer.cancel();
      throw this.cancelled();
    }
  }

  stoppedBy(name: string, error: unknown, info: ErrorInfo): BuildStopped {
    return new BuildStopped('failed', {
      code: info.code,
      message: error instanceof ActivityRefused ? error.message : `${name}: ${info.message}`,
      step: this.status.step,
      ...(this.status.currentStage ? { stage: this.status.currentStage } : {}),
      ...(info.hint ? { hint: info.hint } : {}),
    });
  }

  /** The outcome of an activity task that already settled (e.g. the winner of a race). */
  settled<T>(name: string, task: Task): T {
    const error = task.isFaulted ? task.result : undefined;
    const refusal = task.isFaulted ? undefined : refusalOf(task.result);
    if (!task.isFaulted && refusal === undefined) return task.result as T;
    const info = errorInfo(refusal ? new ActivityRefused(name, refusal) : error);
    throw new BuildStopped('failed', {
      code: info.code,
      message: `${name}: ${info.message}`,
      step: this.status.step,
      ...(this.status.currentStage ? { stage: this.status.currentStage } : {}),
      ...(info.hint ? { hint: info.hint } : {}),
    });
  }

  cancelled(): BuildStopped {
    const data = (this.cancel.result ?? {}) as { reason?: string; requestedBy?: string };
    return new BuildStopped('canceled', {
      code: 'Canceled',
      message: `Canceled${data.requestedBy ? ` by ${data.requestedBy}` : ''}: ${data.reason ?? 'no reason given'}`,
      step: this.status.step,
      ...(this.status.currentStage ? { stage: this.status.currentStage } : {}),
    });
  }

  /**
   * The generic "wait until the resource says done" step: a sub-orchestration (await-operation.ts)
   * reads `activity` on durable timers until `judge` says done or failed, or the deadline passes.
   * Raced against cancel unless it must run to its end (teardown, compensation). A failure whose
   * code is `expected` is returned; any other stops the build.
   */
  *untilDone(
    what: string,
    activity: string,
    activityInput: unknown,
    judge: JudgeName,
    timing: Omit<PollTiming, 'deadlineMs'> & { withinMs: number },
    options: {
      cancellable?: boolean;
      failedCode?: string;
      timedOutCode?: string;
      expected?: string;
      /** The activity that starts the operation, called by the wait itself (see AwaitOperationInput). */
      start?: AwaitOperationInput['start'];
      /** The first read starts the operation, at once (see AwaitOperationInput). */
      readFirst?: boolean;
      /** Build events the wait publishes itself (0.7.0 on, see Announcements). */
      announce?: Announcements;
    } = {},
  ): Generator<Task, { value: unknown } | { failure: ErrorInfo }, unknown> {
    const id = this.nextWaitId('operation');
    const { withinMs, ...poll } = timingForRelease(this.context, timing);
    const wait = this.context.df.callSubOrchestrator(
      AWAIT_OPERATION_ORCHESTRATION,
      {
        what,
        activity,
        activityInput,
        judge,
        timing: { ...poll, deadlineMs: this.nowMs() + withinMs, withinMs },
        failedCode: options.failedCode ?? 'OperationFailed',
        timedOutCode: options.timedOutCode ?? 'OperationTimedOut',
        reads: 0,
        ...(options.start === undefined ? {} : { start: options.start }),
        ...(options.readFirst ? { readFirst: true } : {}),
        ...(options.announce === undefined ? {} : { announce: options.announce }),
      } satisfies AwaitOperationInput,
      id,
    );
    if ((options.cancellable ?? true) && !this.compensating) yield* this.raceCancel(wait);
    else yield wait;
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
      step: this.status.step,
      ...(this.status.currentStage ? { stage: this.status.currentStage } : {}),
      ...(failure.hint ? { hint: failure.hint } : {}),
    });
  }

  /** Publishes a build event (docs/notifications.md); it never changes the outcome. */
  *event(kind: BuildEventKind, extra: Partial<BuildEventInput> = {}): Generator<Task, boolean, unknown> {
    return yield* notify(this.context, this.eventDraft(kind, extra));
  }

  /** A build event of this build, for a wait to publish (Announcements) or for event(). */
  eventDraft(kind: BuildEventKind, extra: Partial<BuildEventInput> = {}): BuildEventDraft {
    return {
      kind,
      buildId: this.input.buildId,
      pipeline: this.definition.name,
      imageVersion: this.imageVersion,
      ...extra,
    };
  }

  /** The audit trail every version of this build carries in its tags. */
  auditTags(extra: Record<string, string> = {}): Record<string, string> {
    const common: Record<string, string> = {
      ...(this.definition.tags ?? {}),
      'imagefactory.buildId': this.input.buildId,
      'imagefactory.pipeline': this.definition.name,
      'imagefactory.recipeHash': this.status.recipeHash ?? '',
      'imagefactory.sourceVersion': (this.status.sourceImageVersion ?? '').slice(-256),
      'imagefactory.testResult': this.result.tests.every((t) => t.exitCode === 0)
        ? `passed (${this.result.tests.length} scripts)`
        : 'failed',
    };
    // The build page shows the audit ledger as the gallery versions carry it: these tags, plus each
    // stage's approval (approver, change ticket), which its stage status holds already.
    this.status.ledger = common;
    return { ...common, ...extra };
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
