/**
 * Human words for the states a build publishes (src/domain/build-status.ts), shared by the CLI and
 * the pages (they embed these maps as JSON): operators read "waiting for approval", not
 * `awaitingApproval`.
 */
import type { BuildOutcome, BuildStep, StageState } from '../domain/build-status';

export const STEP_WORDS: Record<BuildStep, string> = {
  queued: 'queued',
  admission: 'checking the pipeline against the served definition',
  preflight: 'checking access and inputs',
  waitingForBuildSlot: 'waiting for a build slot',
  build: 'building the image',
  test: 'testing on a VM',
  approve: 'waiting for approval',
  promote: 'copying to the stage',
  compensate: 'cleaning up',
  done: 'finished',
};

export const STAGE_WORDS: Record<StageState, string> = {
  pending: 'not started',
  running: 'running',
  awaitingApproval: 'waiting for approval',
  promoting: 'copying',
  testing: 'testing',
  done: 'done',
  failed: 'failed',
  rejected: 'rejected',
  timedOut: 'timed out',
  canceled: 'canceled',
  skipped: 'skipped',
};

export const OUTCOME_WORDS: Record<BuildOutcome, string> = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  rejected: 'rejected',
  timedOut: 'timed out',
  canceled: 'canceled',
};

/** A word for any value: the known word, else the value itself (a newer state is still shown). */
export function wordFor(words: Record<string, string>, value: unknown): string {
  if (typeof value !== 'string') return '';
  return Object.prototype.hasOwnProperty.call(words, value) ? (words[value] ?? value) : value;
}

/** "1 h 5 min", "3 min 20 s", "12 s": a duration between two instants. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}
