/**
 * The retry policy: the host retries every failed attempt of callActivityWithRetry, so a
 * non-retryable FactoryError is returned as a refusal and fails the build at once (one attempt, no
 * retry timers), while transient errors are thrown and retried (see test/pipeline/faults.test.ts).
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { Activities, refusalOf } from '../../src/domain/pipeline/activities';
import { startFactory, type Factory } from './harness';

describe('retry policy and refusals', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('a non-retryable error is one attempt: the build fails at once with its code and hint', async () => {
    const ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
    const pipeline = {
      ...ubuntu,
      stages: ubuntu.stages.map((stage, i) =>
        i === 2 ? { ...stage, credential: 'no-such-profile' } : stage,
      ),
    };
    // The PROD environment names the profile (the environment owns its credential).
    const restore = factory.editEnvironments((document) => {
      document.environments.find((e) => e.name === 'PROD')!.credential = 'no-such-profile';
    });
    const id = await factory.start(pipeline, 'refused-once');
    const final = await factory.host.waitFor(id);
    const status = final.customStatus as BuildCustomStatus;
    expect(final.runtimeStatus).toBe('Failed');
    expect(status.failure?.step).toBe('preflight');
    expect(status.failure?.message).toContain('no-such-profile');
    const history = (await factory.host.getStatus(id, { showHistory: true }))?.history ?? [];
    const scheduled = history.filter((e) => e.EventType === 'TaskScheduled').map((e) => e.Name);
    expect(scheduled.filter((name) => name === Activities.preflight)).toHaveLength(1);
    // Nothing was created, so compensation had nothing to do; no retry timer was set.
    expect(history.filter((e) => e.EventType === 'TimerCreated')).toEqual([]);
    expect(
      factory.sim.inventory().filter((r) => /imagetemplates|virtualmachines|versions/.test(r.type)),
    ).toEqual([]);
    restore();
  });

  it('an activity returns a refusal (code, message) for a non-retryable error instead of throwing', async () => {
    const eng = factory.pipelines.get('ubuntu-2204-base')!.stages[0]!;
    const result = await factory.host.callActivity(Activities.getImageBuildOutput, {
      credential: eng.credential,
      ref: {
        subscriptionId: eng.subscriptionId,
        resourceGroup: factory.world.templateResourceGroup,
        name: 'it-missing',
      },
      runOutputName: 'eng',
    });
    const refusal = refusalOf(result);
    expect(refusal).toBeDefined();
    expect(refusal?.code).toMatch(/NotFound|RunOutputMissing/);
    expect(refusal?.message).toContain('it-missing');
  });
});
