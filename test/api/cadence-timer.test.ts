/**
 * The patch-cadence timer as registered (src/functions/cadence-timer.ts), fired by the local host's
 * timer scheduler on the virtual clock, talking to the engine through the real df client and the
 * front end's durable API, reading source versions from the simulated Azure. One build per slot
 * however the timer fires: twice at once, past due, after a restart.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCadence, CONCURRENT_REASON, EXISTS_REASON } from '../../src/cadence-runner/run';
import { fireTime } from '../../src/cadence-runner/fire-time';
import type { BuildsClient } from '../../src/api/builds-api';
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { TimerScheduler } from '../../src/local/host/timers/scheduler';
import { MemoryTimerStatusStore } from '../../src/local/host/timers/store';
import { durableClientInputs } from '../../src/local/servicebus/trigger';
import { startFactory, type Factory } from '../pipeline/harness';

const SYSTEM_KEY = 'cadence-system-key';
const SCHEDULE = '0 0 * * * *';

describe('patch cadence timer on the local host', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  let dir: string;
  const store = new MemoryTimerStatusStore();
  const schedulers: TimerScheduler[] = [];

  /** As the Functions host would call it: durable client binding data injected. */
  const invoke = (name: string, input: unknown, options: { triggerMetadata?: Record<string, unknown> }) => {
    const fn = factory.host.registry.functions.get(name)!;
    return factory.host.invokeFunction(name, input, {
      ...options,
      extraInputs: durableClientInputs(fn, {
        engine: factory.host.engine,
        taskHubName: 'ImageFactoryTest',
        front,
        systemKey: SYSTEM_KEY,
      }),
    });
  };
  const startScheduler = async () => {
    const scheduler = await TimerScheduler.start({
      registry: factory.host.registry,
      invoke,
      clock: factory.clock,
      // The retention timer is registered too; the host refuses a timer whose setting is unset.
      env: { ...factory.env, PATCH_CADENCE_SCHEDULE: SCHEDULE, 'AzureWebJobs.retention.Disabled': 'true' },
      store,
      log: (line) => factory.log.push(line),
    });
    schedulers.push(scheduler);
    return scheduler;
  };
  const cadenceInstances = async () =>
    (await factory.host.engine.list({})).instances
      .map((i) => i.instanceId)
      .filter((id) => id.startsWith('cadence-'))
      .sort();
  const logLines = (text: string) => factory.log.filter((line) => line.includes(text));

  beforeAll(async () => {
    // The served folder: the real pipelines and one broken file, which the timer reports and skips.
    dir = mkdtempSync(join(tmpdir(), 'cadence-pipelines-'));
    for (const file of readdirSync('pipelines')) copyFileSync(join('pipelines', file), join(dir, file));
    writeFileSync(join(dir, 'broken-image.yaml'), 'name: broken-image\ncadence: { kind: weekly }\n');
    factory = await startFactory({}, { PATCH_CADENCE_SCHEDULE: SCHEDULE, PIPELINES_DIR: dir });
    front = await startHttpFrontEnd({
      registry: factory.host.registry,
      engine: factory.host.engine,
      invoke: factory.host.invokeFunction.bind(factory.host),
      port: 0,
      keys: {
        functionKeys: {},
        masterKey: 'cadence-master-key',
        durableTaskExtensionKey: SYSTEM_KEY,
      },
      taskHubName: 'ImageFactoryTest',
    });
  });
  afterAll(async () => {
    for (const scheduler of schedulers) await scheduler.stop();
    await front.close();
    await factory.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the fire time from the host binding data (sys.UtcNow), else the clock', () => {
    expect(fireTime({ sys: { UtcNow: '2026-11-12T06:00:01.000Z' } }).toISOString()).toBe(
      '2026-11-12T06:00:01.000Z',
    );
    expect(fireTime({ sys: { UtcNow: '2026-11-12T06:00:01' } }).toISOString()).toBe(
      '2026-11-12T06:00:01.000Z',
    );
    const fallback = new Date('2030-01-01T00:00:00Z');
    expect(fireTime({ sys: { UtcNow: 'garbage' } }, () => fallback)).toBe(fallback);
    expect(fireTime(undefined, () => fallback)).toBe(fallback);
  });

  it('is registered on the %PATCH_CADENCE_SCHEDULE% setting with a durable client', () => {
    const timer = factory.host.registry.functions.get('patchCadence')!;
    expect(timer.trigger.schedule).toBe('%PATCH_CADENCE_SCHEDULE%');
    expect(Object.values(timer.bindings).map((b) => b.type)).toContain('durableClient');
  });

  it('a past-due fire starts the due slot once; a double fire at once and a restart start nothing more', async () => {
    const scheduler = await startScheduler();
    expect(scheduler.describe()[0]?.next).toBe('2026-11-10T07:00:00.000Z');
    expect(await cadenceInstances()).toEqual([]);

    // The app was asleep past Ubuntu's November slot (Patch Tuesday + 2 days, 06:00). As it wakes,
    // its past-due fire and a second fire for the same moment (another host instance, a retried
    // invocation) run at once: still one build per slot.
    factory.clock.advanceTo(Date.parse('2026-11-12T06:30:00Z'));
    const timerInput = { isPastDue: true, schedule: { adjustForDST: true } };
    const metadata = { triggerMetadata: { sys: { UtcNow: '2026-11-12T06:30:00.000Z' } } };
    await Promise.all([scheduler.runDue(factory.clock.now()), invoke('patchCadence', timerInput, metadata)]);
    expect(logLines('patchCadence fires at 2026-11-12T06:30:00.000Z (past due)')).toHaveLength(1);
    expect(await cadenceInstances()).toEqual([
      'cadence-ubuntu-2204-base-20261112T0600Z',
      // Windows' November slot (the 17th) is not due; October's has no successful build yet.
      'cadence-windows-2022-base-20261020T0400Z',
    ]);
    const started = await factory.host.engine.getStatus('cadence-ubuntu-2204-base-20261112T0600Z', {
      showInput: true,
    });
    expect(started?.input).toMatchObject({
      buildId: 'cadence-ubuntu-2204-base-20261112T0600Z',
      requestedBy: 'patch-cadence',
      pipeline: 'ubuntu-2204-base',
      definitionDigest: expect.stringMatching(/^[a-f0-9]{64}$/) as unknown,
    });
    for (const slot of [
      'ubuntu-2204-base slot 2026-11-12T06:00Z',
      'windows-2022-base slot 2026-10-20T04:00Z',
    ]) {
      expect(logLines(`cadence ${slot}: started`)).toHaveLength(1);
      expect(
        logLines(`cadence ${slot}: skipped (${EXISTS_REASON})`).length +
          logLines(`cadence ${slot}: skipped (${CONCURRENT_REASON})`).length,
      ).toBe(1);
    }
    expect(logLines(': failed (')).toEqual([]);
    expect(logLines('cadence: broken-image.yaml is not a valid pipeline')).toHaveLength(2);

    // The next hourly fire: both slots are handled already.
    factory.clock.advanceTo(Date.parse('2026-11-12T07:00:00Z'));
    await scheduler.runDue(factory.clock.now());
    expect(logLines('cadence at 2026-11-12T07:00:00.000Z: 0 started, 2 skipped, 0 failed')).toHaveLength(1);

    // The app stops, stays down for two days, restarts: the missed hourly check fires once, past due.
    await scheduler.stop();
    factory.clock.advanceTo(Date.parse('2026-11-14T09:10:00Z'));
    await startScheduler();
    expect(logLines('patchCadence fires at 2026-11-14T09:10:00.000Z (past due)')).toHaveLength(1);
    expect(await cadenceInstances()).toHaveLength(2);
    expect(logLines('cadence at 2026-11-14T09:10:00.000Z: 0 started, 2 skipped, 0 failed')).toHaveLength(1);
  });

  it('records a failed pipeline and still handles the others', async () => {
    const engine = factory.host.engine;
    const client: BuildsClient = {
      startNew: async (name, instanceId, input) => void (await engine.startNew(name, { instanceId, input })),
      getStatus: async (id) => engine.getStatus(id, { showInput: true }),
      list: async (statuses) =>
        (await engine.list(statuses ? { runtimeStatus: statuses as never } : {})).instances,
      raiseEvent: (id, name, data) => engine.raiseEvent(id, name, data),
      statusLinks: () => ({}),
    };
    const log: string[] = [];
    const decisions = await runCadence({
      now: new Date('2026-11-17T05:00:00Z'),
      pipelines: [...factory.pipelines.values()],
      client,
      currentSourceVersion: (pipeline) =>
        pipeline.name === 'ubuntu-2204-base'
          ? Promise.reject(new Error('platform image list unavailable\nstack…'))
          : Promise.resolve('20348.2000.251110'),
      log: (line) => log.push(line),
    });
    // Ubuntu's slot build exists already, so its source is never read.
    expect(decisions.find((d) => d.pipeline === 'ubuntu-2204-base')).toMatchObject({
      action: 'skipped',
      reason: EXISTS_REASON,
    });
    expect(decisions.find((d) => d.pipeline === 'windows-2022-base')).toMatchObject({
      action: 'started',
      slot: '2026-11-17T04:00Z',
      instanceId: 'cadence-windows-2022-base-20261117T0400Z',
    });
    // Next month Ubuntu's source cannot be read: a failure with the reason; Windows still handled.
    const december = await runCadence({
      now: new Date('2026-12-10T07:00:00Z'),
      pipelines: [...factory.pipelines.values()],
      client,
      currentSourceVersion: (pipeline) =>
        pipeline.name === 'ubuntu-2204-base'
          ? Promise.reject(new Error('platform image list unavailable\nstack…'))
          : Promise.resolve('20348.2000.251110'),
      log: (line) => log.push(line),
    });
    expect(december.find((d) => d.pipeline === 'ubuntu-2204-base')).toMatchObject({
      action: 'failed',
      slot: '2026-12-10T06:00Z',
      reason: 'platform image list unavailable',
    });
    expect(december.find((d) => d.pipeline === 'windows-2022-base')).toMatchObject({
      action: 'skipped',
      reason: EXISTS_REASON,
    });
    expect(await engine.getStatus('cadence-ubuntu-2204-base-20261210T0600Z')).toBeUndefined();
    expect(log.at(-1)).toBe('cadence at 2026-12-10T07:00:00.000Z: 0 started, 1 skipped, 1 failed');
  });
});
