/**
 * What past builds tell the build-wait policy: the duration distribution (median and p90) and the
 * median time spent in each Image Builder run sub-state. Pure: the caller loads the past durations
 * (an activity) and passes them in; the orchestration passes the summary to nextPollDelayMs.
 */
import { FactoryError } from '../../shared/errors';

export interface BuildHistory {
  /** Median run duration (start → terminal state), ms. */
  p50Ms: number;
  /** 90th percentile run duration, ms. */
  p90Ms: number;
  /** Median time spent in each sub-state (Queued, Building, Customizing, Validating, Distributing), ms. */
  subStateP50Ms?: Record<string, number>;
}

/** Fewer past builds than this say too little: the policy falls back to its prior. */
export const MIN_HISTORY_SAMPLES = 5;

export const INVALID_POLLING_INPUT = 'InvalidPollingInput';

function checkDurations(what: string, values: readonly number[]): void {
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new FactoryError(
        INVALID_POLLING_INPUT,
        `${what}[${i}] must be a finite, non-negative number of milliseconds; got ${String(v)}`,
      );
    }
  });
}

/** Quantile q (0..1) of already sorted values, linear between neighbours. */
export function quantileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new FactoryError(INVALID_POLLING_INPUT, 'quantile of an empty list');
  if (!(q >= 0 && q <= 1))
    throw new FactoryError(INVALID_POLLING_INPUT, `quantile must be in [0, 1]; got ${q}`);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (pos - lo);
}

/**
 * Summarizes past run durations. Returns undefined when there are fewer than `minSamples`
 * (default MIN_HISTORY_SAMPLES) durations. Sub-states with fewer samples than that are left out.
 * Throws FactoryError InvalidPollingInput for a negative, NaN or infinite duration.
 */
export function summarizeHistory(
  durationsMs: readonly number[],
  options: { subStateDurationsMs?: Record<string, readonly number[]>; minSamples?: number } = {},
): BuildHistory | undefined {
  checkDurations('durationsMs', durationsMs);
  const minSamples = Math.max(1, options.minSamples ?? MIN_HISTORY_SAMPLES);
  if (durationsMs.length < minSamples) return undefined;
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const history: BuildHistory = {
    p50Ms: quantileOfSorted(sorted, 0.5),
    p90Ms: quantileOfSorted(sorted, 0.9),
  };
  const subStates = options.subStateDurationsMs;
  if (subStates !== undefined) {
    const medians: Record<string, number> = {};
    for (const name of Object.keys(subStates).sort()) {
      const values = subStates[name] ?? [];
      checkDurations(`subStateDurationsMs.${name}`, values);
      if (values.length >= minSamples)
        medians[name] = quantileOfSorted(
          [...values].sort((a, b) => a - b),
          0.5,
        );
    }
    if (Object.keys(medians).length > 0) history.subStateP50Ms = medians;
  }
  return history;
}
