/**
 * Issue 16, P1: from factory 0.4.0 the Image Builder wait values a read at 6 s of detection lag
 * (was 1.5 s) and each Azure operation wait reads first where the operation usually ends. Both
 * change when the waits' timers fire, so they ship behind sinceVersion('0.4.0'): a build started on
 * 0.3.0 and caught in its Image Builder wait when the host restarts on 0.4.0 (same SQLite file)
 * keeps its timers, replays with no divergence and finishes; a 0.4.0 build reads Azure less.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import {
  FIRST_READ_AT_USUAL_END_SINCE,
  nextAwaitDelayMs,
  timingForRelease,
} from '../../src/orchestrations/await-done';
import { LRO_WAITS } from '../../src/orchestrations/build/operations';
import { releaseBench, waitingFor, divergences, buildingImage } from './release-harness';

const APP = 'src/functions/index.ts';

describe('polling from 0.4.0: builds started before keep their timers', () => {
  const bench = releaseBench('polling-version');
  const open = (version: string) => bench.open({ appEntry: APP, version, reason: 'polling version test' });

  /** The image templates ARM has seen, in the order first seen. */
  const templates = () => [
    ...new Set(
      bench.factory.sim
        .requests()
        .map((r) => /\/imageTemplates\/([^/?]+)/.exec(r.path)?.[1])
        .filter((name): name is string => name !== undefined),
    ),
  ];
  /** ARM reads of one image template (its provisioning and the Image Builder wait's reads). */
  const reads = (template: string) =>
    bench.factory.sim
      .requests()
      .filter((r) => r.method === 'GET' && r.path.endsWith(`/imageTemplates/${template}`)).length;

  it('timingForRelease drops the first read at the usual end for instances older than 0.4.0', () => {
    const at = (version: string | undefined) =>
      nextAwaitDelayMs(
        { ...timingForRelease({ df: { version } }, LRO_WAITS.vmCreate), deadlineMs: 3_600_000 },
        0,
        0,
      );
    expect(FIRST_READ_AT_USUAL_END_SINCE).toBe('0.4.0');
    expect(at('0.4.0')).toBe(LRO_WAITS.vmCreate.firstPollMs);
    expect(at('1.0.0')).toBe(LRO_WAITS.vmCreate.firstPollMs);
    expect(at('0.3.0')).toBe(LRO_WAITS.vmCreate.pollMs);
    expect(at(undefined)).toBe(LRO_WAITS.vmCreate.pollMs);
  });

  it('a 0.3.0 build restarted mid Image Builder wait on 0.4.0 replays and finishes; a 0.4.0 build reads less', async () => {
    const before = await open('0.3.0');
    await before.start('poll-old');
    await before.until(['poll-old'], buildingImage);
    // One template so far, the old build's; some reads of it made, more to come after the restart.
    const [oldTemplate, ...others] = templates();
    expect(others).toEqual([]);
    const readsBeforeRestart = reads(oldTemplate!);
    expect(readsBeforeRestart).toBeGreaterThan(0);
    await before.host.stop();

    const now = await open('0.4.0');
    try {
      await now.start('poll-new');
      await now.until(['poll-old', 'poll-new'], waitingFor('TEST'));
      expect(divergences(now)).toEqual([]);
      const old = (await now.custom('poll-old')) as BuildCustomStatus;
      expect(old.pendingApproval?.stage).toBe('TEST');
      const [, newTemplate] = templates();
      expect(reads(oldTemplate!)).toBeGreaterThan(readsBeforeRestart);
      // Same pipeline, same simulated run length: the 0.4.0 build reads its run less often.
      expect(reads(newTemplate!)).toBeLessThan(reads(oldTemplate!));
      await now.decide('poll-old', 'TEST', 'rejected');
      await now.decide('poll-new', 'TEST', 'rejected');
      const ended = await now.host.waitFor('poll-old');
      expect((ended.customStatus as BuildCustomStatus).failure).toMatchObject({ code: 'ApprovalRejected' });
      await now.host.waitFor('poll-new');
      expect(divergences(now)).toEqual([]);
    } finally {
      await now.host.stop();
    }
  });
});
