import { runCadence } from '../../src/cadence-runner/run';
import type { BuildsClient } from '../../src/api/builds-api';
import { startFactory, type Factory } from '../pipeline/harness';

describe('patch cadence timer through the local host', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('is registered with its schedule setting and fires on the virtual clock', () => {
    const timer = factory.host.registry.functions.get('patchCadence');
    expect(timer?.triggerType).toBe('timerTrigger');
    expect(timer?.trigger.schedule).toBe('%PATCH_CADENCE_SCHEDULE%');
  });

  it('starts one build per slot: double and past-due fires start nothing more; unchanged sources skip', async () => {
    // A BuildsClient over the engine directly (the timer uses the same interface over df.getClient).
    const engine = factory.host.engine;
    const client: BuildsClient = {
      startNew: async (name, instanceId, input) => void (await engine.startNew(name, { instanceId, input })),
      getStatus: async (id) => {
        const s = await engine.getStatus(id, { showInput: true });
        return s && { ...s, input: s.input, createdTime: s.createdTime, lastUpdatedTime: s.lastUpdatedTime };
      },
      list: async (statuses) =>
        (await engine.list(statuses ? { runtimeStatus: statuses as never } : {})).instances,
      raiseEvent: (id, name, data) => engine.raiseEvent(id, name, data),
      statusLinks: () => ({}),
    };
    const pipelines = [...factory.pipelines.values()];
    const source = () => Promise.resolve('22.04.202512010');
    const log: string[] = [];
    const first = await runCadence({
      now: new Date('2026-11-12T06:30:00Z'),
      pipelines,
      client,
      currentSourceVersion: source,
      log: (l) => log.push(l),
    });
    const ubuntu = first.find((d) => d.pipeline === 'ubuntu-2204-base')!;
    expect(ubuntu.action).toBe('started');
    expect(ubuntu.instanceId).toBe('cadence-ubuntu-2204-base-20261112T0600Z');
    const windows = first.find((d) => d.pipeline === 'windows-2022-base')!;
    expect(windows.slot).toBe('2026-10-20T04:00Z'); // November's slot (17th) is not yet due

    const double = await runCadence({
      now: new Date('2026-11-12T06:30:00Z'),
      pipelines,
      client,
      currentSourceVersion: source,
      log: (l) => log.push(l),
    });
    expect(double.find((d) => d.pipeline === 'ubuntu-2204-base')).toMatchObject({
      action: 'skipped',
      reason: 'the build for this slot exists already',
    });
    const pastDue = await runCadence({
      now: new Date('2026-11-20T09:00:00Z'),
      pipelines,
      client,
      currentSourceVersion: source,
      log: (l) => log.push(l),
    });
    expect(pastDue.find((d) => d.pipeline === 'ubuntu-2204-base')?.action).toBe('skipped');
    const starts = (await engine.list({})).instances.filter((i) => i.instanceId.startsWith('cadence-ubuntu'));
    expect(starts).toHaveLength(1);

    // Let that build succeed, then next month with the same source and recipe: skipped, with the reason.
    const id = ubuntu.instanceId;
    for (const stage of ['TEST', 'PROD']) {
      await factory.untilApprovalPending(id, stage);
      await factory.decide(id, stage, 'approved');
    }
    await factory.host.waitFor(id);
    const december = await runCadence({
      now: new Date('2026-12-10T07:00:00Z'),
      pipelines,
      client,
      currentSourceVersion: source,
      log: (l) => log.push(l),
    });
    expect(december.find((d) => d.pipeline === 'ubuntu-2204-base')).toMatchObject({
      action: 'skipped',
      reason: expect.stringContaining('unchanged'),
    });
    const newSource = await runCadence({
      now: new Date('2026-12-10T07:00:00Z'),
      pipelines,
      client,
      currentSourceVersion: () => Promise.resolve('22.04.202601010'),
      log: (l) => log.push(l),
    });
    expect(newSource.find((d) => d.pipeline === 'ubuntu-2204-base')).toMatchObject({
      action: 'started',
      reason: expect.stringContaining('source image changed'),
    });
  });
});
