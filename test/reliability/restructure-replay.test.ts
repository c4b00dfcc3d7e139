/**
 * The restructure of issue 16 ships as a safe release: builds started on the code main had before
 * (the one-file orchestrator, frozen in test/fixtures/factory-before-issue-16) and caught mid-way —
 * waiting for the Image Builder run, for the TEST approval, for the PROD approval — finish on the
 * new modules (src/orchestrations/build/) after the host restarts on the same SQLite file, with no
 * non-determinism and nothing created twice; a rejection compensates on the new code and leaves
 * nothing behind. The old builds carry main's factory version (0.1.0) and keep its polling
 * generations; a build started after the restart takes the current version's (issue 16, P1).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { definitionDigest, type BuildInput } from '../../src/domain/pipeline/admission';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';
import { startFactory, type Factory } from '../pipeline/harness';
import { leftovers, sideEffectsOf, versionsOf } from '../pipeline/side-effects';

const BEFORE = 'test/fixtures/factory-before-issue-16/index.ts';
const NOW = 'src/functions/index.ts';

describe('builds started before the restructure finish on the restructured orchestration', () => {
  let factory: Factory;
  const dir = mkdtempSync(join(tmpdir(), 'restructure-replay-'));
  const databasePath = join(dir, 'durable.sqlite');
  const repoHostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  const currentVersion = String(repoHostJson.extensions.durableTask.defaultVersion);

  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The factory's host on the shared database: `appEntry`, stamping new builds with `version`. */
  async function open(appEntry: string, version: string) {
    const log: string[] = [];
    const host = await LocalHost.start({
      appEntry,
      env: factory.env,
      clock: factory.clock,
      databasePath,
      log: (line) => log.push(line),
      hostJson: {
        ...repoHostJson,
        extensions: {
          ...repoHostJson.extensions,
          durableTask: { ...repoHostJson.extensions.durableTask, defaultVersion: version },
        },
      },
    });
    const custom = async (id: string) => (await host.getStatus(id))?.customStatus as BuildCustomStatus | null;
    const running = async (id: string) => {
      const status = await host.getStatus(id);
      return status?.runtimeStatus === 'Running' || status?.runtimeStatus === 'Pending';
    };
    return {
      host,
      log,
      custom,
      async start(buildId: string) {
        const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
        await host.startNew(BUILD_ORCHESTRATION, {
          instanceId: buildId,
          input: {
            buildId,
            pipeline: pipeline.name,
            definitionDigest: definitionDigest(pipeline),
            reason: 'restructure replay test',
          } satisfies BuildInput,
        });
      },
      /** Drives until `done(status)` holds for every build still running. */
      async until(ids: string[], done: (status: BuildCustomStatus | null) => boolean) {
        await host.drive({
          until: async () => {
            for (const id of ids) if ((await running(id)) && !done(await custom(id))) return false;
            return true;
          },
        });
      },
      /** The Image Builder wait of a build: reads before this generation, reads in it. */
      async buildWait(id: string) {
        const status = await host.getStatus(`${id}:build`, { showHistory: true });
        return {
          before: (status?.input as { polls?: number } | null)?.polls ?? 0,
          inGeneration: (status?.history ?? []).filter((e) => e.EventType === 'TaskScheduled').length,
        };
      },
      async decide(id: string, stage: string, decision: 'approved' | 'rejected') {
        const pending = (await custom(id))?.pendingApproval;
        if (pending?.stage !== stage) throw new Error(`${id} does not wait for ${stage}`);
        await host.raiseEvent(id, approvalEventName(stage), {
          requestId: pending.requestId,
          buildId: pending.buildId,
          stage,
          imageVersion: pending.imageVersion,
          decision,
          approver: 'alice@contoso.com',
          changeTicket: 'CHG0012345',
          decidedAt: new Date(factory.clock.now()).toISOString(),
        } satisfies ApprovalDecision);
      },
    };
  }

  const waitingFor = (stage: string) => (status: BuildCustomStatus | null) =>
    status?.pendingApproval?.stage === stage;

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

    const now = await open(NOW, currentVersion);
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
      expect((await now.custom('new-build'))?.factoryVersion).toBe(currentVersion);

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
        expect({ id, ...sideEffectsOf(factory.sim, id) }).toEqual({ id, runs: 1, testVms: 1, copies: 2 });
      }
      const rejected = await now.host.waitFor('rejected-at-test');
      expect(rejected.runtimeStatus).toBe('Completed');
      expect((rejected.output as { outcome?: string }).outcome).toBe('rejected');
      // Compensation on the new code removed the rejected build's ENG version; nothing is left anywhere.
      expect(versionsOf(factory.sim, 'rejected-at-test')).toEqual([]);
      expect(leftovers(factory.sim)).toEqual([]);
      expect(now.log.filter((line) => /non-determinis/i.test(line))).toEqual([]);
    } finally {
      await now.host.stop();
    }
  });
});
