/**
 * Patch cadence: when a pipeline is due for a rebuild. Pure and deterministic: no clock reads
 * (`now` is always a parameter), all times UTC.
 *
 * Every occurrence of a cadence is a *slot*, written as a UTC minute ('2026-11-12T06:00Z', or with
 * seconds for 6-field cron expressions that fire off the minute: '2026-11-12T06:00:30Z'). One build
 * per pipeline and slot, named after the slot (`instanceIdForSlot`), so a double fire, a past-due fire
 * or a restart never starts two builds for it.
 *
 * Cron expressions have 5 (minute first) or 6 (second first) fields, are evaluated with croner in
 * UTC, and combine day-of-month and day-of-week with AND, like the Functions timer's NCRONTAB:
 * '0 6 8-14 * 2' is the second Tuesday of every month at 06:00.
 */
import { Cron } from 'croner';
import { FactoryError } from '../../shared/errors';

export type Cadence =
  | { kind: 'cron'; /** 5- or 6-field cron, UTC */ expression: string }
  | {
      kind: 'patchTuesday';
      /** days after Patch Tuesday, 0..27 */ offsetDays: number;
      /** 'HH:MM' UTC */ at: string;
    }
  | { kind: 'weekly'; /** 0 = Sunday … 6 = Saturday */ dayOfWeek: number; /** 'HH:MM' UTC */ at: string };

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const MAX_OFFSET_DAYS = 27;
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const SLOT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z$/;

function invalid(message: string, details: Record<string, unknown> = {}): FactoryError {
  return new FactoryError('InvalidCadence', message, {
    details,
    hint: "cadence is {kind: 'patchTuesday', offsetDays: 0..27, at: 'HH:MM'}, {kind: 'weekly', dayOfWeek: 0..6, at: 'HH:MM'} or {kind: 'cron', expression: '<5 or 6 fields>'}, all UTC",
  });
}

