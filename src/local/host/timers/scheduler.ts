/**
 * Stand-in for the Functions host's timer trigger listener. Fires each captured timerTrigger on
 * its NCRONTAB/TimeSpan schedule with the Timer object the host passes
 * (`{ schedule: { adjustForDST }, scheduleStatus: { last, next, lastUpdated }, isPastDue }`),
 * honours runOnStartup, keeps schedule status (optionally in SQLite) so that a restart after a
 * missed occurrence fires once with isPastDue, and works on the real clock (setTimeout) or on a
 * VirtualClock through LocalHost.addDueWorkSource (nextDueAt/runDue).
 */
import { randomUUID } from 'node:crypto';
import { VirtualClock, type Clock } from '../../../shared/clock';
import type { CapturedFunction, FunctionRegistry } from '../contracts';
import type { InvokeFunction } from '../http/server';
import { parseSchedule, type Schedule } from './schedule';
import {
  MemoryTimerStatusStore,
  SqliteTimerStatusStore,
  type ScheduleStatusRecord,
  type TimerStatusStore,
} from './store';

export interface TimerSchedulerOptions {
  registry: FunctionRegistry;
  invoke: InvokeFunction;
  clock: Clock;
  /** App settings for `%NAME%` schedules and WEBSITE_TIME_ZONE; default process.env. */
  env?: Record<string, string | undefined>;
  /** SQLite file for schedule status (survives restarts); default: in memory. */
  databasePath?: string;
  store?: TimerStatusStore;
  /** Arm setTimeout for due timers; default: true unless the clock is a VirtualClock. */
  realTimers?: boolean;
  /** A fire later than this after its occurrence counts as past due; default 1000 ms. */
  pastDueToleranceMs?: number;
  log?: (line: string) => void;
}

/** What the Node worker hands a timer handler (@azure/functions `Timer`). */
export interface TimerInput {
  isPastDue: boolean;
  schedule: { adjustForDST: boolean };
  scheduleStatus?: { last: string; next: string; lastUpdated: string };
}

interface TimerEntry {
  fn: CapturedFunction;
  schedule: Schedule;
  useMonitor: boolean;
  runOnStartup: boolean;
  /** The occurrence this timer waits for. */
  due: number | undefined;
  status: ScheduleStatusRecord | undefined;
}

const MIN_DATE = '0001-01-01T00:00:00';
const MAX_TIMEOUT = 2_147_483_647;

function iso(ms: number | undefined): string {
  return ms === undefined ? MIN_DATE : new Date(ms).toISOString();
}

