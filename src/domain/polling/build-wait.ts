/**
 * How long the build orchestration sleeps before it reads the Image Builder run status again.
 *
 * Pure and deterministic (it runs inside the orchestrator): every input is explicit, no clock, no
 * I/O, no randomness. Idea:
 *   1. Model when the run will end: a log-normal fitted to past durations (history p50/p90, or the
 *      prior in `defaults`), truncated at the time already elapsed, and — when the current run
 *      sub-state, when it was entered and the median time per sub-state are known — multiplied by
 *      "entered this sub-state at x, the rest usually takes Σ medians of this and later sub-states".
 *   2. Poll with the density that minimises reads + lag/readCostMs: one read per
 *      sqrt(2·readCostMs / hazard(t)) — sparse while the end is unlikely, dense in the window where
 *      it is likely. The next poll is where that density has integrated to one read.
 *   3. Past the 99th percentile of the model (an overrun), back off geometrically: each delay is
 *      the delay at the overrun point plus `overrunBackoffRatio` × the time overrun so far.
 *   Always within [floorMs, capMs].
 */
import { FactoryError } from '../../shared/errors';
import {
  Z99,
  logNormalFromQuantiles,
  logNormalPdf,
  logNormalQuantile,
  logNormalSurvival,
  type LogNormal,
} from './distribution';
import { INVALID_POLLING_INPUT, type BuildHistory } from './history';

/** Image Builder run sub-states in the order a run goes through them. */
export const RUN_SUB_STATES = ['Queued', 'Building', 'Customizing', 'Validating', 'Distributing'] as const;

export interface BuildPollDefaults {
  /** Never poll sooner than this after the previous read (ms). */
  floorMs: number;
  /** Never sleep longer than this (ms). */
  capMs: number;
  /** Duration model used when there is no history (median and p90, ms). */
  priorP50Ms: number;
  priorP90Ms: number;
  /** How much detection lag (ms) one read is worth: smaller → more reads, less lag. */
  readCostMs: number;
  /** After an overrun each delay grows by this fraction of the time overrun so far (geometric back-off). */
  overrunBackoffRatio: number;
}

export const DEFAULT_BUILD_POLL_DEFAULTS: Readonly<BuildPollDefaults> = Object.freeze({
  floorMs: 15_000,
  capMs: 10 * 60_000,
  priorP50Ms: 60 * 60_000,
  priorP90Ms: 120 * 60_000,
  // A read is an ARM request, an activity and two orchestration episodes (the timer and the read's
  // result), each replaying its generation: worth 6 s of detection lag on a build of an hour or
  // more. P3 (npm run bench): 392 at 11 reads per build-hour, against 301 at 17.5 with 1.5 s
  // (target ≤600 at ≤60); P1: the Image Builder wait of the 4-hour bench build reads about half as
  // often (issue 16).
  readCostMs: 6_000,
  overrunBackoffRatio: 0.25,
});

/** What a read was worth before factory 0.4.0 (builds started earlier keep it: same timers on replay). */
export const LEGACY_BUILD_READ_COST_MS = 1_500;

export interface BuildPollInput {
  /** Time since the run started (ms), as the orchestration measures it. */
  elapsedMs: number;
  /** lastRun.runSubState of the latest read (Queued, Building, Customizing, Validating, Distributing). */
  runSubState?: string;
  /** Elapsed time of the first read that showed `runSubState` (ms). */
  subStateSeenAtMs?: number;
  /** Elapsed time of the last read that still showed an earlier sub-state (the change happened after it). */
  subStateNotSeenAtMs?: number;
  history: BuildHistory | undefined;
  defaults: BuildPollDefaults;
}

/** The model of the run's end the policy works from (exposed for tests and the bench). */
export interface BuildEndModel {
  prior: LogNormal;
  /** "Entered the current sub-state at entryMs; the rest takes ~remaining". */
  evidence?: { entryMs: number; remaining: LogNormal };
  /**
   * In a sub-state before the last one, the later sub-states (median sum: `later`) still have to run
   * after the moment the policy looks from, so the end is unlikely sooner than that.
   */
  later?: LogNormal;
  /** Whether the prior still applies (false when the current sub-state began past the history's p99). */
  usePrior: boolean;
  /** From here on the run has overrun: geometric back-off. */
  overrunAtMs: number;
}

function fail(message: string): never {
  throw new FactoryError(INVALID_POLLING_INPUT, message);
}

