/**
 * One generic orchestration step: "wait until the resource says done". Azure's long-running
 * operations (VM create ~2 min, template delete ~77 s, version PATCH ~3 min, a test script up to
 * 90 min) are started by an activity that returns once ARM accepted them; the orchestration then
 * reads the resource (or the operation) with a separate read activity on durable timers, so no
 * activity ever outlives host.json's functionTimeout. Deterministic: time only from the caller's
 * `now` (context.df.currentUtcDateTime), every sleep ends at the deadline at the latest.
 */
import type { Task } from 'durable-functions';

/** What one read says: finished (with a value), failed (why), or still running (what it shows). */
export type Verdict<R> = { done: R } | { failed: string } | { waiting: string };

export interface PollTiming {
  /** First delay after the start and between reads: Azure's Retry-After for the operation. */
  pollMs: number;
  /** Delays grow by `backoff` per read up to this (long scripts: fewer reads, bounded history). */
  maxPollMs?: number;
  backoff?: number;
  /** Absolute clock ms: no sleep ends after it; still not done at it = timed out. */
  deadlineMs: number;
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

/** The next delay: pollMs, growing by backoff per read already made, capped by maxPollMs and the deadline. */
export function nextAwaitDelayMs(timing: PollTiming, reads: number, now: number): number {
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
