/**
 * Issue 16, P1: from factory 0.6.0 the wait for an image version PATCH sends the PATCH itself, the
 * test VM teardown is wholly its wait's (the first read is the delete call, at once), and the ENG
 * version is patched once, after its tests, with the build-duration tag: the build orchestration,
 * whose every episode replays its whole history, has fewer episodes. A change of the sequence of
 * actions, so behind sinceVersion('0.6.0'): a build started on 0.5.0 and caught in its Image Builder
 * wait when the host restarts on 0.6.0 (same SQLite file) keeps its calls, replays with no
 * divergence and finishes.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { Activities, BUILD_DURATION_TAG } from '../../src/domain/pipeline/activities';
import {
  ENG_VERSION_PATCHED_ONCE_SINCE,
  SHORT_REPLICATION_GENERATIONS_SINCE,
  WAITS_START_OPERATIONS_SINCE,
} from '../../src/orchestrations/build/release-gates';
import { EventType } from '../../src/local/host/history';
import { AWAIT_OPERATION_ORCHESTRATION, type AwaitOperationInput } from '../../src/orchestrations/await-done';
import { LRO_WAITS } from '../../src/orchestrations/build/operations';
import { releaseBench, waitingFor, divergences, buildingImage } from './release-harness';

const APP = 'src/functions/index.ts';

type HistoryEvent = { EventType?: unknown; Name?: string };

describe('operations started by their waits from 0.6.0: builds started before keep their calls', () => {
  const bench = releaseBench('waits-start');
  const open = (version: string) => bench.open({ appEntry: APP, version, reason: 'waits start test' });

  it('a 0.5.0 build restarted mid Image Builder wait on 0.6.0 finishes with its calls; a 0.6.0 build makes fewer', async () => {
    expect([WAITS_START_OPERATIONS_SINCE, ENG_VERSION_PATCHED_ONCE_SINCE]).toEqual(['0.6.0', '0.6.0']);
    const before = await open('0.5.0');
    await before.start('waits-old');
    await before.until(['waits-old'], buildingImage);
    await before.host.stop();

    const now = await open('0.6.0');
    try {
      await now.start('waits-new');
      await now.until(['waits-old', 'waits-new'], waitingFor('TEST'));
      expect(divergences(now)).toEqual([]);
      expect((await now.custom('waits-old'))?.pendingApproval?.stage).toBe('TEST');

      const history = async (id: string) =>
        ((await now.host.getStatus(id, { showHistory: true }))?.history ?? []) as HistoryEvent[];
      /** What an instance scheduled, in order (sub-orchestrations by name). */
      const scheduled = async (id: string) =>
        (await history(id))
          .filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'SubOrchestrationInstanceCreated')
          .map((e) => e.Name);
      const count = (names: (string | undefined)[], name: string) => names.filter((n) => n === name).length;
      const episodes = async (id: string) =>
        (await history(id)).filter((e) => e.EventType === 'OrchestratorStarted').length;
      /** What the build's operation waits scheduled. */
      const scheduledByWaits = async (id: string) => {
        const waits = now.host.engine.instanceIds().filter((child) => child.startsWith(`${id}:await:`));
        return (await Promise.all(waits.map(scheduled))).flat();
      };

      const oldBuild = await scheduled('waits-old');
      const newBuild = await scheduled('waits-new');
      // Before: the build-duration PATCH after the build and the ENG PATCH after the tests, each
      // sent by the build, and the teardown's first call.
      expect(count(oldBuild, Activities.updateImageVersion)).toBe(2);
      expect(count(oldBuild, Activities.deleteTestVm)).toBe(1);
      expect(count(await scheduledByWaits('waits-old'), Activities.updateImageVersion)).toBe(0);
      // From 0.6.0: the build sends neither; one PATCH, sent by its wait.
      expect(count(newBuild, Activities.updateImageVersion)).toBe(0);
      expect(count(newBuild, Activities.deleteTestVm)).toBe(0);
      const byNewWaits = await scheduledByWaits('waits-new');
      expect(count(byNewWaits, Activities.updateImageVersion)).toBe(1);
      expect(count(byNewWaits, Activities.deleteTestVm)).toBeGreaterThanOrEqual(1);
      // The teardown's wait: the delete call at once, the next read where a VM delete usually ends.
      const teardownWaits = (
        await Promise.all(
          now.host.engine
            .instanceIds()
            .filter((child) => child.startsWith('waits-new:await:'))
            .map(async (child) => ({ child, names: await scheduled(child) })),
        )
      ).filter(({ names }) => names[0] === Activities.deleteTestVm);
      expect(teardownWaits).toHaveLength(1);
      const teardown = (await history(teardownWaits[0]!.child)) as (HistoryEvent & {
        Timestamp?: string;
        FireAt?: string;
      })[];
      const timerAt = teardown.findIndex((e) => e.EventType === 'TimerCreated');
      const createdAt = teardown
        .slice(0, timerAt)
        .reverse()
        .find((e) => e.EventType === 'OrchestratorStarted');
      expect(Date.parse(teardown[timerAt]!.FireAt!) - Date.parse(createdAt!.Timestamp!)).toBe(
        LRO_WAITS.vmDelete.firstPollMs,
      );
      // One PATCH and its wait fewer, and three calls moved into waits: four episodes fewer.
      expect(
        count(oldBuild, AWAIT_OPERATION_ORCHESTRATION) - count(newBuild, AWAIT_OPERATION_ORCHESTRATION),
      ).toBe(1);
      expect(newBuild.length).toBe(oldBuild.length - 4);
      expect(await episodes('waits-new')).toBe((await episodes('waits-old')) - 4);

      // The ENG version of each: two PATCHes before, one from 0.6.0 that carries everything.
      const engPatches = (id: string) => {
        const version = (now.host.engine.instances.get(id)?.customStatus as BuildCustomStatus).imageVersion;
        return bench.factory.sim
          .requests()
          .filter(
            (r) =>
              r.method === 'PATCH' &&
              r.path.includes(`/galleries/${bench.factory.world.eng.galleryName}/`) &&
              r.path.endsWith(`/versions/${version}`),
          )
          .map((r) => r.body as { tags?: Record<string, string>; properties?: unknown });
      };
      const oldPatches = engPatches('waits-old');
      expect(oldPatches).toHaveLength(2);
      expect(Object.keys(oldPatches[0]?.tags ?? {})).toContain(BUILD_DURATION_TAG);
      const newPatches = engPatches('waits-new');
      expect(newPatches).toHaveLength(1);
      expect(newPatches[0]).toMatchObject({
        tags: {
          [BUILD_DURATION_TAG]: expect.stringMatching(/^\d+$/) as unknown,
          'imagefactory.buildId': 'waits-new',
          'imagefactory.testResult': expect.stringMatching(/^passed/) as unknown,
        },
        properties: { publishingProfile: { excludeFromLatest: false } },
      });
      // Both ENG versions end with the same tag keys.
      const tagKeys = (patches: typeof oldPatches) =>
        [...new Set(patches.flatMap((p) => Object.keys(p.tags ?? {})))].sort();
      expect(tagKeys(newPatches)).toEqual(tagKeys(oldPatches));

      await now.decide('waits-old', 'TEST', 'rejected');
      await now.decide('waits-new', 'TEST', 'rejected');
      for (const id of ['waits-old', 'waits-new']) {
        const ended = await now.host.waitFor(id);
        expect((ended.customStatus as BuildCustomStatus).failure).toMatchObject({ code: 'ApprovalRejected' });
      }
      expect(divergences(now)).toEqual([]);
    } finally {
      await now.host.stop();
    }
  });

  it('a replication wait of 0.6.0 continues as new every three reads, one of 0.5.0 every eight', async () => {
    expect(SHORT_REPLICATION_GENERATIONS_SINCE).toBe('0.6.0');
    /** Reads per generation of each replication wait, from the generations continue-as-new retired. */
    const readsPerGeneration = async (version: string, buildId: string) => {
      const host = await open(version);
      const reads: number[] = [];
      host.host.engine.onHistoryRetired((instanceId, history) => {
        if (instanceId.startsWith(`${buildId}:replicate:`))
          reads.push(
            history.filter(
              (e) =>
                (e as HistoryEvent).EventType === EventType.TaskScheduled &&
                (e as HistoryEvent).Name === Activities.getImageVersion,
            ).length,
          );
      });
      try {
        await host.start(buildId);
        await host.until([buildId], waitingFor('TEST'));
        await host.decide(buildId, 'TEST', 'approved');
        await host.until([buildId], waitingFor('PROD'));
        expect(divergences(host)).toEqual([]);
        await host.decide(buildId, 'PROD', 'rejected');
        await host.host.waitFor(buildId);
      } finally {
        await host.host.stop();
      }
      return reads;
    };
    const before = await readsPerGeneration('0.5.0', 'generations-old');
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((n) => n === 8)).toBe(true);
    const now = await readsPerGeneration('0.6.0', 'generations-new');
    expect(now.length).toBeGreaterThan(before.length);
    expect(now.every((n) => n === 3)).toBe(true);
  });

  it('a wait whose first read starts the operation reads at once, with no timer', async () => {
    const now = await open('0.6.0');
    try {
      const teardown = {
        credential: 'eng',
        ref: {
          subscriptionId: bench.factory.world.eng.subscriptionId,
          resourceGroup: bench.factory.pipelines.get('ubuntu-2204-base')!.test.resourceGroup,
          name: 'vmtnosuchvm',
        },
      };
      await now.host.startNew(AWAIT_OPERATION_ORCHESTRATION, {
        instanceId: 'wait-reads-at-once',
        input: {
          what: 'delete test VM vmtnosuchvm',
          activity: Activities.deleteTestVm,
          activityInput: teardown,
          judge: 'testVmGone',
          timing: { ...LRO_WAITS.vmDelete, deadlineMs: bench.factory.clock.now() + 30 * 60_000 },
          readFirst: true,
          failedCode: 'OperationFailed',
          timedOutCode: 'OperationTimedOut',
          reads: 0,
        } satisfies AwaitOperationInput,
      });
      await now.host.drive({
        until: async () => (await now.host.getStatus('wait-reads-at-once'))?.runtimeStatus === 'Completed',
      });
      const done = await now.host.getStatus('wait-reads-at-once', { showHistory: true });
      expect(done?.output).toEqual({ done: null });
      const steps = ((done?.history ?? []) as HistoryEvent[])
        .filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'TimerCreated')
        .map((e) => (e.EventType === 'TimerCreated' ? 'timer' : e.Name));
      expect(steps).toEqual([Activities.deleteTestVm]);
    } finally {
      await now.host.stop();
    }
  });
});
