/**
 * Issue 13 item 8: Azure asks callers to wait `Retry-After` between polls of a long-running
 * operation (version PATCH/DELETE 60 s, VM create 10–30 s, NIC delete 10 s; recorded traffic, in
 * the simulator's lro.ts). The SDK pollers obey it; the orchestration's own waits (LRO_WAITS, read
 * by the awaitAzureOperation step on durable timers) must not poll sooner either. Their first read
 * is where the operation usually ends (issue 16, P1: fewer reads and episodes per wait).
 */
import { LRO_WAITS } from '../../src/orchestrations/build-pipeline';
import { nextAwaitDelayMs } from '../../src/orchestrations/await-done';
import { DEFAULT_LRO_TIMINGS, type LroKind } from '../../src/local/azure-sim/lro';

/** Which Azure operations each wait reads until done. */
const WAITED: Record<Exclude<keyof typeof LRO_WAITS, 'runCommand'>, LroKind[]> = {
  templateCreate: ['templateCreate'],
  templateDelete: ['templateDelete'],
  vmCreate: ['vmCreate'],
  vmDelete: ['vmDelete', 'nicDelete', 'diskDelete'],
  versionUpdate: ['versionUpdate'],
  versionDelete: ['versionDelete'],
};

describe("the orchestration's waits respect Azure's Retry-After", () => {
  it.each(Object.entries(WAITED))('%s never reads sooner than Azure asks', (wait, kinds) => {
    const timing = LRO_WAITS[wait as keyof typeof WAITED];
    const deadlineMs = timing.withinMs;
    for (const kind of kinds) {
      const retryAfterMs = (DEFAULT_LRO_TIMINGS[kind].retryAfterSeconds ?? 0) * 1000;
      for (let reads = 0; reads < 5; reads++)
        expect([kind, reads, nextAwaitDelayMs({ ...timing, deadlineMs }, reads, 0) >= retryAfterMs]).toEqual([
          kind,
          reads,
          true,
        ]);
    }
  });

  it('a wait that Azure would still answer InProgress is not given up early: withinMs exceeds the duration', () => {
    for (const [wait, kinds] of Object.entries(WAITED))
      for (const kind of kinds)
        expect([
          wait,
          kind,
          LRO_WAITS[wait as keyof typeof WAITED].withinMs > DEFAULT_LRO_TIMINGS[kind].durationMs,
        ]).toEqual([wait, kind, true]);
  });

  it('reads first where the operation usually ends (one read when Azure is on time), never sooner than its Retry-After', () => {
    for (const [wait, kinds] of Object.entries(WAITED)) {
      const timing = LRO_WAITS[wait as keyof typeof WAITED];
      const first = nextAwaitDelayMs({ ...timing, deadlineMs: timing.withinMs }, 0, 0);
      // The operation the wait is named for (vmDelete: the VM itself, then its NIC and disk).
      const usual = DEFAULT_LRO_TIMINGS[kinds[0]!].durationMs;
      expect([wait, first >= usual * 0.9, first <= usual]).toEqual([wait, true, true]);
      // After it, the Retry-After pace.
      expect(nextAwaitDelayMs({ ...timing, deadlineMs: timing.withinMs }, 1, first)).toBe(timing.pollMs);
    }
    // Near the deadline the first read is not later than the deadline.
    expect(nextAwaitDelayMs({ ...LRO_WAITS.vmCreate, deadlineMs: 30_000 }, 0, 0)).toBe(30_000);
  });
});
