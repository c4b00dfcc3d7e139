/**
 * Small, pure numeric helpers for the polling policies: the standard normal distribution and a
 * log-normal fitted from two quantiles. No clock, no I/O, no randomness: same input, same output.
 */

/** z of the 90th percentile of the standard normal. */
export const Z90 = 1.2815515655446004;
/** z of the 99th percentile of the standard normal. */
export const Z99 = 2.3263478740408408;

/** erfc(x) (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z > z) for a standard normal Z. */
export function normalSurvival(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Log-normal distribution of a positive duration (ms): ln(X) ~ N(mu, sigma²). */
export interface LogNormal {
  mu: number;
  sigma: number;
}

/** Smallest log-spread we accept: a history of identical durations still leaves some doubt. */
export const MIN_SIGMA = 0.05;

/** Fits a log-normal through a median and a 90th percentile (p90 ≤ p50 is treated as MIN_SIGMA). */
export function logNormalFromQuantiles(p50Ms: number, p90Ms: number): LogNormal {
  const mu = Math.log(Math.max(1, p50Ms));
  const sigma = Math.max(MIN_SIGMA, (Math.log(Math.max(1, p90Ms)) - mu) / Z90);
  return { mu, sigma };
}

/** Density of the log-normal at x (per ms); 0 for x ≤ 0. */
export function logNormalPdf(d: LogNormal, x: number): number {
  if (x <= 0) return 0;
  const z = (Math.log(x) - d.mu) / d.sigma;
  return Math.exp(-0.5 * z * z) / (x * d.sigma * Math.sqrt(2 * Math.PI));
}

/** P(X > x); 1 for x ≤ 0. */
export function logNormalSurvival(d: LogNormal, x: number): number {
  if (x <= 0) return 1;
  return normalSurvival((Math.log(x) - d.mu) / d.sigma);
}

/** The quantile of the log-normal at standard-normal score z (e.g. Z99). */
export function logNormalQuantile(d: LogNormal, z: number): number {
  return Math.exp(d.mu + z * d.sigma);
}
