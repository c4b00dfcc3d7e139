/**
 * From factory 0.5.0 a replication wait came back to the build after its first read and at the end
 * only, from 0.7.0 at the end only (the build orchestration replays its whole history on every
 * return); every read's per-region progress is in the wait's own status. GET /api/builds/{id} shows
 * that progress in the stage while the version replicates, and never the internal pointer to the
 * wait. (A 0.6.0 build's two returns: test/reliability/waits-report-at-end-version.test.ts.)
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { apiSuite } from './api-suite';

describe("a replicating stage shows its wait's progress", () => {
  const suite = apiSuite({
    hostKey: 'live-replication-key',
    masterKey: 'master-key',
    settings: () => ({ API_RATE_LIMIT_BURST: '1000' }),
  });
  const states = (regions: { name: string; state: string }[] | undefined) =>
    (regions ?? []).map((r) => `${r.name}:${r.state}`).join(',');

  /**
   * Starts build `buildId`, approves TEST and drives until `reached` holds for the TEST stage's
   * replication wait (the stage as the build's own status has it); the wait's instance id.
   */
  async function untilTestWait(
    buildId: string,
    reached: (waitId: string, stage: BuildCustomStatus['stages'][number]) => Promise<boolean>,
  ): Promise<string> {
    const { factory } = suite;
    const id = await factory.start(factory.pipelines.get('ubuntu-2204-base')!, buildId);
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    let waitId: string | undefined;
    await factory.host.drive({
      until: async () => {
        const build = (await factory.host.getStatus(id))?.customStatus as BuildCustomStatus | null;
        const stage = build?.stages.find((s) => s.name === 'TEST');
        waitId = stage?.replicationWait;
        return stage !== undefined && waitId !== undefined && reached(waitId, stage);
      },
    });
    return waitId!;
  }

  it('GET /api/builds/{id} shows the regions as the wait last read them, while the build holds none yet', async () => {
    const { factory } = suite;
    const id = 'live-replication';
    // Until the wait has read a change the build has not heard of.
    const waitId = await untilTestWait(id, async (waitId, stage) => {
      const wait = (await factory.host.getStatus(waitId))?.customStatus as {
        regions?: { name: string; state: string }[];
      } | null;
      return wait?.regions !== undefined && states(wait.regions) !== states(stage.regions);
    });
    const build = (await factory.host.getStatus(id))?.customStatus as BuildCustomStatus;
    const wait = (await factory.host.getStatus(waitId))?.customStatus as {
      regions: { name: string; state: string; progress: number }[];
    };
    expect((await factory.host.getStatus(waitId))?.runtimeStatus).toBe('Running');

    const answer = await suite.call('GET', `/api/builds/${id}`);
    expect(answer.status).toBe(200);
    const shown = (answer.json as { stages: Record<string, unknown>[] }).stages.find(
      (s) => s.name === 'TEST',
    );
    expect(shown?.regions).toEqual(wait.regions);
    expect(states(shown?.regions as { name: string; state: string }[])).not.toBe(
      states(build.stages.find((s) => s.name === 'TEST')?.regions),
    );
    // From 0.7.0 the build hears of replication at its end only: nothing in its own status yet.
    expect(build.stages.find((s) => s.name === 'TEST')?.regions).toBeUndefined();
    expect(answer.text).not.toContain('replicationWait');
    expect(answer.text).not.toContain(waitId);

    // Once replicated the build has the end itself, and no wait is named.
    await factory.untilApprovalPending(id, 'PROD');
    const done = (await factory.host.getStatus(id))?.customStatus as BuildCustomStatus;
    const test = done.stages.find((s) => s.name === 'TEST');
    expect(test?.replicationWait).toBeUndefined();
    expect(test?.regions?.every((r) => r.state === 'Completed')).toBe(true);
    // The build heard from TEST's replication once, at its end (the wait continued as new in between,
    // under the one instance id the stage named).
    const waits = factory.host.engine.instanceIds().filter((child) => child.startsWith(`${id}:replicate:`));
    const stageOf = async (child: string) =>
      ((await factory.host.getStatus(child))?.customStatus as { stage?: string } | null)?.stage;
    const testWaits = (await Promise.all(waits.map(stageOf))).filter((stage) => stage === 'TEST');
    expect(testWaits).toHaveLength(1);
    await factory.decide(id, 'PROD', 'rejected');
    await factory.host.waitFor(id);
  });

  it('keeps showing the last read while the wait begins a new generation (continue-as-new clears its status)', async () => {
    const { factory } = suite;
    const id = 'live-replication-generations';
    // Until the TEST wait has continued as new and its new generation waits for its first read.
    const waitId = await untilTestWait(id, async (waitId) => {
      const wait = await factory.host.getStatus(waitId, { showHistory: true });
      const history = (wait?.history ?? []) as { EventType: string; Input?: string }[];
      const started = history.find((e) => e.EventType === 'ExecutionStarted');
      const polls = (JSON.parse(started?.Input ?? '{}') as { polls?: number }).polls ?? 0;
      return (
        wait?.runtimeStatus === 'Running' &&
        polls > 0 &&
        !history.some((e) => e.EventType === 'TaskScheduled')
      );
    });
    const wait = await factory.host.getStatus(waitId);
    expect(wait?.customStatus).toMatchObject({ stage: 'TEST', regions: expect.any(Array) });
    const answer = await suite.call('GET', `/api/builds/${id}`);
    const shown = (answer.json as { stages: Record<string, unknown>[] }).stages.find(
      (s) => s.name === 'TEST',
    );
    expect(shown?.regions).toEqual((wait?.customStatus as { regions: unknown }).regions);
    expect((shown?.regions as unknown[]).length).toBeGreaterThan(0);
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'rejected');
    await factory.host.waitFor(id);
  });
});
