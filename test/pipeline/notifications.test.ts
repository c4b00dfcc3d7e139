/**
 * Build events from a real build (local durable host + simulated Azure): the orchestration publishes
 * started, waiting for approval, approved, promoted, rejected and failed to the notifications topic,
 * each id derived from build, event and stage; a topic that refuses never changes a build's outcome.
 */
import { publishedEvents } from '../../src/local/azure-sim/eventgrid';
import { startFactory, type Factory } from './harness';

describe('build pipeline: notifications', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });
  const events = (buildId: string) =>
    publishedEvents(factory.sim, factory.world.notificationsTopic.id).filter(
      (e) => (e.data as { buildId?: string }).buildId === buildId,
    );

  it('publishes each step of an approved TEST and a rejected PROD promotion', async () => {
    const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
    const id = await factory.start(pipeline, 'build-notify-1');
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'rejected', 'bob@contoso.com');
    const final = await factory.host.waitFor(id);
    expect((final.output as { outcome: string }).outcome).toBe('rejected');
    const published = events(id);
    expect(published.map((e) => e.id)).toEqual([
      'build-notify-1/started',
      'build-notify-1/waitingForApproval/TEST',
      'build-notify-1/approved/TEST',
      'build-notify-1/promoted/TEST',
      'build-notify-1/waitingForApproval/PROD',
      'build-notify-1/rejected/PROD',
    ]);
    const rejected = published[5]!;
    expect(rejected.type).toBe('ImageFactory.Build.Rejected');
    expect(rejected.data).toMatchObject({
      approver: 'bob@contoso.com',
      changeTicket: 'CHG0012345',
      stage: 'PROD',
    });
    const waiting = published[1]!;
    expect((waiting.data as { deadline?: string }).deadline).toMatch(/^2026-11-/);
  });

  it('publishes failed with the code; without the topic role the build still ends as it would', async () => {
    factory.sim.scriptRunCommand(({ script }) =>
      script.includes('auditd')
        ? { exitCode: 3, stdout: 'auditd inactive', stderr: '' }
        : { exitCode: 0, stdout: '', stderr: '' },
    );
    const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
    const failing = await factory.start(pipeline, 'build-notify-2');
    expect((await factory.host.waitFor(failing)).runtimeStatus).toBe('Failed');
    const failed = events(failing).find((e) => e.type === 'ImageFactory.Build.Failed');
    expect(failed?.id).toBe('build-notify-2/failed');
    expect(failed?.data).toMatchObject({ code: 'TestFailed', stage: 'ENG' });

    const grant = factory.world.grants.find((g) => g.entry === 'factory-eventgrid-sender')!;
    factory.sim.removeRoleAssignment(grant.assignmentId);
    factory.sim.scriptRunCommand(() => ({ exitCode: 0, stdout: 'Tests failed: 0', stderr: '' }));
    const quiet = await factory.start(pipeline, 'build-notify-3');
    const atTest = await factory.untilApprovalPending(quiet, 'TEST');
    expect(atTest.pendingApproval?.stage).toBe('TEST');
    expect(events(quiet)).toEqual([]);
  });
});