function checkInput(input: BuildPollInput): void {
  const finite = (name: string, v: unknown, allowUndefined: boolean): void => {
    if (v === undefined && allowUndefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      fail(`${name} must be a finite, non-negative number of milliseconds; got ${String(v)}`);
    }
  };
  finite('elapsedMs', input.elapsedMs, false);
  finite('subStateSeenAtMs', input.subStateSeenAtMs, true);
  finite('subStateNotSeenAtMs', input.subStateNotSeenAtMs, true);
  const d = input.defaults;
  finite('defaults.floorMs', d.floorMs, false);
  finite('defaults.capMs', d.capMs, false);
  finite('defaults.priorP50Ms', d.priorP50Ms, false);
  finite('defaults.priorP90Ms', d.priorP90Ms, false);
  finite('defaults.readCostMs', d.readCostMs, false);
  finite('defaults.overrunBackoffRatio', d.overrunBackoffRatio, false);
  if (d.floorMs <= 0) fail(`defaults.floorMs must be > 0; got ${d.floorMs}`);
  if (d.capMs < d.floorMs) fail(`defaults.capMs (${d.capMs}) must be ≥ defaults.floorMs (${d.floorMs})`);
  if (d.readCostMs <= 0) fail(`defaults.readCostMs must be > 0; got ${d.readCostMs}`);
  if (input.history !== undefined) {
    finite('history.p50Ms', input.history.p50Ms, false);
    finite('history.p90Ms', input.history.p90Ms, false);
    for (const [name, v] of Object.entries(input.history.subStateP50Ms ?? {})) {
      finite(`history.subStateP50Ms.${name}`, v, false);
    }
  }
}

/** The end-of-run model for this input (see the module comment). */
export function buildEndModel(input: BuildPollInput): BuildEndModel {
  checkInput(input);
  const { history, defaults } = input;
  const prior =
    history === undefined
      ? logNormalFromQuantiles(defaults.priorP50Ms, defaults.priorP90Ms)
      : logNormalFromQuantiles(history.p50Ms, history.p90Ms);
  const priorP99 = logNormalQuantile(prior, Z99);
  const evidence = subStateEvidence(input, prior.sigma);
  // A sub-state entered after the history's 99th percentile: the history is no guide any more.
  const usePrior = evidence === undefined || evidence.entryMs <= priorP99;
  const evidenceP99 =
    evidence === undefined ? 0 : evidence.entryMs + logNormalQuantile(evidence.remaining, Z99);
  const overrunAtMs = usePrior ? Math.max(priorP99, evidenceP99) : evidenceP99;
  const later = laterSubStates(input, prior.sigma);
  return {
    prior,
    ...(evidence === undefined ? {} : { evidence }),
    ...(later === undefined ? {} : { later }),
    usePrior,
    overrunAtMs,
  };
}

function laterSubStates(input: BuildPollInput, sigma: number): LogNormal | undefined {
  const medians = input.history?.subStateP50Ms;
  const index = RUN_SUB_STATES.findIndex((s) => s === input.runSubState);
  if (medians === undefined || index < 0) return undefined;
  let laterMs = 0;
  for (const s of RUN_SUB_STATES.slice(index + 1)) laterMs += medians[s] ?? 0;
  return laterMs > 0 ? { mu: Math.log(laterMs), sigma } : undefined;
}

function subStateEvidence(input: BuildPollInput, sigma: number): BuildEndModel['evidence'] {
  const medians = input.history?.subStateP50Ms;
  const index = RUN_SUB_STATES.findIndex((s) => s === input.runSubState);
  if (medians === undefined || index < 0) return undefined;
  const current = RUN_SUB_STATES[index];
  if (current === undefined || medians[current] === undefined) return undefined;
  let entryMs: number;
  let widthMs = 0;
  if (input.subStateSeenAtMs !== undefined) {
    const seen = Math.min(input.subStateSeenAtMs, input.elapsedMs);
    const notSeen =
      input.subStateNotSeenAtMs !== undefined
        ? Math.min(input.subStateNotSeenAtMs, seen)
        : index === 0
          ? 0
          : seen;
    entryMs = (seen + notSeen) / 2;
    widthMs = seen - notSeen;
  } else if (index === 0) {
    entryMs = 0;
  } else {
    return undefined;
  }
  let remainingMs = 0;
  for (const s of RUN_SUB_STATES.slice(index)) remainingMs += medians[s] ?? 0;
  if (remainingMs <= 0) return undefined;
  // Not knowing exactly when the sub-state began (uniform over widthMs) widens the spread.
  const spread = widthMs / (2 * Math.sqrt(3) * remainingMs);
  return {
    entryMs,
    remaining: { mu: Math.log(remainingMs), sigma: Math.sqrt(sigma * sigma + spread * spread) },
  };
}

