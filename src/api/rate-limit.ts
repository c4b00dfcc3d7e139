/**
 * Per-caller token bucket for mutating requests: `burst` at once, then `perMinute` sustained.
 * Kept in memory per app instance (the Functions scale controller may run several, each with its
 * own buckets; the per-pipeline and per-slot queue caps are global because they count builds).
 * Time comes from the caller so tests can run a flood on a virtual clock.
 */
export interface RateLimitSettings {
  perMinute: number;
  burst: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Buckets idle long enough to be full again are dropped; at most this many are kept. */
const MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number) {}

  take(caller: string, settings: RateLimitSettings): RateDecision {
    const now = this.now();
    const perMs = settings.perMinute / 60_000;
    const bucket = this.buckets.get(caller) ?? { tokens: settings.burst, at: now };
    const tokens = Math.min(settings.burst, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
    if (tokens >= 1) {
      this.buckets.delete(caller); // re-insert: the map's order is least recently used first
      this.buckets.set(caller, { tokens: tokens - 1, at: now });
      this.prune();
      return { allowed: true };
    }
    this.buckets.set(caller, { tokens, at: now });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
  }

  private prune(): void {
    while (this.buckets.size > MAX_BUCKETS) {
      const oldest = this.buckets.keys().next();
      if (oldest.done === true) return;
      this.buckets.delete(oldest.value);
    }
  }
}
