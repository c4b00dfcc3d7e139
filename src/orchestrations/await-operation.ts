/**
 * The sub-orchestration behind the generic "wait until the resource says done" step: optionally
 * starts the operation (`start`, 0.5.0 on) and publishes the build events it is told to
 * (`announce`, 0.7.0 on), then reads the resource with one read activity on
 * durable timers (delays from await-done.ts), judges each read,
 * and ends with the value, a failure, or a timeout at the deadline (from 0.8.0 measured from the
 * start's return; before, only from a start that returned after it). It continues as new every few
 * reads, so even a 90-minute test script keeps a short history, and the build's own history grows
 * by one sub-orchestration per wait.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import { JUDGES, nextAwaitDelayMs, type AwaitOperationInput, type AwaitOutcome } from './await-done';
import { callAzure, failureOf, poll } from './build/activity-calls';
import { pollsPerGeneration } from './build/waits';
import { laterAnnouncements, notify } from './notify';
import { OPERATION_TIME_FROM_ITS_START_SINCE } from './build/release-gates';
import { sinceVersion } from '../shared/orchestration-version';

export function* awaitAzureOperation(context: OrchestrationContext): Generator<Task, AwaitOutcome, unknown> {
  const input = context.df.getInput<AwaitOperationInput>();
  const now = () => context.df.currentUtcDateTime.getTime();
  const perGeneration = pollsPerGeneration(context);
  const { start, announce, ...waiting } = input;
  let timing = input.timing;
  const waitBegan = now();
  if (announce?.atStart !== undefined) yield* notify(context, announce.atStart);
  if (start !== undefined) {
    try {
      yield* callAzure<unknown>(context, start.activity, start.input);
    } catch (error) {
      const failure = failureOf(error);
      return { failed: { ...failure, message: `${start.activity}: ${failure.message}` } };
    }
  }
  // From 0.8.0 the operation has its whole time from the start's return, however late that was
  // (test/reliability/late-start.test.ts): the build asked for the wait with that much time.
  if (
    start !== undefined &&
    timing.withinMs !== undefined &&
    sinceVersion(context, OPERATION_TIME_FROM_ITS_START_SINCE)
  )
    timing = { ...timing, deadlineMs: Math.max(timing.deadlineMs, now() + timing.withinMs) };
  // Before 0.8.0, a start that returned only after the deadline gives the operation its time from
  // then, once the read at once below has not found it done: the app was down while the start was
  // in flight, and a start whose answer was lost runs again after the restart, and starts the
  // operation only then if its first run had not reached Azure (test/reliability/late-start.test.ts).
  const lateStart =
    start !== undefined && now() >= timing.deadlineMs
      ? { ...timing, deadlineMs: now() + (timing.withinMs ?? timing.deadlineMs - waitBegan) }
      : undefined;
  let last = 'not read yet';
  for (let reads = input.reads; ; reads++) {
    if (reads - input.reads >= perGeneration) {
      // Without `start` (or an announcement of it): the next generation only reads.
      context.df.continueAsNew({ ...waiting, timing, ...laterAnnouncements(announce), reads });
      return { failed: { code: 'ContinuedAsNew', message: 'continued as new' } };
    }
    const overdue = now() >= timing.deadlineMs;
    // Started (or still running): Azure's Retry-After first, then growing delays to the deadline.
    // Past the deadline (e.g. the app was down or redeployed meanwhile) it reads once more at once:
    // an operation that finished in the meantime is done, not timed out.
    // With readFirst the first read is the start (at once), and the delays after it those after a start.
    const startRead = input.readFirst === true && reads === 0;
    if (!overdue && !startRead)
      yield context.df.createTimer(
        new Date(now() + nextAwaitDelayMs(timing, input.readFirst ? reads - 1 : reads, now())),
      );
    const polled = yield* poll<unknown>(context, input.activity, input.activityInput);
    if (polled === undefined && !overdue) continue; // transient: the next read is the retry
    if (polled === undefined) last = 'the last read failed';
    if (polled !== undefined && 'refused' in polled) {
      // Azure named when the same call succeeds (e.g. a NIC a failed VM create still holds for
      // 180 s): read again then, on a durable timer, if that is before the deadline.
      const after = polled.refused.retryAfterMs;
      if (after === undefined || now() + after > timing.deadlineMs) return { failed: polled.refused };
      last = `${polled.refused.code}, waiting ${Math.round(after / 1000)} s: ${polled.refused.message}`;
      context.df.setCustomStatus({ what: input.what, reads: reads + 1, last });
      yield context.df.createTimer(new Date(now() + after));
      continue;
    }
    if (polled !== undefined) {
      const verdict = JUDGES[input.judge](polled.value);
      if ('done' in verdict) {
        if (announce?.whenDone !== undefined) yield* notify(context, announce.whenDone);
        return { done: verdict.done };
      }
      if ('failed' in verdict)
        return { failed: { code: input.failedCode, message: `${input.what}: ${verdict.failed}` } };
      last = verdict.waiting;
    }
    if (overdue && lateStart !== undefined && timing !== lateStart) {
      // Before this branch existed the wait timed out here, in its last episode: no wait that took
      // that path replays, so no version gate (docs/runbook.md, "Release", what may change freely).
      timing = lateStart;
    } else if (overdue)
      return {
        failed: {
          code: input.timedOutCode,
          message: `${input.what}: not done by ${new Date(timing.deadlineMs).toISOString()} (last seen: ${last})`,
        },
      };
    context.df.setCustomStatus({ what: input.what, reads: reads + 1, last });
  }
}
