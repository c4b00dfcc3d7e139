/**
 * Time source shared by the local host and the simulated Azure. Production code inside
 * orchestrations never uses this (it uses context.df.currentUtcDateTime); activities and
 * adapters take a Clock so tests can run a 4-hour build in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
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
