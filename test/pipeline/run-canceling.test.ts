/**
 * A run canceled outside the factory (portal, CLI) is `Canceling` for a while before `Canceled`
 * (image-builder-json doc: the cancel does not wait; monitor lastRunStatus.runState). `Canceling`
 * is not an end state: the build keeps polling until the run is `Canceled`, and only then reads the
 * log and deletes the template.
 */
import { createAzurePorts } from '../../src/adapters';
import { loadConfig } from '../../src/config';
import { startFactory, type Factory } from './harness';
import { leftovers } from './side-effects';

describe('an Image Builder run canceled from outside', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('is waited for until Canceled, not taken as finished while Canceling', async () => {
    // The ARM calls an operator would make, through the same SDK (the world's ENG credential).
    process.env.IDENTITY_ENDPOINT = factory.env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = factory.env.IDENTITY_HEADER;
    const ports = createAzurePorts(loadConfig(factory.env), {
      env: factory.env,
      log: () => undefined,
      updateIntervalInMs: 1,
    });
    const id = await factory.start(factory.pipelines.get('ubuntu-2204-base')!, 'cancel-outside');
    let canceledAt: number | undefined;
    const states: string[] = [];
    await factory.host.drive({
      until: async () => {
        const running = factory.sim.runningImageBuilds()[0];
        if (canceledAt === undefined && running !== undefined) {
          const [, , subscriptionId, , resourceGroup, , , , name] = running.templateId.split('/');
          await ports
            .imageBuilder('eng')
            .cancelRun({ subscriptionId: subscriptionId!, resourceGroup: resourceGroup!, name: name! });
          canceledAt = factory.clock.now();
        }
        const instance = await factory.host.getStatus(id);
        const message = (instance?.customStatus as { message?: string } | null)?.message;
        if (message !== undefined && states.at(-1) !== message) states.push(message);
        return instance?.runtimeStatus !== 'Running' && instance?.runtimeStatus !== 'Pending';
      },
    });
    expect(canceledAt).toBeDefined();
    const status = await factory.status(id);
    expect(status.outcome).toBe('failed');
    expect(status.failure?.code).toBe('BuildFailed');
    // Seen through to the end state, not stopped at Canceling.
    expect(status.failure?.message).toMatch(/^Image Builder run Canceled\b/);
    expect(leftovers(factory.sim)).toEqual([]);
  }, 60_000);
});
