/**
 * Durable entities through the library's entity handler: callEntity answers, signalEntity (from an
 * orchestration, an entity and a client), operations one at a time in arrival order, state kept.
 */
import { startSampleHost } from './helpers';
import type { LocalHost } from '../../src/local/host';

describe('durable entities', () => {
  let host: LocalHost;
  afterEach(async () => {
    await host.stop();
  });

  it('a one-slot semaphore entity lets three orchestrations run one at a time', async () => {
    ({ host } = await startSampleHost());
    const ids = [];
    for (const n of [1, 2, 3]) ids.push(await host.startNew('slotUser', { instanceId: `user-${n}` }));
    for (const id of ids) expect((await host.waitFor(id)).runtimeStatus).toBe('Completed');
    const runs = await Promise.all(
      ids.map(async (id) => (await host.getStatus(id))?.output as { startedAt: string; endedAt: string }),
    );
    const ordered = [...runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (let i = 1; i < ordered.length; i++)
      expect(ordered[i]!.startedAt >= ordered[i - 1]!.endedAt).toBe(true);
    const slots = await host.engine.readEntityState({ name: 'slots', key: 'eastus' });
    expect(slots).toEqual({ entityExists: true, entityState: { capacity: 1, holders: [] } });
    // release signalled the audit entity three times (entity → entity signals).
    const audit = await host.engine.readEntityState({ name: 'audit', key: 'eastus' });
    expect((audit.entityState as string[]).sort()).toEqual([
      'released user-1',
      'released user-2',
      'released user-3',
    ]);
  });

  it('records callEntity as EventSent with a sequence id and the answer as EventRaised by request id', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('slotUser', { instanceId: 'solo' });
    await host.waitFor(id);
    const history = (await host.getStatus(id, { showHistory: true }))?.history ?? [];
    const sent = history.filter((e) => e.EventType === 'EventSent');
    expect(sent.map((e) => [e.EventId, e.InstanceId, e.Name])).toEqual([
      [0, '@slots@eastus', 'op'],
      [3, '@slots@eastus', 'op'],
    ]);
    const request = JSON.parse(String(sent[0]?.Input)) as { id: string; op: string; signal: boolean };
    expect(request).toMatchObject({ op: 'acquire', signal: false, parent: 'solo' });
    const answer = history.find((e) => e.EventType === 'EventRaised');
    expect(answer?.Name).toBe(request.id);
    expect(JSON.parse(String(answer?.Input))).toEqual({ result: 'true' });
    expect(JSON.parse(String(sent[1]?.Input))).toMatchObject({ op: 'release', signal: true });
  });

  it('client signals are processed in order and the state is kept across batches', async () => {
    ({ host } = await startSampleHost());
    await host.engine.signalEntity({ name: 'slots', key: 'west' }, 'configure', 2);
    await host.engine.signalEntity({ name: 'Slots', key: 'west' }, 'acquire', 'a');
    await host.engine.signalEntity({ name: 'slots', key: 'west' }, 'acquire', 'b');
    await host.engine.signalEntity({ name: 'slots', key: 'west' }, 'acquire', 'c');
    await host.drive();
    expect(await host.engine.readEntityState({ name: 'slots', key: 'west' })).toEqual({
      entityExists: true,
      entityState: { capacity: 2, holders: ['a', 'b'] },
    });
    expect(await host.engine.readEntityState({ name: 'slots', key: 'nobody' })).toEqual({
      entityExists: false,
      entityState: undefined,
    });
  });

  it('refuses a signal to an entity the app does not have, changing nothing', async () => {
    ({ host } = await startSampleHost());
    await expect(host.engine.signalEntity({ name: 'nope', key: 'k' }, 'op')).rejects.toThrow(
      /'nope' doesn't exist or is not an entity function/,
    );
    await expect(host.engine.signalEntity({ name: 'slots', key: 'k' }, '')).rejects.toThrow(/operation name/);
    expect(await host.engine.readEntityState({ name: 'nope', key: 'k' })).toEqual({
      entityExists: false,
      entityState: undefined,
    });
  });

  it('an operation that throws fails the call in the orchestration (as the library builds it)', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('entityFailure');
    const status = await host.waitFor(id);
    // Entity.handle stores JSON.stringify(error) ("{}") as the result; the library then throws Error({}).
    expect(status.output).toBe('caught: [object Object]');
  });
});
