/**
 * Issue 16, P1: from factory 0.5.0 the image definition is ensured in every gallery by one activity
 * (ensureImageDefinitions), the Image Builder wait loads the build history it polls by and reads the
 * run's output itself, and the waits for the template delete and for each test script start them:
 * the build
 * orchestration, whose every episode replays its whole history, has fewer episodes. A change of the sequence of actions, so behind sinceVersion('0.5.0'): a build
 * started on 0.4.0 and caught in its Image Builder wait when the host restarts on 0.5.0 (same SQLite
 * file) keeps its calls, replays with no divergence and finishes.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { Activities } from '../../src/domain/pipeline/activities';
import { STEP_CALLS_BATCHED_SINCE } from '../../src/orchestrations/build/release-gates';
import {
  AWAIT_OPERATION_ORCHESTRATION,
  type AwaitOperationInput,
  type AwaitOutcome,
  type JudgeName,
} from '../../src/orchestrations/await-done';
import { LRO_WAITS } from '../../src/orchestrations/build/operations';
import { releaseBench, waitingFor, divergences, buildingImage } from './release-harness';

const APP = 'src/functions/index.ts';

describe('calls batched from 0.5.0: builds started before keep theirs', () => {
  const bench = releaseBench('batched-calls');
  const open = (version: string) => bench.open({ appEntry: APP, version, reason: 'batched calls test' });

  it('a 0.4.0 build restarted mid Image Builder wait on 0.5.0 finishes with its calls; a 0.5.0 build makes fewer', async () => {
    expect(STEP_CALLS_BATCHED_SINCE).toBe('0.5.0');
    const before = await open('0.4.0');
    await before.start('batch-old');
    await before.until(['batch-old'], buildingImage);
    await before.host.stop();

    const now = await open('0.5.0');
    try {
      await now.start('batch-new');
      await now.until(['batch-old', 'batch-new'], waitingFor('TEST'));
      expect(divergences(now)).toEqual([]);
      // The old build replayed its history on the new code and went on to the TEST approval.
      expect(await now.host.getStatus('batch-old')).toMatchObject({ runtimeStatus: 'Running' });
      expect((await now.custom('batch-old'))?.pendingApproval?.stage).toBe('TEST');

      /** The activities an instance scheduled, in order. */
      const scheduled = async (id: string) =>
        ((await now.host.getStatus(id, { showHistory: true }))?.history ?? [])
          .filter((event) => (event as { EventType?: unknown }).EventType === 'TaskScheduled')
          .map((event) => (event as { Name?: string }).Name);
      const count = (names: (string | undefined)[], name: string) => names.filter((n) => n === name).length;

      /** What the build's sub-orchestrations scheduled (their last generations). */
      const scheduledByWaits = async (id: string) => {
        const children = now.host.engine.instanceIds().filter((child) => child.startsWith(`${id}:`));
        return (await Promise.all(children.map(scheduled))).flat();
      };
      const scripts = bench.factory.pipelines.get('ubuntu-2204-base')!.test.scripts.length;
      /** The calls that moved into a wait, with how often the build made each before. */
      const moved: Record<string, number> = {
        [Activities.loadBuildHistory]: 1,
        [Activities.getImageBuildOutput]: 1,
        [Activities.deleteImageTemplate]: 1,
        [Activities.startTestScript]: scripts,
      };

      const oldBuild = await scheduled('batch-old');
      expect(count(oldBuild, Activities.ensureImageDefinition)).toBe(3);
      expect(count(oldBuild, Activities.ensureImageDefinitions)).toBe(0);
      expect(Object.fromEntries(Object.keys(moved).map((name) => [name, count(oldBuild, name)]))).toEqual(
        moved,
      );

      const newBuild = await scheduled('batch-new');
      expect(count(newBuild, Activities.ensureImageDefinition)).toBe(0);
      expect(count(newBuild, Activities.ensureImageDefinitions)).toBe(1);
      for (const name of Object.keys(moved)) expect([name, count(newBuild, name)]).toEqual([name, 0]);
      // The waits made those calls instead.
      const byWaits = await scheduledByWaits('batch-new');
      for (const name of Object.keys(moved).filter((n) => n !== Activities.loadBuildHistory))
        expect([name, count(byWaits, name)]).toEqual([name, moved[name]]);
      // The history load is in the Image Builder wait's first generation (continued as new since):
      // this host ran it once, for the new build (the old one loaded its history before the restart).
      expect(now.host.engine.stats.activityExecutions.get(Activities.loadBuildHistory)).toBe(1);
      // Three ensures made one, and the moved calls.
      expect(newBuild.length).toBe(oldBuild.length - 2 - (3 + scripts));

      // Both built the same thing: every stage's gallery has the definition, ENG the new version.
      const oldStatus = (await now.custom('batch-old')) as BuildCustomStatus;
      const newStatus = (await now.custom('batch-new')) as BuildCustomStatus;
      expect(newStatus.stages[0]?.versionId).toMatch(/\/galleries\/.+\/images\/.+\/versions\//);
      expect(newStatus.stages[0]?.versionId?.replace(/versions\/.*$/, '')).toBe(
        oldStatus.stages[0]?.versionId?.replace(/versions\/.*$/, ''),
      );

      await now.decide('batch-old', 'TEST', 'rejected');
      await now.decide('batch-new', 'TEST', 'rejected');
      for (const id of ['batch-old', 'batch-new']) {
        const ended = await now.host.waitFor(id);
        expect((ended.customStatus as BuildCustomStatus).failure).toMatchObject({ code: 'ApprovalRejected' });
      }
      expect(divergences(now)).toEqual([]);
    } finally {
      await now.host.stop();
    }
  });

  it('ensureImageDefinitions ensures every gallery at once, again without change, and refuses no definitions', async () => {
    const now = await open('0.5.0');
    try {
      const pipeline = bench.factory.pipelines.get('ubuntu-2204-base')!;
      const definitions = pipeline.stages.map((stage) => ({
        credential: stage.credential,
        spec: {
          subscriptionId: stage.subscriptionId,
          resourceGroup: stage.gallery.resourceGroup,
          gallery: stage.gallery.name,
          image: 'batched-calls-image',
          location: stage.regions[0]!.name,
          osType: 'Linux',
          osState: 'Generalized',
          hyperVGeneration: 'V2',
          securityType: 'TrustedLaunch',
          identifier: { publisher: 'Contoso', offer: 'batched', sku: 'calls' },
        },
      }));
      const puts = () =>
        bench.factory.sim
          .requests()
          .filter((r) => r.method === 'PUT' && r.path.endsWith('/images/batched-calls-image')).length;
      await expect(
        now.host.callActivity(Activities.ensureImageDefinitions, { definitions }),
      ).resolves.toBeNull();
      expect(puts()).toBe(pipeline.stages.length);
      // Idempotent: a retry finds every definition and creates none.
      await now.host.callActivity(Activities.ensureImageDefinitions, { definitions });
      expect(puts()).toBe(pipeline.stages.length);
      await expect(
        now.host.callActivity(Activities.ensureImageDefinitions, { definitions: [] }),
      ).resolves.toEqual({
        activityRefused: expect.objectContaining({
          code: 'InvalidActivityInput',
          message: expect.stringContaining('one { credential, spec } per gallery') as unknown,
        }) as unknown,
      });
    } finally {
      await now.host.stop();
    }
  });
});

