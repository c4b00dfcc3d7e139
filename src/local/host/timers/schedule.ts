/**
 * Timer trigger schedules as the Functions host reads them: a six-field NCRONTAB expression
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), or a TimeSpan `hh:mm:ss` interval,
 * optionally given as an app-setting reference `%NAME%` resolved from the environment.
 */
import { Cron } from 'croner';

export interface Schedule {
  /** The expression after resolving `%SETTING%`. */
  expression: string;
  /** Next occurrence strictly after `after` (ms since epoch). */
  next(after: number): number | undefined;
  /** Shortest gap between occurrences seen from `from` (used for the useMonitor default). */
  intervalMs(from: number): number;
}

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** Replaces `%NAME%` references with app settings; a missing setting is an error, as in the host. */
export function resolveSettingReferences(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/%([^%]+)%/g, (_match, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new ScheduleError(
        `The app setting '${name}' referenced by the timer schedule '${value}' is not set.`,
      );
    }
    return resolved;
  });
}

const TIMESPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/;

export function parseSchedule(
  raw: string,
  env: Record<string, string | undefined>,
  timezone = 'UTC',
): Schedule {
  const expression = resolveSettingReferences(raw, env).trim();
  const span = TIMESPAN.exec(expression);
  if (span !== null) {
    const ms =
      ((Number(span[1] ?? 0) * 24 + Number(span[2])) * 3600 + Number(span[3]) * 60 + Number(span[4] ?? 0)) *
      1000;
    if (ms <= 0) throw new ScheduleError(`The schedule '${expression}' is a zero TimeSpan.`);
    return { expression, next: (after) => after + ms, intervalMs: () => ms };
  }
  const fields = expression.split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleError(
      `The schedule expression '${expression}' was not recognized as a valid cron expression or timespan string: ` +
        `NCRONTAB needs 6 fields (second minute hour day month day-of-week), got ${fields.length}.`,
    );
  }
  let cron: Cron;
  try {
    // NCRONTAB requires both day-of-month and day-of-week to match (AND), unlike Vixie cron.
    cron = new Cron(expression, { paused: true, timezone, mode: '6-part', domAndDow: true });
  } catch (e) {
    throw new ScheduleError(
      `The schedule expression '${expression}' was not recognized as a valid cron expression: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const next = (after: number): number | undefined => cron.nextRun(new Date(after))?.getTime();
  return {
    expression,
    next,
    intervalMs: (from) => {
      const a = next(from);
      const b = a === undefined ? undefined : next(a);
      return a === undefined || b === undefined ? Number.POSITIVE_INFINITY : b - a;
    },
  };
}
