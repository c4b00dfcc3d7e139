/**
 * One generic orchestration step: "wait until the resource says done". Azure's long-running
 * operations (VM create ~2 min, template delete ~77 s, version PATCH ~3 min, a test script up to
 * 90 min) are started by an activity that returns once ARM accepted them; the orchestration then
 * reads the resource (or the operation) with a separate read activity on durable timers, so no
 * activity ever outlives host.json's functionTimeout. Deterministic: time only from the caller's
 * `now` (context.df.currentUtcDateTime), every sleep ends at the deadline at the latest.
 */
import type { Task } from 'durable-functions';
import { sinceVersion } from '../shared/orchestration-version';
import type { Announcements } from './notify';

/** What one read says: finished (with a value), failed (why), or still running (what it shows). */
export type Verdict<R> = { done: R } | { failed: string } | { waiting: string };

export interface PollTiming {
  /** Delay between reads (and the first one, unless firstPollMs): Azure's Retry-After for the operation. */
  pollMs: number;
  /**
   * First delay after the start, when the operation's usual duration is known and longer than its
   * Retry-After: one read where the operation usually ends instead of a read every Retry-After
   * before it (each read is an ARM request and two episodes of the waiting orchestration).
   */
  firstPollMs?: number;
  /** Delays grow by `backoff` per read up to this (long scripts: fewer reads, bounded history). */
  maxPollMs?: number;
  backoff?: number;
  /** Absolute clock ms: no sleep ends after it; still not done at it = timed out. */
  deadlineMs: number;
  /**
   * The time the operation has from its start (the deadline was set that far from when the wait
   * was asked for): from 0.8.0 a wait with a `start` gives it this long from the start's return;
   * before, only a start that returned after the deadline did. Absent in waits asked for before it
   * existed: the time that was left when the wait began.
   */
  withinMs?: number;
}

export interface AwaitDoneOptions<T, R> extends PollTiming {
  /** One read (an activity call). */
  read: () => Generator<Task, T, unknown>;
  judge: (value: T) => Verdict<R>;
  now: () => number;
  /** A durable timer (the caller races it against its cancel event when it has one). */
  sleep: (ms: number) => Generator<Task, void, unknown>;
  failed: (why: string) => Error;
  /** `last` is the last read's waiting reason. */
  timedOut: (last: string) => Error;
}

/**
 * The factory release from which a wait's first read waits for the operation's usual duration
 * (issue 16, P1). Builds and revocations started on an older release read every Retry-After from
 * the start, as they did: their replays must schedule the same timers (docs/runbook.md, "Release").
 */
export const FIRST_READ_AT_USUAL_END_SINCE = '0.4.0';

/** The timing as the instance's release has it: without firstPollMs before FIRST_READ_AT_USUAL_END_SINCE. */
export function timingForRelease<T extends { firstPollMs?: number }>(
  context: { df: { version?: string | undefined } },
  timing: T,
): T {
  if (sinceVersion(context, FIRST_READ_AT_USUAL_END_SINCE)) return timing;
  const { firstPollMs: _usualEnd, ...older } = timing;
  return older as T;
}

/** The next delay: firstPollMs for the first read when set, else pollMs growing by backoff per read already made, capped by maxPollMs and the deadline. */
export function nextAwaitDelayMs(timing: PollTiming, reads: number, now: number): number {
  if (reads === 0 && timing.firstPollMs !== undefined)
    return Math.max(0, Math.min(timing.firstPollMs, timing.deadlineMs - now));
  const grown = timing.pollMs * (timing.backoff ?? 1) ** reads;
  return Math.max(0, Math.min(grown, timing.maxPollMs ?? timing.pollMs, timing.deadlineMs - now));
}

export function* awaitDone<T, R>(options: AwaitDoneOptions<T, R>): Generator<Task, R, unknown> {
  let last = 'not read yet';
  for (let reads = 0; ; reads++) {
    if (options.now() >= options.deadlineMs) throw options.timedOut(last);
    // The operation was just started (or is still running): Azure asks for Retry-After first.
    yield* options.sleep(nextAwaitDelayMs(options, reads, options.now()));
    const verdict = options.judge(yield* options.read());
    if ('done' in verdict) return verdict.done;
    if ('failed' in verdict) throw options.failed(verdict.failed);
    last = verdict.waiting;
  }
}

