/**
 * Issue 16, P1: from factory 0.7.0 the build hears from a wait at its end only (a replication wait no
 * longer comes back after its first read; the Image Builder wait reads the ENG version once the run
 * succeeded, so a version the run left replicated needs no replication wait), a build event that a
 * wait's start or end makes true is published by that wait, and the image template's wait sends the
 * template PUT itself, uncut by a cancel, and a build slot free at the first ask starts the run in
 * the same call: the build orchestration, whose every episode replays its
 * whole history, has fewer episodes. A change of the sequence of actions,
 * so behind sinceVersion('0.7.0'): a build started on 0.6.0 and caught in its Image Builder wait when
 * the host restarts on 0.7.0 (same SQLite file) keeps its calls, replays with no divergence and
 * finishes.
 */
import { publishedEvents } from '../../src/local/azure-sim/eventgrid';
import { Activities } from '../../src/domain/pipeline/activities';
import { PUBLISH_BUILD_EVENT_ACTIVITY } from '../../src/activities/notifications';
import {
  EVENTS_BY_WAITS_SINCE,
  RUN_STARTED_WITH_ITS_SLOT_SINCE,
  TEMPLATE_CREATED_BY_ITS_WAIT_SINCE,
  WAITS_REPORT_AT_END_SINCE,
} from '../../src/orchestrations/build/release-gates';
import { CANCEL_EVENT } from '../../src/domain/build-status';
import { leftovers, sideEffectsOf } from '../pipeline/side-effects';
import { WAIT_FOR_REPLICATION_ORCHESTRATION } from '../../src/orchestrations/build/waits';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { EventType } from '../../src/local/host/history';
import { releaseBench, waitingFor, divergences, buildingImage } from './release-harness';

const APP = 'src/functions/index.ts';

type HistoryEvent = { EventType?: unknown; Name?: string; Input?: string };