function minutesOfDay(at: unknown): number {
  const match = typeof at === 'string' ? HHMM.exec(at) : null;
  if (match === null) throw invalid(`at must be 'HH:MM' (UTC, 00:00..23:59), got ${JSON.stringify(at)}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

function checkDate(now: Date, name: string): number {
  const t = now instanceof Date ? now.getTime() : Number.NaN;
  if (!Number.isFinite(t)) throw invalid(`${name} must be a valid Date`);
  return t;
}

/** Checks a cadence and returns it; throws FactoryError 'InvalidCadence' naming the problem. */
export function checkCadence(cadence: Cadence): Cadence {
  switch (cadence?.kind) {
    case 'patchTuesday':
      if (
        !Number.isInteger(cadence.offsetDays) ||
        cadence.offsetDays < 0 ||
        cadence.offsetDays > MAX_OFFSET_DAYS
      )
        throw invalid(
          `offsetDays must be an integer 0..${MAX_OFFSET_DAYS}, got ${String(cadence.offsetDays)}`,
        );
      minutesOfDay(cadence.at);
      return cadence;
    case 'weekly':
      if (!Number.isInteger(cadence.dayOfWeek) || cadence.dayOfWeek < 0 || cadence.dayOfWeek > 6)
        throw invalid(
          `dayOfWeek must be an integer 0 (Sunday)..6 (Saturday), got ${String(cadence.dayOfWeek)}`,
        );
      minutesOfDay(cadence.at);
      return cadence;
    case 'cron':
      cronOf(cadence.expression);
      return cadence;
    default:
      throw invalid(
        `unknown cadence kind ${JSON.stringify((cadence as { kind?: unknown } | undefined)?.kind)}`,
      );
  }
}

const cronCache = new Map<string, Cron>();

function cronOf(expression: unknown): Cron {
  if (typeof expression !== 'string') throw invalid('cron expression must be a string');
  const cached = cronCache.get(expression);
  if (cached) return cached;
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, timezone: 'UTC', mode: '5-or-6-parts', domAndDow: true });
  } catch (error) {
    throw invalid(`cron expression '${expression}' is invalid: ${(error as Error).message}`, { expression });
  }
  // Feb 30th and the like parse but never fire: refuse them here rather than never building.
  if (cron.nextRun(new Date(Date.UTC(2000, 0, 1))) === null)
    throw invalid(`cron expression '${expression}' never fires`, { expression });
  cronCache.set(expression, cron);
  return cron;
}

/** The second Tuesday of a month (1..12), at 00:00 UTC: Microsoft's Patch Tuesday. */
export function secondTuesday(year: number, month: number): Date {
  if (!Number.isInteger(year) || !Number.isInteger(month) || month < 1 || month > 12)
    throw invalid(`secondTuesday needs an integer year and a month 1..12, got ${year}-${month}`);
  const firstWeekday = new Date(Date.UTC(year, month - 1, 1)).getUTCDay();
  const firstTuesday = 1 + ((2 - firstWeekday + 7) % 7);
  return new Date(Date.UTC(year, month - 1, firstTuesday + 7));
}

/** UTC ms of the Patch Tuesday slot of a month (monthIndex 0-based, may over/underflow the year). */
function patchSlotOfMonth(year: number, monthIndex: number, offsetDays: number, at: number): number {
  const month = new Date(Date.UTC(year, monthIndex, 1));
  return (
    secondTuesday(month.getUTCFullYear(), month.getUTCMonth() + 1).getTime() + offsetDays * DAY + at * MINUTE
  );
}

/** The most recent slot at or before `now`, as a Date. */
function slotTime(cadence: Cadence, now: Date): number {
  checkCadence(cadence);
  const t = checkDate(now, 'now');
  switch (cadence.kind) {
    case 'patchTuesday': {
      const at = minutesOfDay(cadence.at);
      // A slot lies at most 14 + 27 days after the 1st of its month: this or one of the two months before.
      for (let back = 0; back <= 2; back++) {
        const slot = patchSlotOfMonth(now.getUTCFullYear(), now.getUTCMonth() - back, cadence.offsetDays, at);
        if (slot <= t) return slot;
      }
      throw new Error('unreachable: a Patch Tuesday slot exists within three months');
    }
    case 'weekly': {
      const midnight = Math.floor(t / DAY) * DAY;
      const back = (new Date(midnight).getUTCDay() - cadence.dayOfWeek + 7) % 7;
      const slot = midnight - back * DAY + minutesOfDay(cadence.at) * MINUTE;
      return slot <= t ? slot : slot - 7 * DAY;
    }
    case 'cron': {
      const cron = cronOf(cadence.expression);
      const second = Math.floor(t / 1000) * 1000; // croner works in whole seconds
      if (cron.match(new Date(second))) return second;
      const previous = cron.previousRuns(1, new Date(second))[0];
      if (previous === undefined)
        throw invalid(
          `cron expression '${cadence.expression}' has no occurrence before ${now.toISOString()}`,
        );
      return previous.getTime();
    }
  }
}

/** Formats a slot: 'YYYY-MM-DDTHH:MMZ', or 'YYYY-MM-DDTHH:MM:SSZ' when it is off the minute. */
export function formatSlot(time: Date): string {
  checkDate(time, 'slot time');
  const iso = time.toISOString(); // 2026-11-12T06:00:30.000Z
  return time.getUTCSeconds() === 0 ? `${iso.slice(0, 16)}Z` : `${iso.slice(0, 19)}Z`;
}

/** Parses a slot written by `formatSlot`; throws FactoryError 'InvalidSlot' otherwise. */
export function parseSlot(slot: string): Date {
  const match = typeof slot === 'string' ? SLOT.exec(slot) : null;
  const time = match === null ? Number.NaN : Date.parse(`${slot.slice(0, -1)}${match[6] ? '' : ':00'}Z`);
  if (!Number.isFinite(time) || formatSlot(new Date(time)) !== slot)
    throw new FactoryError(
      'InvalidSlot',
      `slot must look like '2026-11-12T06:00Z', got ${JSON.stringify(slot)}`,
    );
  return new Date(time);
}

/** The most recent slot at or before `now`, e.g. '2026-11-12T06:00Z'. */
export function slotFor(cadence: Cadence, now: Date): string {
  return formatSlot(new Date(slotTime(cadence, now)));
}

/** The first slot strictly after `after`. */
export function nextSlot(cadence: Cadence, after: Date): Date {
  checkCadence(cadence);
  const t = checkDate(after, 'after');
  switch (cadence.kind) {
    case 'patchTuesday': {
      const at = minutesOfDay(cadence.at);
      for (let ahead = -1; ahead <= 2; ahead++) {
        const slot = patchSlotOfMonth(
          after.getUTCFullYear(),
          after.getUTCMonth() + ahead,
          cadence.offsetDays,
          at,
        );
        if (slot > t) return new Date(slot);
      }
      throw new Error('unreachable: a Patch Tuesday slot exists within three months');
    }
    case 'weekly':
      return new Date(slotTime(cadence, after) + 7 * DAY);
    case 'cron': {
      const next = cronOf(cadence.expression).nextRun(after);
      if (next === null)
        throw invalid(
          `cron expression '${cadence.expression}' has no occurrence after ${after.toISOString()}`,
        );
      return next;
    }
  }
}

/**
 * Whether the timer firing at `now` should handle a new slot. `previousSlot` is the last slot already
 * handled (built or skipped) for this pipeline, if any. A repeated or late fire within the same slot
 * is not due; a slot that was missed entirely (the app was down) is due once, as the latest slot.
 */
export function isDue(
  cadence: Cadence,
  previousSlot: string | undefined,
  now: Date,
): { due: boolean; slot: string } {
  const slot = slotFor(cadence, now);
  if (previousSlot === undefined) return { due: true, slot };
  return { due: parseSlot(slot).getTime() > parseSlot(previousSlot).getTime(), slot };
}

/** Durable instance ids: 1..100 characters, none of / \ # ? or control characters. */
const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The instance id of the build for one pipeline and slot: deterministic, so every fire for the same
 * slot names the same instance and the durable client refuses (or the caller skips) a second start.
 * E.g. ('ubuntu-2204-base', '2026-11-12T06:00Z') → 'cadence-ubuntu-2204-base-20261112T0600Z'.
 */
export function instanceIdForSlot(pipeline: string, slot: string): string {
  if (typeof pipeline !== 'string' || !PIPELINE_NAME.test(pipeline))
    throw new FactoryError(
      'InvalidPipelineName',
      `pipeline name must be 1-64 letters, digits, ., _ or -, starting with a letter or digit, got ${JSON.stringify(pipeline)}`,
    );
  parseSlot(slot);
  return `cadence-${pipeline}-${slot.replace(/[-:]/g, '')}`;
}

export interface ShouldBuildInput {
  onlyWhenChanged: boolean;
  lastSuccessful?: { sourceVersion: string; recipeHash: string };
  currentSourceVersion: string;
  currentRecipeHash: string;
}

/** onlyWhenChanged: rebuild only when the exact source image version or the recipe changed. */
export function shouldBuild(input: ShouldBuildInput): { build: boolean; reason: string } {
  const { lastSuccessful: last, currentSourceVersion: source, currentRecipeHash: recipe } = input;
  if (!input.onlyWhenChanged)
    return { build: true, reason: 'the cadence builds every slot (onlyWhenChanged is off)' };
  if (last === undefined) return { build: true, reason: 'no successful build yet' };
  // An unknown version (empty) is never "unchanged": better one build too many than a missed patch.
  if (source === '' || last.sourceVersion === '')
    return { build: true, reason: 'the source image version is unknown, so it may have changed' };
  const sourceChanged = last.sourceVersion !== source;
  const recipeChanged = last.recipeHash !== recipe;
  if (sourceChanged && recipeChanged)
    return {
      build: true,
      reason: `source image changed (${last.sourceVersion} → ${source}) and the recipe changed`,
    };
  if (sourceChanged)
    return { build: true, reason: `source image changed (${last.sourceVersion} → ${source})` };
  if (recipeChanged) return { build: true, reason: 'the recipe changed' };
  return {
    build: false,
    reason: `unchanged since the last successful build (source ${source}, same recipe)`,
  };
}
