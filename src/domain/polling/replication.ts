/**
 * How long to sleep before reading a gallery image version's replication status again.
 *
 * Pure and deterministic. Each region reports a progress percentage that grows roughly linearly;
 * the region furthest from done sets the estimate: remaining ≈ elapsed × (100 − p) / p (regions at
 * 0 % take the per-region median from history, or the default). The policy sleeps `fraction` of
 * that estimate, so reads close in geometrically on the expected end instead of ticking at a fixed
 * rate. Past `overrunFactor` × the expected total (history p90, or the default) it also backs off
 * geometrically (delay ≥ base + ratio × time overrun), since progress figures may stall.
 * Always within [floorMs, capMs]. A failed region, or nothing left to wait for, gives floorMs: the
 * caller decides at once.
 */
import { FactoryError } from '../../shared/errors';
import { INVALID_POLLING_INPUT } from './history';

export interface ReplicationPollDefaults {
  floorMs: number;
  capMs: number;
  /** Sleep this fraction of the estimated remaining time (0 < fraction ≤ 1). */
  fraction: number;
  /** Per-region replication time assumed for a region at 0 % without history (ms). */
  perRegionMs: number;
  /** Total wait assumed without history (ms); overrun starts at overrunFactor × this. */
  expectedTotalMs: number;
  overrunFactor: number;
  overrunBackoffRatio: number;
}

export const DEFAULT_REPLICATION_POLL_DEFAULTS: Readonly<ReplicationPollDefaults> = Object.freeze({
  floorMs: 15_000,
  capMs: 10 * 60_000,
  fraction: 0.5,
  perRegionMs: 20 * 60_000,
  expectedTotalMs: 60 * 60_000,
  overrunFactor: 1.5,
  overrunBackoffRatio: 0.25,
});

export interface ReplicationHistory {
  /** Median time one region took to replicate (ms). */
  perRegionP50Ms: number;
  /** 90th percentile of the whole replication wait (ms). */
  totalP90Ms: number;
}

export interface ReplicationPollInput {
  /** Time since the version was created / its target regions were changed (ms). */
  elapsedMs: number;
  regions: { name: string; state: string; progress: number }[];
  history?: ReplicationHistory;
  defaults: ReplicationPollDefaults;
}

function fail(message: string): never {
  throw new FactoryError(INVALID_POLLING_INPUT, message);
}

function check(input: ReplicationPollInput): void {
  const nonNegative = (name: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      fail(`${name} must be a finite, non-negative number; got ${String(v)}`);
    }
  };
  nonNegative('elapsedMs', input.elapsedMs);
  const d = input.defaults;
  for (const key of Object.keys(DEFAULT_REPLICATION_POLL_DEFAULTS) as (keyof ReplicationPollDefaults)[]) {
    nonNegative(`defaults.${key}`, d[key]);
  }
  if (d.floorMs <= 0) fail(`defaults.floorMs must be > 0; got ${d.floorMs}`);
  if (d.capMs < d.floorMs) fail(`defaults.capMs (${d.capMs}) must be ≥ defaults.floorMs (${d.floorMs})`);
  if (!(d.fraction > 0 && d.fraction <= 1)) fail(`defaults.fraction must be in (0, 1]; got ${d.fraction}`);
  if (input.history !== undefined) {
    nonNegative('history.perRegionP50Ms', input.history.perRegionP50Ms);
    nonNegative('history.totalP90Ms', input.history.totalP90Ms);
  }
  input.regions.forEach((r, i) => {
    if (
      typeof r.progress !== 'number' ||
      !Number.isFinite(r.progress) ||
      r.progress < 0 ||
      r.progress > 100
    ) {
      fail(`regions[${i}].progress (${r.name}) must be a number in [0, 100]; got ${String(r.progress)}`);
    }
  });
}

/** Estimated time (ms) until every region is replicated; 0 when none is left. */
export function estimateReplicationRemainingMs(input: ReplicationPollInput): number {
  check(input);
  const perRegion = input.history?.perRegionP50Ms ?? input.defaults.perRegionMs;
  let remaining = 0;
  let waitingAtZero = 0;
  for (const r of input.regions) {
    if (r.state === 'Completed') continue;
    if (r.progress > 0) remaining = Math.max(remaining, (input.elapsedMs * (100 - r.progress)) / r.progress);
    else waitingAtZero += 1;
  }
  // Regions not started yet: assume they follow one after another (the pessimistic case).
  return waitingAtZero > 0 ? Math.max(remaining, waitingAtZero * perRegion) : remaining;
}

export function nextReplicationPollDelayMs(input: ReplicationPollInput): number {
  check(input);
  const d = input.defaults;
  const clamp = (ms: number): number => Math.round(Math.min(d.capMs, Math.max(d.floorMs, ms)));
  if (input.regions.some((r) => r.state === 'Failed')) return d.floorMs;
  if (input.regions.length === 0 || input.regions.every((r) => r.state === 'Completed')) return d.floorMs;
  const progressDelay = d.fraction * estimateReplicationRemainingMs(input);
  const overrunAt = d.overrunFactor * (input.history?.totalP90Ms ?? d.expectedTotalMs);
  const backoff =
    input.elapsedMs >= overrunAt ? d.floorMs + d.overrunBackoffRatio * (input.elapsedMs - overrunAt) : 0;
  return clamp(Math.max(progressDelay, backoff));
}