describe('waits report at their end from 0.7.0: builds started before keep their calls', () => {
  const bench = releaseBench('at-end');
  /** Publishes scheduled in generations a continue-as-new retired, by instance. */
  const retiredPublishes = new Map<string, number>();
  const open = async (version: string) => {
    const release = await bench.open({ appEntry: APP, version, reason: 'waits at end test' });
    release.host.engine.onHistoryRetired((instanceId, history) => {
      const publishes = history.filter(
        (e) =>
          (e as HistoryEvent).EventType === EventType.TaskScheduled &&
          (e as HistoryEvent).Name === PUBLISH_BUILD_EVENT_ACTIVITY,
      ).length;
      retiredPublishes.set(instanceId, (retiredPublishes.get(instanceId) ?? 0) + publishes);
    });
    return release;
  };
  type Release = Awaited<ReturnType<typeof open>>;

  /** Approves TEST and PROD of every build given, then waits for each to end. */
  const approveAll = async (release: Release, ids: string[]) => {
    for (const stage of ['TEST', 'PROD']) {
      await release.until(ids, waitingFor(stage));
      for (const id of ids) await release.decide(id, stage, 'approved');
    }
    for (const id of ids) {
      const ended = await release.host.waitFor(id);
      expect((ended.customStatus as BuildCustomStatus).outcome).toBe('succeeded');
    }
  };

  /** What one build did, as the host recorded it. */
  const observe = async (release: Release, id: string) => {
    const history = async (instance: string) =>
      ((await release.host.getStatus(instance, { showHistory: true }))?.history ?? []) as HistoryEvent[];
    const scheduled = async (instance: string) =>
      (await history(instance))
        .filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'SubOrchestrationInstanceCreated')
        .map((e) => e.Name);
    const children = release.host.engine.instanceIds().filter((child) => child.startsWith(`${id}:`));
    const replicationWaitsOf = async (stage: string) =>
      (await history(id))
        .filter((e) => e.EventType === 'SubOrchestrationInstanceCreated')
        .filter((e) => e.Name === WAIT_FOR_REPLICATION_ORCHESTRATION)
        .map((e) => JSON.parse(e.Input ?? '{}') as { stageName?: string })
        .filter((input) => input.stageName === stage).length;
    const publishesBy = async (instances: string[]) =>
      (await Promise.all(instances.map(scheduled))).flat().filter((n) => n === PUBLISH_BUILD_EVENT_ACTIVITY)
        .length + instances.reduce((sum, instance) => sum + (retiredPublishes.get(instance) ?? 0), 0);
    return {
      episodes: (await history(id)).filter((e) => e.EventType === 'OrchestratorStarted').length,
      replicationWaits: {
        ENG: await replicationWaitsOf('ENG'),
        TEST: await replicationWaitsOf('TEST'),
        PROD: await replicationWaitsOf('PROD'),
      },
      publishedByBuild: await publishesBy([id]),
      publishedByWaits: await publishesBy(children),
      engVersionReadsByImageBuilderWait: (await scheduled(`${id}:build`)).filter(
        (n) => n === Activities.getImageVersion,
      ).length,
      /** How the build asked for its build slot and started its run. */
      slotAndStart: (await scheduled(id)).filter((n) =>
        [
          Activities.claimBuildSlot,
          Activities.startImageBuild,
          Activities.startImageBuildInFreeSlot,
        ].includes(n as never),
      ),
      templatePutsBy: {
        build: (await scheduled(id)).filter((n) => n === Activities.createImageTemplate).length,
        waits: (await Promise.all(children.map(scheduled)))
          .flat()
          .filter((n) => n === Activities.createImageTemplate).length,
      },
      /** The events the topic received, by id (kind and stage), in order. */
      events: publishedEvents(bench.factory.sim, bench.factory.world.notificationsTopic.id)
        .filter((e) => (e.data as { buildId?: string }).buildId === id)
        .map((e) => e.id.slice(id.length + 1)),
    };
  };

  it('a 0.6.0 build restarted mid Image Builder wait on 0.7.0 finishes; a 0.7.0 build publishes the same events in nine episodes fewer', async () => {
    expect([
      WAITS_REPORT_AT_END_SINCE,
      EVENTS_BY_WAITS_SINCE,
      TEMPLATE_CREATED_BY_ITS_WAIT_SINCE,
      RUN_STARTED_WITH_ITS_SLOT_SINCE,
    ]).toEqual(['0.7.0', '0.7.0', '0.7.0', '0.7.0']);
    // A whole build on 0.6.0 (the reference), and one caught in its Image Builder wait by the upgrade.
    const before = await open('0.6.0');
    let reference: Awaited<ReturnType<typeof observe>>;
    try {
      await before.start('at-end-reference');
      await approveAll(before, ['at-end-reference']);
      reference = await observe(before, 'at-end-reference');
      await before.start('at-end-restarted');
      await before.until(['at-end-restarted'], buildingImage);
    } finally {
      await before.host.stop();
    }

    const now = await open('0.7.0');
    try {
      await now.start('at-end-new');
      await approveAll(now, ['at-end-restarted', 'at-end-new']);
      expect(divergences(now)).toEqual([]);
      const restarted = await observe(now, 'at-end-restarted');
      const current = await observe(now, 'at-end-new');

      // 0.6.0: a replication wait for ENG, two returns of TEST's and of PROD's; the build publishes all.
      expect(reference.replicationWaits).toEqual({ ENG: 1, TEST: 2, PROD: 2 });
      expect(reference.publishedByWaits).toBe(0);
      expect(reference.engVersionReadsByImageBuilderWait).toBe(0);
      expect(reference.templatePutsBy).toEqual({ build: 1, waits: 0 });
      expect(reference.slotAndStart).toEqual([Activities.claimBuildSlot, Activities.startImageBuild]);
      // From 0.7.0: ENG replicated when the run ended (one read by the Image Builder wait), one
      // return per stage, the template's wait sends its PUT, and the waits publish started, PROD's
      // approval and both promotions.
      expect(current.replicationWaits).toEqual({ ENG: 0, TEST: 1, PROD: 1 });
      expect(current.engVersionReadsByImageBuilderWait).toBe(1);
      expect(current.templatePutsBy).toEqual({ build: 0, waits: 1 });
      // A free slot at the first ask: the run starts in the same call.
      expect(current.slotAndStart).toEqual([Activities.startImageBuildInFreeSlot]);
      expect(current.publishedByWaits).toBe(4);
      expect(current.publishedByBuild).toBe(reference.publishedByBuild - 4);
      expect(current.episodes).toBe(reference.episodes - 9);
      // The same events, in the same order.
      expect(reference.events).toEqual([
        'started',
        'waitingForApproval/TEST',
        'approved/TEST',
        'promoted/TEST',
        'waitingForApproval/PROD',
        'approved/PROD',
        'promoted/PROD',
      ]);
      expect(current.events).toEqual(reference.events);
      // The restarted build keeps its 0.6.0 calls: it publishes every event itself, asks no wait
      // to, and reads ENG's replication in a wait of its own (its later waits are 0.7.0's, stamped
      // when created, and come back at their end only).
      expect(restarted.events).toEqual(reference.events);
      expect(restarted.publishedByWaits).toBe(0);
      expect(restarted.publishedByBuild).toBe(reference.publishedByBuild);
      expect(restarted.replicationWaits).toEqual({ ENG: 1, TEST: 1, PROD: 1 });
      expect(restarted.engVersionReadsByImageBuilderWait).toBe(0);
      expect(restarted.templatePutsBy).toEqual({ build: 1, waits: 0 });
      expect(restarted.slotAndStart).toEqual(reference.slotAndStart);
      // Each build started its run once.
      for (const id of ['at-end-reference', 'at-end-restarted', 'at-end-new'])
        expect(sideEffectsOf(bench.factory.sim, id).runs).toBe(1);
    } finally {
      await now.host.stop();
    }
  });

  it("a cancel while a 0.7.0 template's wait runs stops the build once the template is provisioned, and leaves nothing", async () => {
    const now = await open('0.7.0');
    try {
      const id = 'at-end-cancel';
      await now.start(id);
      await now.until([id], (s) => s?.message?.startsWith('creating image template') === true);
      const templateWait = `${id}:await:1`;
      const template = /creating image template (\S+)/.exec((await now.custom(id))?.message ?? '')?.[1];
      expect(template).toMatch(/^it-/);
      expect((await now.host.getStatus(templateWait))?.runtimeStatus).toBe('Running');
      await now.host.raiseEvent(id, CANCEL_EVENT, { reason: 'wrong recipe', requestedBy: 'test' });
      const ended = await now.host.waitFor(id);
      const status = ended.customStatus as BuildCustomStatus;
      expect(status.outcome).toBe('canceled');
      expect(status.failure).toMatchObject({ code: 'Canceled', step: 'build' });
      // The wait ran to its end (the template provisioned) before compensation did anything.
      expect(await now.host.getStatus(templateWait)).toMatchObject({
        runtimeStatus: 'Completed',
        output: { done: expect.anything() as unknown },
      });
      const history = ((await now.host.getStatus(id, { showHistory: true }))?.history ??
        []) as HistoryEvent[];
      const cancelledAt = history.findIndex((e) => e.EventType === 'EventRaised' && e.Name === CANCEL_EVENT);
      const templateDoneAt = history.findIndex((e) => e.EventType === 'SubOrchestrationInstanceCompleted');
      const compensationAt = history.findIndex(
        (e, i) =>
          i > cancelledAt &&
          (e.EventType === 'TaskScheduled' || e.EventType === 'SubOrchestrationInstanceCreated'),
      );
      expect(cancelledAt).toBeGreaterThan(-1);
      expect(templateDoneAt).toBeGreaterThan(-1);
      expect(templateDoneAt).toBeLessThan(compensationAt);
      // One template PUT, and compensation deleted it.
      const puts = bench.factory.sim
        .requests()
        .filter(
          (r) => r.method === 'PUT' && r.path.endsWith(`/imageTemplates/${template!}`) && r.status < 300,
        );
      expect(puts).toHaveLength(1);
      expect(leftovers(bench.factory.sim).filter((r) => r.includes(template!))).toEqual([]);
      expect(divergences(now)).toEqual([]);
    } finally {
      await now.host.stop();
    }
  });
});
