/**
 * The restructure of issue 16 ships as a safe release: builds started on the code main had before
 * (the one-file orchestrator, frozen in test/fixtures/factory-before-issue-16) and caught mid-way —
 * waiting for the Image Builder run, for the TEST approval, for the PROD approval — finish on the
 * new modules (src/orchestrations/build/) after the host restarts on the same SQLite file, with no
 * non-determinism and nothing created twice; a rejection compensates on the new code and leaves
 * nothing behind. The old builds carry main's factory version (0.1.0) and keep its polling
 * generations; a build started after the restart takes the current version's (issue 16, P1).
 */
import { leftovers, sideEffectsOf, versionsOf } from '../pipeline/side-effects';
import { CURRENT_VERSION, releaseBench, waitingFor } from './release-harness';

const BEFORE = 'test/fixtures/factory-before-issue-16/index.ts';
const NOW = 'src/functions/index.ts';

describe('builds started before the restructure finish on the restructured orchestration', () => {
  const bench = releaseBench('restructure-replay');

  /** The factory's host on the shared database: `appEntry`, stamping new builds with `version`. */
  async function open(appEntry: string, version: string) {
    const opened = await bench.open({ appEntry, version, reason: 'restructure replay test' });
    return {
      ...opened,
      /** The Image Builder wait of a build: reads before this generation, reads in it. */
      async buildWait(id: string) {
        const status = await opened.host.getStatus(`${id}:build`, { showHistory: true });
        return {
          before: (status?.input as { polls?: number } | null)?.polls ?? 0,
          inGeneration: (status?.history ?? []).filter((e) => e.EventType === 'TaskScheduled').length,
        };
      },
    };
  }

  it('replays histories recorded by the old code, to the end, without a divergence', async () => {
    // main's release was 0.1.0: the builds it started carry that version.
    const before = await open(BEFORE, '0.1.0');
    // Caught at TEST, at PROD, and in the Image Builder wait (a sub-orchestration mid-generation).
    for (const id of ['at-test', 'at-prod', 'rejected-at-test']) await before.start(id);
    await before.until(['at-test', 'at-prod', 'rejected-at-test'], waitingFor('TEST'));
    await before.decide('at-prod', 'TEST', 'approved');
    await before.until(['at-prod'], waitingFor('PROD'));
    await before.start('at-build');
    // Five reads into a generation of eight: past where a 0.2.0 build's generation (three) ends.
    await before.host.drive({
      until: async () => (await before.buildWait('at-build')).inGeneration >= 5,
    });
    expect(await before.buildWait('at-build')).toEqual({ before: 0, inGeneration: 5 });
    expect((await before.custom('at-build'))?.step).toBe('build');
    await before.host.stop();

    const now = await open(NOW, CURRENT_VERSION);
    try {
      // The old build keeps 0.1.0's generations of eight reads on the new code; a new build takes
      // the current version's generations of three (SHORT_GENERATIONS_SINCE, waits.ts).
      await now.start('new-build');
      await now.host.drive({
        until: async () =>
          (await now.buildWait('at-build')).before >= 8 && (await now.buildWait('new-build')).before >= 6,
      });
      const old = await now.buildWait('at-build');
      const fresh = await now.buildWait('new-build');
      expect({ old: old.before % 8, oldInGeneration: old.inGeneration <= 8 }).toEqual({
        old: 0,
        oldInGeneration: true,
      });
      expect({ fresh: fresh.before % 3, freshInGeneration: fresh.inGeneration <= 3 }).toEqual({
        fresh: 0,
        freshInGeneration: true,
      });
      expect((await now.custom('new-build'))?.factoryVersion).toBe(CURRENT_VERSION);

      await now.decide('at-test', 'TEST', 'approved');
      await now.decide('at-prod', 'PROD', 'approved');
      await now.decide('rejected-at-test', 'TEST', 'rejected');
      await now.until(['at-build', 'new-build'], waitingFor('TEST'));
      for (const id of ['at-build', 'new-build']) await now.decide(id, 'TEST', 'approved');
      await now.until(['at-build', 'at-test', 'new-build'], waitingFor('PROD'));
      for (const id of ['at-build', 'at-test', 'new-build']) await now.decide(id, 'PROD', 'approved');
      for (const id of ['at-build', 'at-test', 'at-prod', 'new-build']) {
        const status = await now.host.waitFor(id);
        expect({
          id,
          runtimeStatus: status.runtimeStatus,
          outcome: (status.output as { outcome?: string }).outcome,
        }).toEqual({ id, runtimeStatus: 'Completed', outcome: 'succeeded' });
        expect({ id, ...sideEffectsOf(bench.factory.sim, id) }).toEqual({
          id,
          runs: 1,
          testVms: 1,
          copies: 2,
        });
      }
      const rejected = await now.host.waitFor('rejected-at-test');
      expect(rejected.runtimeStatus).toBe('Completed');
      expect((rejected.output as { outcome?: string }).outcome).toBe('rejected');
      // Compensation on the new code removed the rejected build's ENG version; nothing is left anywhere.
      expect(versionsOf(bench.factory.sim, 'rejected-at-test')).toEqual([]);
      expect(leftovers(bench.factory.sim)).toEqual([]);
      expect(now.log.filter((line) => /non-determinis/i.test(line))).toEqual([]);
    } finally {
      await now.host.stop();
    }
  });
});