/** Unnormalised density of the end time at absolute elapsed t, looking from fromMs. */
function density(model: BuildEndModel, t: number, fromMs: number): number {
  let p = model.usePrior ? logNormalPdf(model.prior, t) : 1;
  if (model.evidence !== undefined) p *= logNormalPdf(model.evidence.remaining, t - model.evidence.entryMs);
  if (model.later !== undefined) p *= 1 - logNormalSurvival(model.later, t - fromMs);
  return p;
}

/**
 * Delay (ms) from `elapsedMs` to the next read, following the read density sqrt(h/(2·readCost))
 * clamped to [1/capMs, 1/floorMs]. undefined when the model gives the future no mass at all.
 */
function densityDelay(model: BuildEndModel, elapsedMs: number, d: BuildPollDefaults): number | undefined {
  const step = d.floorMs / 4;
  const fineEnd = elapsedMs + d.capMs;
  // Mass beyond the fine window: analytic without evidence, otherwise a coarse numeric tail.
  let tail: number;
  if (model.evidence === undefined && model.later === undefined) {
    tail = logNormalSurvival(model.prior, fineEnd);
  } else {
    const ev = model.evidence;
    const horizon = Math.max(
      fineEnd + d.capMs,
      ev === undefined ? 0 : ev.entryMs + logNormalQuantile(ev.remaining, 6),
      model.later === undefined ? 0 : elapsedMs + logNormalQuantile(model.later, 6),
      model.usePrior ? logNormalQuantile(model.prior, 6) : 0,
    );
    const coarse = Math.max(step, (horizon - fineEnd) / 400);
    tail = 0;
    for (let t = fineEnd + coarse / 2; t < horizon; t += coarse)
      tail += density(model, t, elapsedMs) * coarse;
  }
  const n = Math.ceil(d.capMs / step);
  const pdf: number[] = new Array<number>(n);
  for (let i = 0; i < n; i += 1) pdf[i] = density(model, elapsedMs + (i + 0.5) * step, elapsedMs);
  // survival at the start of each fine cell
  const survival: number[] = new Array<number>(n + 1);
  survival[n] = tail;
  for (let i = n - 1; i >= 0; i -= 1) survival[i] = (survival[i + 1] ?? 0) + (pdf[i] ?? 0) * step;
  if (!((survival[0] ?? 0) > 0)) return undefined;
  const minRate = 1 / d.capMs;
  const maxRate = 1 / d.floorMs;
  let reads = 0;
  for (let i = 0; i < n; i += 1) {
    const s = survival[i] ?? 0;
    const hazard = s > 0 ? (pdf[i] ?? 0) / s : Infinity;
    const rate = Math.min(maxRate, Math.max(minRate, Math.sqrt(hazard / (2 * d.readCostMs))));
    if (reads + rate * step >= 1) return Math.max(d.floorMs, i * step + (1 - reads) / rate);
    reads += rate * step;
  }
  return d.capMs;
}

/**
 * How long to sleep before the next read of the run status (ms), always in [floorMs, capMs].
 * Throws FactoryError InvalidPollingInput for negative/NaN inputs or defaults that contradict
 * each other.
 */
export function nextPollDelayMs(input: BuildPollInput): number {
  // Every episode of the polling orchestration replays its loop and asks again for the delays it
  // already had; the answer is a pure function of the input, so it is remembered (a numeric
  // integration costs ~50 µs, the lookup ~1 µs).
  const key = JSON.stringify(input);
  const known = rememberedDelays.get(key);
  if (known !== undefined) return known;
  const delay = computeNextPollDelayMs(input);
  if (rememberedDelays.size >= REMEMBERED_DELAYS_MAX)
    rememberedDelays.delete(rememberedDelays.keys().next().value as string);
  rememberedDelays.set(key, delay);
  return delay;
}

const rememberedDelays = new Map<string, number>();
const REMEMBERED_DELAYS_MAX = 2048;

/**
 * Forgets the remembered delays: a bench measuring a second build in one process starts it as a
 * worker that has run other builds would (their answers do not match this build's questions).
 */
export function forgetRememberedPollDelays(): void {
  rememberedDelays.clear();
}

function computeNextPollDelayMs(input: BuildPollInput): number {
  const model = buildEndModel(input);
  const d = input.defaults;
  const clamp = (ms: number): number => Math.round(Math.min(d.capMs, Math.max(d.floorMs, ms)));
  if (input.elapsedMs < model.overrunAtMs) {
    const delay = densityDelay(model, input.elapsedMs, d);
    if (delay !== undefined) return clamp(delay);
  }
  // Overrun: geometric back-off from the delay the density gave at the overrun point.
  const at = Math.min(model.overrunAtMs, input.elapsedMs);
  const base = densityDelay(model, at, d) ?? d.floorMs;
  return clamp(base + d.overrunBackoffRatio * (input.elapsedMs - at));
}
