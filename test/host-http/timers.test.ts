import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { parseSchedule } from '../../src/local/host/timers/schedule';
import { TimerScheduler } from '../../src/local/host/timers/scheduler';
import { VirtualClock, type Clock } from '../../src/shared/clock';
import { timerCalls } from './fixtures/http-app';
import { HTTP_APP } from './helpers';

const ENV = { NIGHTLY_SCHEDULE: '0 30 2 * * *' };
const START = Date.UTC(2026, 10, 1, 8, 0, 0);

describe('timer schedules (NCRONTAB)', () => {
  it('reads six fields, seconds first, and AND-combines day-of-month with day-of-week', () => {
    const s = parseSchedule('15 */5 * * * *', {});
    expect(new Date(s.next(Date.UTC(2026, 0, 1, 0, 3, 0)) ?? 0).toISOString()).toBe(
      '2026-01-01T00:05:15.000Z',
    );
    // 13th that is a Friday: 2026-02-13.
    const friday13 = parseSchedule('0 0 9 13 * 5', {});
    expect(new Date(friday13.next(Date.UTC(2026, 0, 1)) ?? 0).toISOString()).toBe('2026-02-13T09:00:00.000Z');
  });

  it('resolves %SETTING% references and reports a missing setting or a five-field expression clearly', () => {
    expect(parseSchedule('%NIGHTLY_SCHEDULE%', ENV).expression).toBe('0 30 2 * * *');
    expect(() => parseSchedule('%NOT_SET%', {})).toThrow(
      "The app setting 'NOT_SET' referenced by the timer schedule",
    );
    expect(() => parseSchedule('*/5 * * * *', {})).toThrow('NCRONTAB needs 6 fields');
    expect(() => parseSchedule('0 0 25 * * *', {})).toThrow('not recognized as a valid cron expression');
  });

  it('accepts a TimeSpan interval', () => {
    expect(parseSchedule('00:10:00', {}).next(1000)).toBe(1000 + 600_000);
  });
});

describe('timer triggers through the local host', () => {
  let host: LocalHost;
  let clock: VirtualClock;
  let dir: string;

  beforeEach(async () => {
    timerCalls.length = 0;
    clock = new VirtualClock(START);
    host = await LocalHost.start({ appEntry: HTTP_APP, clock, env: ENV });
    dir = mkdtempSync(join(tmpdir(), 'timers-'));
  });
  afterEach(async () => {
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const startScheduler = (options: { databasePath?: string; clock?: Clock; realTimers?: boolean } = {}) =>
    TimerScheduler.start({
      registry: host.registry,
      invoke: (name, input, opts) => host.invokeFunction(name, input, opts),
      clock: options.clock ?? clock,
      env: ENV,
      ...options,
    });

  it('leaves a function alone when AzureWebJobs.<name>.Disabled is true, as the host does', async () => {
    const scheduler = await TimerScheduler.start({
      registry: host.registry,
      invoke: (name, input, opts) => host.invokeFunction(name, input, opts),
      clock,
      env: {
        ...ENV,
        'AzureWebJobs.everyFiveMinutes.Disabled': 'true',
        'AzureWebJobs.fromSetting.Disabled': '0',
      },
    });
    host.addDueWorkSource(scheduler);
    await host.drive({ maxVirtualMs: 16 * 60_000 });
    const fired = new Set(timerCalls.map((c) => c.name));
    expect(fired.has('fromSetting')).toBe(true);
    expect(fired.has('everyFiveMinutes')).toBe(false);
  });

  it('runs runOnStartup timers at once and fires on schedule on the virtual clock via drive()', async () => {
    const scheduler = await startScheduler();
    host.addDueWorkSource(scheduler);
    expect(timerCalls.map((c) => c.name)).toEqual(['fromSetting']);
    expect(timerCalls[0]?.timer.isPastDue).toBe(false);
    await host.drive({ maxVirtualMs: 16 * 60_000 });
    const fives = timerCalls.filter((c) => c.name === 'everyFiveMinutes');
    expect(fives).toHaveLength(3);
    expect(fives.every((c) => !c.timer.isPastDue)).toBe(true);
    expect(new Date(clock.now()).toISOString()).toBe('2026-11-01T08:15:00.000Z');
    // scheduleStatus.next is the occurrence being run; last is the previous one.
    expect(fives[1]?.timer.scheduleStatus).toMatchObject({
      last: '2026-11-01T08:05:00.000Z',
      next: '2026-11-01T08:10:00.000Z',
    });
    expect(fives[0]?.timer.scheduleStatus.last).toBe('0001-01-01T00:00:00');
    expect(scheduler.nextDueAt()).toBe(Date.UTC(2026, 10, 1, 8, 20));
    await scheduler.stop();
  });

  it('marks a fire after a clock jump as past due and fires it once', async () => {
    const scheduler = await startScheduler();
    timerCalls.length = 0;
    clock.advanceBy(60 * 60_000 + 7_000); // 09:00:07, twelve five-minute occurrences missed
    await scheduler.runDue(clock.now());
    const fives = timerCalls.filter((c) => c.name === 'everyFiveMinutes');
    expect(fives).toHaveLength(1);
    expect(fives[0]?.timer.isPastDue).toBe(true);
    expect(scheduler.nextDueAt()).toBe(Date.UTC(2026, 10, 1, 9, 5));
    await scheduler.stop();
  });

  it('after a restart, fires a missed occurrence once with isPastDue from the SQLite status', async () => {
    const databasePath = join(dir, 'timers.db');
    const first = await startScheduler({ databasePath });
    await first.stop();
    timerCalls.length = 0;
    clock.advanceTo(Date.UTC(2026, 10, 1, 8, 7)); // the 08:05 occurrence passed while "down"
    const second = await startScheduler({ databasePath });
    const fives = timerCalls.filter((c) => c.name === 'everyFiveMinutes');
    expect(fives).toHaveLength(1);
    expect(fives[0]?.timer.isPastDue).toBe(true);
    expect(fives[0]?.timer.scheduleStatus.next).toBe('2026-11-01T08:05:00.000Z');
    // The runOnStartup timer was not due (02:30), so it ran on startup without being past due.
    expect(timerCalls.find((c) => c.name === 'fromSetting')?.timer.isPastDue).toBe(false);
    await second.stop();
    // Without the stored status a restart sees nothing missed.
    timerCalls.length = 0;
    const fresh = await startScheduler();
    expect(timerCalls.filter((c) => c.name === 'everyFiveMinutes')).toHaveLength(0);
    await fresh.stop();
  });

  it('fires on the real clock with setTimeout', async () => {
    const base = Date.UTC(2026, 10, 1, 8, 4, 59, 980); // 20 ms before 08:05:00
    const startedAt = Date.now();
    const realish: Clock = { now: () => base + (Date.now() - startedAt) };
    const scheduler = await startScheduler({ clock: realish });
    timerCalls.length = 0;
    const giveUp = Date.now() + 2000;
    while (!timerCalls.some((c) => c.name === 'everyFiveMinutes') && Date.now() < giveUp) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(timerCalls.filter((c) => c.name === 'everyFiveMinutes')).toHaveLength(1);
    expect(timerCalls[0]?.timer.isPastDue).toBe(false);
    await scheduler.stop();
  });
});