export class TimerScheduler {
  private readonly entries: TimerEntry[] = [];
  private readonly store: TimerStatusStore;
  private readonly log: (line: string) => void;
  private readonly tolerance: number;
  private readonly realTimers: boolean;
  private handle: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly options: TimerSchedulerOptions) {
    this.log = options.log ?? (() => undefined);
    this.tolerance = options.pastDueToleranceMs ?? 1000;
    this.realTimers = options.realTimers ?? !(options.clock instanceof VirtualClock);
    this.store =
      options.store ??
      (options.databasePath === undefined
        ? new MemoryTimerStatusStore()
        : new SqliteTimerStatusStore(options.databasePath));
    const env = options.env ?? process.env;
    const now = options.clock.now();
    for (const fn of options.registry.byTriggerType('timerTrigger')) {
      // As the host: the app setting AzureWebJobs.<name>.Disabled=true (or 1) turns a function off.
      if (/^(true|1)$/i.test(env[`AzureWebJobs.${fn.name}.Disabled`]?.trim() ?? '')) {
        options.log?.(`[timers] ${fn.name} is disabled (AzureWebJobs.${fn.name}.Disabled)`);
        continue;
      }
      const raw = fn.trigger.schedule;
      if (typeof raw !== 'string' || raw.trim() === '')
        throw new Error(`Timer function '${fn.name}' has no schedule.`);
      let schedule: Schedule;
      try {
        schedule = parseSchedule(raw, env, env.WEBSITE_TIME_ZONE ?? 'UTC');
      } catch (e) {
        throw new Error(`Timer function '${fn.name}': ${e instanceof Error ? e.message : String(e)}`);
      }
      const useMonitor =
        typeof fn.trigger.useMonitor === 'boolean'
          ? fn.trigger.useMonitor
          : schedule.intervalMs(now) >= 60_000;
      this.entries.push({
        fn,
        schedule,
        useMonitor,
        runOnStartup: fn.trigger.runOnStartup === true,
        due: schedule.next(now),
        status: undefined,
      });
    }
  }

  /** Builds the schedules, fires past-due and runOnStartup timers, then arms the real clock if asked. */
  static async start(options: TimerSchedulerOptions): Promise<TimerScheduler> {
    const scheduler = new TimerScheduler(options);
    await scheduler.startup();
    scheduler.arm();
    return scheduler;
  }

  /** Names and next occurrences, for diagnostics and tests. */
  describe(): { name: string; expression: string; next: string | undefined; useMonitor: boolean }[] {
    return this.entries.map((e) => ({
      name: e.fn.name,
      expression: e.schedule.expression,
      next: e.due === undefined ? undefined : new Date(e.due).toISOString(),
      useMonitor: e.useMonitor,
    }));
  }

  nextDueAt(): number | undefined {
    if (this.stopped) return undefined;
    const dues = this.entries.map((e) => e.due).filter((d): d is number => d !== undefined);
    return dues.length === 0 ? undefined : Math.min(...dues);
  }

  /** Fires every timer whose occurrence is at or before `now` (once each, however many were missed). */
  runDue(now: number): Promise<void> {
    const run = this.chain.then(async () => {
      for (const entry of this.entries) {
        if (this.stopped || entry.due === undefined || entry.due > now) continue;
        const occurrence = entry.due;
        await this.fire(entry, now, now - occurrence > this.tolerance, occurrence);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    await this.chain;
    if (this.options.store === undefined) this.store.close();
  }

  private async startup(): Promise<void> {
    const now = this.options.clock.now();
    for (const entry of this.entries) {
      let pastDue = false;
      if (entry.useMonitor) {
        const stored = this.store.get(entry.fn.name);
        // A stored status from another schedule is discarded, as the host does when the schedule changes.
        const sameSchedule = stored !== undefined && entry.schedule.next(stored.next - 1) === stored.next;
        if (stored !== undefined && sameSchedule) {
          entry.status = stored;
          pastDue = stored.next < now;
        } else {
          entry.status = { last: undefined, next: entry.due ?? now, lastUpdated: now };
          this.store.set(entry.fn.name, entry.status);
        }
      }
      if (pastDue) await this.fire(entry, now, true, entry.status?.next ?? now);
      else if (entry.runOnStartup) await this.fire(entry, now, false, undefined);
    }
  }

  private async fire(
    entry: TimerEntry,
    now: number,
    isPastDue: boolean,
    occurrence: number | undefined,
  ): Promise<void> {
    const timer: TimerInput = {
      isPastDue,
      schedule: { adjustForDST: true },
      ...(entry.useMonitor && entry.status !== undefined
        ? {
            scheduleStatus: {
              last: iso(entry.status.last),
              next: iso(entry.status.next),
              lastUpdated: iso(entry.status.lastUpdated),
            },
          }
        : {}),
    };
    this.log(
      `[timer] ${entry.fn.name} fires at ${new Date(now).toISOString()}${isPastDue ? ' (past due)' : ''}`,
    );
    try {
      await this.options.invoke(entry.fn.name, timer, {
        triggerMetadata: {
          sys: { MethodName: entry.fn.name, UtcNow: new Date(now).toISOString(), RandGuid: randomUUID() },
        },
      });
    } catch (e) {
      this.log(`[timer] ${entry.fn.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const after = this.options.clock.now();
    if (occurrence !== undefined) entry.due = entry.schedule.next(Math.max(now, after));
    if (entry.useMonitor) {
      entry.status = {
        last: occurrence ?? entry.status?.last,
        next: entry.due ?? after,
        lastUpdated: after,
      };
      this.store.set(entry.fn.name, entry.status);
    }
  }

  private arm(): void {
    if (!this.realTimers || this.stopped) return;
    if (this.handle !== undefined) clearTimeout(this.handle);
    const due = this.nextDueAt();
    if (due === undefined) return;
    const remaining = Math.max(due - this.options.clock.now(), 0);
    const delay = Math.min(this.options.clock.toRealDelay?.(remaining) ?? remaining, MAX_TIMEOUT);
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.runDue(this.options.clock.now())
        .catch((e: unknown) => this.log(`[timer] ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => this.arm());
    }, delay);
    this.handle.unref();
  }
}
