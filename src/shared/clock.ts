/**
 * Time source shared by the local host and the simulated Azure. Production code inside
 * orchestrations never uses this (it uses context.df.currentUtcDateTime); activities and
 * adapters take a Clock so tests can run a 4-hour build in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Real milliseconds to wait until `ms` of this clock's time have passed (default: the same). */
  toRealDelay?(ms: number): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to. The local host advances it to the next due durable
 * timer whenever nothing else can make progress.
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly listeners = new Set<(now: number) => void>();

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  advanceTo(ms: number): void {
    if (ms <= this.current) return;
    this.current = ms;
    for (const listener of this.listeners) listener(this.current);
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  /** Called after each advance; returns an unsubscribe function. */
  onAdvance(listener: (now: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Real time, sped up: `npm start` runs a 4-hour build in seconds while timers still fire on their
 * own (no driver needed). Durations the simulated Azure models stay realistic in clock time.
 */
export class ScaledClock implements Clock {
  /**
   * @param origin this clock's time at `realOrigin`
   * @param realOrigin the real time it started at: processes given the same origin and realOrigin
   *   share one clock (the crash suite's host process and the simulated Azure in the test process)
   */
  constructor(
    readonly speedup: number,
    readonly origin: number = Date.now(),
    readonly realOrigin: number = Date.now(),
  ) {
    if (!(speedup >= 1)) throw new Error(`speedup must be >= 1, got ${speedup}`);
  }

  now(): number {
    return this.origin + (Date.now() - this.realOrigin) * this.speedup;
  }

  toRealDelay(ms: number): number {
    return ms / this.speedup;
  }
}