// ---------------------------------------------------------------- the waiting sub-orchestration

export const AWAIT_OPERATION_ORCHESTRATION = 'awaitAzureOperation';

/**
 * How a read is judged, by name (a sub-orchestration's input must be data). Each reads the value
 * its read activity returns (see src/domain/pipeline/activities.ts).
 */
export const JUDGES = {
  /** getImageTemplateProvisioning: { provisioningState } | null (a failure is a refusal). */
  templateProvisioned: (v: unknown): Verdict<unknown> => {
    const s = v as { provisioningState: string } | null;
    if (s === null) return { failed: 'the template disappeared while it was provisioned' };
    return s.provisioningState === 'Succeeded' ? { done: s } : { waiting: s.provisioningState };
  },
  /** getImageBuildStatus: gone when it no longer exists. */
  templateGone: (v: unknown): Verdict<unknown> => {
    const s = v as { exists: boolean; provisioningState?: string };
    return s.exists ? { waiting: s.provisioningState ?? 'exists' } : { done: null };
  },
  /** getTestVm: { provisioningState } | null. */
  vmReady: (v: unknown): Verdict<unknown> => {
    const s = v as { provisioningState: string; failure?: { code: string; message: string } } | null;
    if (s === null) return { failed: 'is missing' };
    if (s.provisioningState === 'Succeeded') return { done: s };
    if (s.provisioningState === 'Failed')
      return { failed: s.failure ? `create failed: ${s.failure.code}: ${s.failure.message}` : 'is Failed' };
    return { waiting: s.provisioningState };
  },
  /** deleteTestVm (idempotent: starts only deletes not yet running, so it is also the read). */
  testVmGone: (v: unknown): Verdict<unknown> => {
    const t = v as { remaining: string[] };
    return t.remaining.length === 0
      ? { done: null }
      : { waiting: t.remaining.map((id) => id.split('/').pop() ?? id).join(', ') };
  },
  /** getImageVersion: a PATCH is done when the version is Succeeded again (it was Updating). */
  versionUpdated: (v: unknown): Verdict<unknown> => {
    const version = v as { provisioningState: string } | null;
    if (version === null) return { failed: 'the version does not exist' };
    if (version.provisioningState === 'Succeeded') return { done: null };
    if (version.provisioningState === 'Failed') return { failed: 'the version is Failed' };
    return { waiting: version.provisioningState };
  },
  /** getImageVersion: gone when null. */
  versionGone: (v: unknown): Verdict<unknown> => {
    const version = v as { provisioningState: string } | null;
    return version === null ? { done: null } : { waiting: version.provisioningState };
  },
  /** getTestScriptResult: { state, result? }; a TimedOut Run Command is a failure. */
  scriptEnded: (v: unknown): Verdict<unknown> => {
    const p = v as { state: string; result?: unknown };
    if (p.state === 'TimedOut') return { failed: 'the Run Command timed out (timeoutInSeconds)' };
    return p.result !== undefined ? { done: p.result } : { waiting: p.state };
  },
} as const;

export type JudgeName = keyof typeof JUDGES;

export interface AwaitOperationInput {
  /** For messages, e.g. "delete image template it-…". */
  what: string;
  activity: string;
  activityInput: unknown;
  judge: JudgeName;
  timing: PollTiming;
  failedCode: string;
  timedOutCode: string;
  /** Reads made by earlier generations (continueAsNew). */
  reads: number;
  /**
   * The first read at once, with no timer: the read is the idempotent call that starts the operation
   * (a test VM's teardown, 0.6.0 on); the delays after it are those after a start.
   */
  readFirst?: boolean;
  /**
   * The activity that starts the operation, called under the retry policy before the first read
   * (from 0.5.0, where nothing can be left behind if a cancel wins the race while it runs: the
   * template delete, a test script), so starting and waiting cost the build one episode, not two.
   */
  start?: { activity: string; input: unknown };
  /**
   * Build events the wait publishes itself (from 0.7.0): at its start, before `start`; when done,
   * before it returns (see Announcements).
   */
  announce?: Announcements;
}

/** What the wait ended with: the judged value, or a failure (a read's refusal keeps its code). */
export type AwaitOutcome = { done: unknown } | { failed: { code: string; message: string; hint?: string } };
