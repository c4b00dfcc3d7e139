/**
 * History stays bounded for a 4-hour build: the build, replication and slot waits poll in their own
 * sub-orchestrations (continue-as-new / returning per generation), so the build's history only
 * grows by a few events per step and per region change, not per poll.
 */
import { startFactory, type Factory } from './harness';

describe('history of a 4-hour build', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory({ durations: { buildMs: 235 * 60_000 } });
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('the build keeps under 200 history events; each polling generation under 100', async () => {
    const id = await factory.start(factory.pipelines.get('windows-2022-base')!, 'four-hours');
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'approved');
    const final = await factory.host.waitFor(id);
    expect(final.runtimeStatus).toBe('Completed');
    const history = (await factory.host.getStatus(id, { showHistory: true }))?.history ?? [];
    const buildWaitCreated = history.find(
      (e) => e.EventType === 'SubOrchestrationInstanceCreated' && e.Name === 'waitForImageBuild',
    );
    const built = history.find(
      (e) =>
        e.EventType === 'SubOrchestrationInstanceCompleted' &&
        e.TaskScheduledId === buildWaitCreated?.EventId,
    );
    expect(built).toBeDefined();
    // The build wait finished when the run did: it took 235 minutes.
    const startedAt = Date.parse(String(history[0]?.Timestamp));
    expect(Date.parse(String(built?.Timestamp)) - startedAt).toBeGreaterThanOrEqual(235 * 60_000);
    const created = history.filter((e) => e.EventType === 'SubOrchestrationInstanceCreated');
    expect(created.length).toBeGreaterThan(3);
    expect(history.length).toBeLessThan(200);
    const buildWait = (await factory.host.getStatus(`${id}:build`, { showHistory: true }))?.history ?? [];
    expect(buildWait.length).toBeGreaterThan(0);
    expect(buildWait.length).toBeLessThan(100);
  });
});