describe('an operation wait that starts its operation (0.5.0)', () => {
  const bench = releaseBench('wait-starts');
  const templateRef = (name: string) => ({
    subscriptionId: bench.factory.world.eng.subscriptionId,
    resourceGroup: bench.factory.pipelines.get('ubuntu-2204-base')!.build.resourceGroup,
    name,
  });
  const waitInput = (start: AwaitOperationInput['start'], activity: string, judge: JudgeName) =>
    ({
      what: 'the operation under test',
      activity,
      activityInput: start?.input,
      judge,
      timing: { ...LRO_WAITS.templateDelete, deadlineMs: bench.factory.clock.now() + 30 * 60_000 },
      failedCode: 'OperationFailed',
      timedOutCode: 'OperationTimedOut',
      reads: 0,
      ...(start === undefined ? {} : { start }),
    }) satisfies AwaitOperationInput;

  it('starts the operation before it reads, and reports a refused start with its own code and activity', async () => {
    const now = await bench.open({ appEntry: APP, version: '0.5.0', reason: 'wait starts test' });
    try {
      const refusedStart = {
        activity: Activities.deleteImageTemplate,
        input: { credential: 'no-such-credential', ref: templateRef('it-wait-starts') },
      };
      await now.host.startNew(AWAIT_OPERATION_ORCHESTRATION, {
        instanceId: 'wait-refused-start',
        input: waitInput(refusedStart, Activities.getImageBuildStatus, 'templateGone'),
      });
      const refused = await now.host.waitFor('wait-refused-start');
      expect(refused.output).toEqual({
        failed: expect.objectContaining({
          code: expect.any(String) as unknown,
          message: expect.stringMatching(/^deleteImageTemplate: /) as unknown,
        }) as unknown,
      });
      expect((refused.output as AwaitOutcome & { failed: { code: string } }).failed.code).not.toBe(
        'OperationFailed',
      );

      // Started, then read until done: the start comes first, before any timer.
      const start = {
        activity: Activities.deleteImageTemplate,
        input: { credential: 'eng', ref: templateRef('it-wait-starts') },
      };
      await now.host.startNew(AWAIT_OPERATION_ORCHESTRATION, {
        instanceId: 'wait-started',
        input: waitInput(start, Activities.getImageBuildStatus, 'templateGone'),
      });
      await now.host.drive({
        until: async () => (await now.host.getStatus('wait-started'))?.runtimeStatus === 'Completed',
      });
      const done = await now.host.getStatus('wait-started', { showHistory: true });
      expect(done?.output).toEqual({ done: null });
      const steps = (done?.history ?? [])
        .map((e) => e as { EventType?: unknown; Name?: string })
        .filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'TimerCreated')
        .map((e) => (e.EventType === 'TimerCreated' ? 'timer' : e.Name));
      expect(steps).toEqual([Activities.deleteImageTemplate, 'timer', Activities.getImageBuildStatus]);
    } finally {
      await now.host.stop();
    }
  });
});
