/**
 * host.json is read as the Functions host reads it (src/local/host/host-json.ts): hub name with
 * %SETTING% resolved, functionTimeout (an activity past it fails and the orchestrator is told),
 * maxConcurrentActivityFunctions / maxConcurrentOrchestratorFunctions, and the Service Bus block.
 */
import path from 'node:path';
import { VirtualClock } from '../../src/shared/clock';
import { LocalHost } from '../../src/local/host';
import { readHostJson } from '../../src/local/host/host-json';
import { sampleControl } from '../fixtures/sample-app';
import { SAMPLE_APP } from './helpers';

const REPO_HOST_JSON = path.resolve(__dirname, '../../host.json');

/** Lets pending promise callbacks and setImmediate turns run (the engine pumps on setImmediate). */
const settle = async (turns = 20) => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('host.json as the Functions host reads it', () => {
  it("reads the repo's host.json: hub name from its app setting, 10-minute timeout, concurrency 10", () => {
    const settings = readHostJson(REPO_HOST_JSON, { TASK_HUB_NAME: 'ImageFactoryTest' });
    expect(settings).toMatchObject({
      hubName: 'ImageFactoryTest',
      functionTimeoutMs: 10 * 60_000,
      maxConcurrentActivityFunctions: 10,
      maxConcurrentOrchestratorFunctions: 10,
    });
  });

  it('reads the flat Service Bus 5.x settings and names the 4.x block it ignores', () => {
    const flat = readHostJson(
      {
        extensions: {
          serviceBus: {
            autoCompleteMessages: false,
            maxConcurrentCalls: 4,
            maxAutoLockRenewalDuration: '00:10:00',
          },
        },
      },
      {},
    );
    expect(flat.serviceBus).toEqual({
      autoCompleteMessages: false,
      maxConcurrentCalls: 4,
      maxAutoLockRenewalDurationMs: 10 * 60_000,
      prefetchCount: 0,
      ignored: [],
    });
    const legacy = readHostJson(
      {
        extensions: { serviceBus: { messageHandlerOptions: { autoComplete: false, maxConcurrentCalls: 4 } } },
      },
      {},
    );
    // Extension 5.x ignores messageHandlerOptions: its defaults apply.
    expect(legacy.serviceBus).toMatchObject({
      autoCompleteMessages: true,
      maxConcurrentCalls: undefined,
      ignored: ['messageHandlerOptions'],
    });
  });

  it('keeps an unresolvable %SETTING% as text, which the hub-name check then refuses', () => {
    expect(() => readHostJson({ extensions: { durableTask: { hubName: '%TASK_HUB_NAME%' } } }, {})).toThrow(
      "Task hub name '%TASK_HUB_NAME%' should contain only alphanumeric characters, start with a letter, and have length between 3 and 45.",
    );
    // Only a whole "%NAME%" is resolved; no hub name at all gives the extension's default.
    expect(readHostJson({}, {}).hubName).toBe('TestHubName');
    expect(readHostJson({}, { WEBSITE_SITE_NAME: 'imagefactoryprod' }).hubName).toBe('imagefactoryprod');
  });

  it('refuses bad values with the setting named', () => {
    expect(() =>
      readHostJson({ extensions: { durableTask: { maxConcurrentActivityFunctions: 0 } } }, {}),
    ).toThrow('MaxConcurrentActivityFunctions must be a positive integer value.');
    expect(() => readHostJson({ functionTimeout: '10 minutes' }, {})).toThrow(/functionTimeout "10 minutes"/);
    expect(readHostJson({ functionTimeout: '-1' }, {}).functionTimeoutMs).toBeUndefined();
  });
});

describe('the local host honours host.json', () => {
  let host: LocalHost | undefined;
  afterEach(async () => {
    for (const release of sampleControl.blocked.splice(0)) release();
    await host?.stop();
    host = undefined;
  });

  const start = async (hostJson: Record<string, unknown>) => {
    const clock = new VirtualClock(Date.UTC(2026, 10, 1, 8, 0, 0));
    host = await LocalHost.start({ appEntry: SAMPLE_APP, clock, hostJson });
    return { host, clock };
  };

  it('fails an activity that runs past functionTimeout and tells the orchestrator', async () => {
    const { host: h, clock } = await start({ functionTimeout: '00:10:00' });
    const id = await h.startNew('callsBlocked');
    await settle();
    expect(sampleControl.blocked).toHaveLength(1);
    clock.advanceBy(10 * 60_000);
    const status = await h.waitFor(id);
    expect(status.output).toEqual({
      isTaskFailedError: false,
      message: expect.stringMatching(
        /^Activity function 'blocked' failed: Timeout value of 00:10:00 was exceeded by function: Functions\.blocked \n /,
      ) as unknown,
    });
    // The abandoned execution's late result changes nothing.
    sampleControl.blocked.splice(0).forEach((release) => release());
    await settle();
    expect((await h.getStatus(id))?.output).toEqual(status.output);
  });

  it('lets an activity beyond maxConcurrentActivityFunctions wait for a free slot', async () => {
    const { host: h } = await start({ extensions: { durableTask: { maxConcurrentActivityFunctions: 1 } } });
    const id = await h.startNew('twoBlocked');
    await settle();
    expect(sampleControl.blocked).toHaveLength(1);
    sampleControl.blocked.shift()?.();
    await settle();
    expect(sampleControl.blocked).toHaveLength(1);
    sampleControl.blocked.shift()?.();
    expect((await h.waitFor(id)).output).toEqual(['released', 'released']);
    expect(h.engine.stats.peakConcurrentActivities).toBe(1);
  });

  it('runs no more episodes at once than maxConcurrentOrchestratorFunctions', async () => {
    const { host: h } = await start({
      extensions: { durableTask: { maxConcurrentOrchestratorFunctions: 1 } },
    });
    const ids = await Promise.all([1, 2, 3].map(() => h.startNew('helloSequence', { input: ['x'] })));
    for (const id of ids) expect((await h.waitFor(id)).runtimeStatus).toBe('Completed');
    expect(h.engine.stats.peakConcurrentEpisodes).toBe(1);
  });
});
