/**
 * Patch cadence: when a pipeline is due for a rebuild. Pure (the caller passes `now`), UTC.
 * Every occurrence of a cadence is a "slot"; one build per pipeline and slot, named after the slot,
 * so a double fire, a past-due fire or a restart never starts two builds for it.
 */
import { Cron } from 'croner';
import type { PipelineDefinition } from '../pipeline/definition';

export type Cadence = NonNullable<PipelineDefinition['cadence']>;

const DAY = 24 * 3600_000;

/** The second Tuesday of a month (UTC midnight): Microsoft's Patch Tuesday. */
export function secondTuesday(year: number, month: number): Date {
  const first = new Date(Date.UTC(year, month - 1, 1));
  const firstTuesday = 1 + ((2 - first.getUTCDay() + 7) % 7);
  return new Date(Date.UTC(year, month - 1, firstTuesday + 7));
}

function atTime(day: Date, at: string): number {
  const [hours, minutes] = at.split(':').map(Number) as [number, number];
  return day.getTime() + (hours * 60 + minutes) * 60_000;
}

/** The most recent occurrence at or before `now`. */
export function slotFor(cadence: Cadence, now: Date): Date {
  const t = now.getTime();
  switch (cadence.kind) {
    case 'patchTuesday': {
      for (let back = 0; back < 3; back++) {
        const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
        const slot =
          atTime(secondTuesday(month.getUTCFullYear(), month.getUTCMonth() + 1), cadence.at) +
          cadence.offsetDays * DAY;
        if (slot <= t) return new Date(slot);
      }
      throw new Error('unreachable: a Patch Tuesday slot exists within three months');
    }
    case 'weekly': {
      const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      const back = (today.getUTCDay() - cadence.dayOfWeek + 7) % 7;
      let slot = atTime(new Date(today.getTime() - back * DAY), cadence.at);
      if (slot > t) slot -= 7 * DAY;
      return new Date(slot);
    }
    case 'cron': {
      const cron = new Cron(cadence.expression, { paused: true, timezone: 'UTC' });
      // Walk forward from well before now; the last occurrence not after now is the slot.
      let cursor = new Date(t - 40 * DAY);
      let last: Date | undefined;
      for (let i = 0; i < 100_000; i++) {
        const next = cron.nextRun(cursor);
        if (next === null || next.getTime() > t) break;
        last = next;
        cursor = next;
      }
      if (last === undefined)
        throw new Error(
          `cron '${cadence.expression}' has no occurrence in the 40 days before ${now.toISOString()}`,
        );
      return last;
    }
  }
}

/** Valid durable instance id: one per pipeline and slot. */
export function instanceIdForSlot(pipeline: string, slot: Date): string {
  return `cadence-${pipeline}-${slot.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}`;
}

export interface BuildFacts {
  sourceVersion: string;
  recipeHash: string;
}

/** onlyWhenChanged: rebuild only when the newest source image or the recipe changed. */
export function shouldBuild(args: {
  onlyWhenChanged: boolean;
  lastSuccessful?: BuildFacts;
  current: BuildFacts;
}): { build: boolean; reason: string } {
  if (!args.onlyWhenChanged) return { build: true, reason: 'cadence builds every slot' };
  if (args.lastSuccessful === undefined) return { build: true, reason: 'no successful build yet' };
  if (args.lastSuccessful.sourceVersion !== args.current.sourceVersion) {
    return {
      build: true,
      reason: `source image changed: ${args.lastSuccessful.sourceVersion} → ${args.current.sourceVersion}`,
    };
  }
  if (args.lastSuccessful.recipeHash !== args.current.recipeHash)
    return { build: true, reason: 'recipe changed' };
  return {
    build: false,
    reason: `unchanged since the last successful build (source ${args.current.sourceVersion}, same recipe)`,
  };
}
