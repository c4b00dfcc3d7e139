/**
 * Restart on the same SQLite file in one process (the crash test does it with SIGKILL): entity
 * state and queued entity operations, a pending timer and a buffered event all survive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSampleHost } from './helpers';

describe('restart on the same database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'host-restart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps entity state and queued operations, timers and buffered events', async () => {
    const databasePath = join(dir, 'host.sqlite');
    const first = await startSampleHost({ databasePath });
    await first.host.engine.signalEntity({ name: 'slots', key: 'r' }, 'configure', 2);
    await first.host.engine.signalEntity({ name: 'slots', key: 'r' }, 'acquire', 'a');
    await first.host.drive();
    const race = await first.host.startNew('approvalRace', { instanceId: 'race' });
    await first.host.drive({
      until: async () => (await first.host.getStatus(race))?.runtimeStatus === 'Running',
    });
    // Queued but not yet processed when the process "dies": nothing may be lost.
    await first.host.engine.signalEntity({ name: 'slots', key: 'r' }, 'acquire', 'b');
    await first.host.raiseEvent(race, 'approval', 'after restart');
    first.host.abandon();

    const second = await startSampleHost({ databasePath });
    try {
      const status = await second.host.waitFor(race);
      expect(status.output).toEqual({ decision: 'after restart' });
      await second.host.drive();
      expect(await second.host.engine.readEntityState({ name: 'slots', key: 'r' })).toEqual({
        entityExists: true,
        entityState: { capacity: 2, holders: ['a', 'b'] },
      });
    } finally {
      await second.host.stop();
    }
  });

  it('fires a durable timer that came due while the host was down', async () => {
    const databasePath = join(dir, 'timer.sqlite');
    const first = await startSampleHost({ databasePath });
    const id = await first.host.startNew('approvalRace', { instanceId: 'late' });
    await first.host.drive({
      until: async () => (await first.host.getStatus(id))?.runtimeStatus === 'Running',
    });
    await first.host.stop();
    const second = await startSampleHost({ databasePath });
    try {
      const status = await second.host.waitFor(id);
      expect(status.output).toEqual({ decision: 'timedOut' });
      expect(await second.host.engine.readEntityState({ name: 'slots', key: 'r' })).toEqual({
        entityExists: false,
        entityState: undefined,
      });
    } finally {
      await second.host.stop();
    }
  });
});
