/**
 * P3 — polling cost × detection lag of the build wait, computed by running the poll loop against
 * generated runs (pure: no clock, no I/O). The figure of merit is reads per build-hour × mean
 * detection lag in seconds; fixed-interval polling at any interval T gives (3600/T) × (T/2) = 1800.
 */
import {
  DEFAULT_BUILD_POLL_DEFAULTS,
  nextPollDelayMs,
  summarizeHistory,
  type BuildHistory,
  type BuildPollDefaults,
} from '../src/domain/polling';
import { generateBuilds, simulatorShaped, generateTotalDurations, type GeneratedBuild } from './generators';

/** What the orchestration knows after its latest read. */
export interface PollObservation {
  elapsedMs: number;
  runSubState: string;
  subStateSeenAtMs: number;
  subStateNotSeenAtMs?: number;
}

export type Poller = (observation: PollObservation) => number;

export interface PollOutcome {
  reads: number;
  lagMs: number;
  durationMs: number;
}

/** The sub-state a run shows at elapsed t, or undefined once it has ended. */
export function subStateAt(build: GeneratedBuild, t: number): string | undefined {
  if (t >= build.durationMs) return undefined;
  let end = 0;
  for (const p of build.phases) {
    end += p.durationMs;
    if (t < end) return p.name;
  }
  return undefined;
}

/**
 * Runs the wait loop: sleep poller(...) ms, read, repeat until a read sees the run ended. The run is
 * known to be Queued at 0 (the start was accepted); that costs no read.
 */
export function simulateBuildWait(build: GeneratedBuild, poller: Poller, maxReads = 10_000): PollOutcome {
  let obs: PollObservation = { elapsedMs: 0, runSubState: 'Queued', subStateSeenAtMs: 0 };
  let reads = 0;
  for (;;) {
    const delay = poller(obs);
    if (!(delay > 0)) throw new Error(`poller returned ${delay} at ${obs.elapsedMs} ms`);
    const t = obs.elapsedMs + delay;
    reads += 1;
    const sub = subStateAt(build, t);
    if (sub === undefined) return { reads, lagMs: t - build.durationMs, durationMs: build.durationMs };
    if (reads >= maxReads) throw new Error('poll loop did not end');
    obs =
      sub === obs.runSubState
        ? { ...obs, elapsedMs: t }
        : { elapsedMs: t, runSubState: sub, subStateSeenAtMs: t, subStateNotSeenAtMs: obs.elapsedMs };
  }
}

export interface PollFigures {
  builds: number;
  readsPerHour: number;
  meanLagS: number;
  product: number;
  /** Reads of the worst single run per hour of that run (the 4 h ones matter here). */
  maxReadsPerBuildHour: number;
}

export function figures(outcomes: PollOutcome[]): PollFigures {
  const reads = outcomes.reduce((s, o) => s + o.reads, 0);
  const hours = outcomes.reduce((s, o) => s + o.durationMs, 0) / 3_600_000;
  const meanLagS = outcomes.reduce((s, o) => s + o.lagMs, 0) / outcomes.length / 1000;
  const readsPerHour = reads / hours;
  const maxReadsPerBuildHour = Math.max(...outcomes.map((o) => o.reads / (o.durationMs / 3_600_000)));
  return {
    builds: outcomes.length,
    readsPerHour,
    meanLagS,
    product: readsPerHour * meanLagS,
    maxReadsPerBuildHour,
  };
}

export function fixedPoller(intervalMs: number): Poller {
  return () => intervalMs;
}

export function adaptivePoller(history: BuildHistory | undefined, defaults: BuildPollDefaults): Poller {
  return (obs) =>
    nextPollDelayMs({
      elapsedMs: obs.elapsedMs,
      runSubState: obs.runSubState,
      subStateSeenAtMs: obs.subStateSeenAtMs,
      ...(obs.subStateNotSeenAtMs === undefined ? {} : { subStateNotSeenAtMs: obs.subStateNotSeenAtMs }),
      history,
      defaults,
    });
}

/** History as the orchestration would load it: durations and per-sub-state times of past runs. */
export function historyOf(past: GeneratedBuild[]): BuildHistory | undefined {
  const subStateDurationsMs: Record<string, number[]> = {};
  for (const b of past) {
    for (const p of b.phases) (subStateDurationsMs[p.name] ??= []).push(p.durationMs);
  }
  return summarizeHistory(
    past.map((b) => b.durationMs),
    { subStateDurationsMs },
  );
}

export interface P3Result {
  fixed30: PollFigures;
  fixed60: PollFigures;
  adaptive: PollFigures;
  /** Adaptive with no history at all (the prior in the defaults only). */
  adaptiveNoHistory: PollFigures;
  /** Same runs shaped like the simulated Azure (fixed sub-state shares). */
  adaptiveSimulatorShaped: PollFigures;
}

export function runP3(
  seed: number,
  count = 2000,
  defaults: BuildPollDefaults = DEFAULT_BUILD_POLL_DEFAULTS,
): P3Result {
  const past = generateBuilds(seed, 100);
  const builds = generateBuilds(seed + 1, count);
  const history = historyOf(past);
  const run = (poller: Poller, set: GeneratedBuild[] = builds): PollFigures =>
    figures(set.map((b) => simulateBuildWait(b, poller)));
  const simPast = generateTotalDurations(seed + 2, 100).map(simulatorShaped);
  const simBuilds = generateTotalDurations(seed + 3, count).map(simulatorShaped);
  return {
    fixed30: run(fixedPoller(30_000)),
    fixed60: run(fixedPoller(60_000)),
    adaptive: run(adaptivePoller(history, defaults)),
    adaptiveNoHistory: run(adaptivePoller(undefined, defaults)),
    adaptiveSimulatorShaped: run(adaptivePoller(historyOf(simPast), defaults), simBuilds),
  };
}
