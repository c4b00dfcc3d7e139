/**
 * Seeded generators for the benchmarks: the same seed gives the same builds, hence the same figures.
 */

import { seededRandom } from '../src/local/azure-sim/util';

/** The simulator's seeded PRNG (mulberry32), so a bench seed and a simulator seed mean the same. */
export { seededRandom };

/** Standard normal sample (Box–Muller). */
export function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function logNormalSample(random: () => number, medianMs: number, sigma: number): number {
  return medianMs * Math.exp(sigma * normal(random));
}

export type SubStateName = 'Queued' | 'Building' | 'Customizing' | 'Distributing';

/** One generated Image Builder run: how long each sub-state lasts, in run order. */
export interface GeneratedBuild {
  durationMs: number;
  phases: { name: SubStateName; durationMs: number }[];
  outlier: boolean;
}

export interface BuildMix {
  /** Share of runs that take about 4 h (a customizer that hangs on updates, a slow region). */
  outlierRate: number;
}

const MIN = 60_000;

/**
 * Runs whose phases vary independently, as real ones do: queueing ~1 min, build VM ~10 min,
 * customizing ~30 min (the most variable part), distributing ~15 min; the total is roughly
 * log-normal with a median near 60 min and 5–95 % between ~45 and ~90 min. `outlierRate` of them
 * customize for ~3.3 h more (total ~4 h).
 */
export function generateBuilds(
  seed: number,
  count: number,
  mix: BuildMix = { outlierRate: 0.03 },
): GeneratedBuild[] {
  const random = seededRandom(seed);
  const builds: GeneratedBuild[] = [];
  for (let i = 0; i < count; i += 1) {
    const outlier = random() < mix.outlierRate;
    const phases: GeneratedBuild['phases'] = [
      { name: 'Queued', durationMs: logNormalSample(random, 1 * MIN, 0.5) },
      { name: 'Building', durationMs: logNormalSample(random, 10 * MIN, 0.25) },
      {
        name: 'Customizing',
        durationMs:
          logNormalSample(random, 32 * MIN, 0.35) + (outlier ? logNormalSample(random, 195 * MIN, 0.1) : 0),
      },
      { name: 'Distributing', durationMs: logNormalSample(random, 15 * MIN, 0.2) },
    ];
    builds.push({ durationMs: phases.reduce((s, p) => s + p.durationMs, 0), phases, outlier });
  }
  return builds;
}

/**
 * Total durations only, for the simulated Azure, which splits every run into fixed shares
 * (Queued 2 %, Building 28 %, Customizing 40 %, Distributing 30 %; see FIDELITY.md): log-normal
 * median 60 min, σ 0.25 (5–95 %: ~40–90 min), plus `outlierRate` runs of ~4 h.
 */
export function generateTotalDurations(
  seed: number,
  count: number,
  mix: BuildMix = { outlierRate: 0.03 },
): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const outlier = random() < mix.outlierRate;
    out.push(outlier ? logNormalSample(random, 240 * MIN, 0.05) : logNormalSample(random, 60 * MIN, 0.25));
  }
  return out;
}

/** The simulated Azure's fixed split of a run (src/local/azure-sim/providers/imagebuilder.ts). */
export const SIMULATOR_PHASE_SHARES: { name: SubStateName; share: number }[] = [
  { name: 'Queued', share: 0.02 },
  { name: 'Building', share: 0.28 },
  { name: 'Customizing', share: 0.4 },
  { name: 'Distributing', share: 0.3 },
];

export function simulatorShaped(durationMs: number): GeneratedBuild {
  return {
    durationMs,
    phases: SIMULATOR_PHASE_SHARES.map((p) => ({ name: p.name, durationMs: durationMs * p.share })),
    outlier: durationMs > 3 * 60 * MIN,
  };
}
