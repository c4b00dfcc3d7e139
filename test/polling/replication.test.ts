import {
  DEFAULT_REPLICATION_POLL_DEFAULTS,
  estimateReplicationRemainingMs,
  nextReplicationPollDelayMs,
  type ReplicationPollInput,
} from '../../src/domain/polling';
import { FactoryError } from '../../src/shared/errors';
import { seededRandom } from '../../bench/generators';

const MIN = 60_000;
const defaults = DEFAULT_REPLICATION_POLL_DEFAULTS;

describe('replication polling', () => {
  it('extrapolates the slowest region linearly', () => {
    const input: ReplicationPollInput = {
      elapsedMs: 10 * MIN,
      regions: [
        { name: 'westeurope', state: 'Completed', progress: 100 },
        { name: 'northeurope', state: 'Replicating', progress: 50 },
        { name: 'eastus', state: 'Replicating', progress: 25 },
      ],
      defaults,
    };
    expect(estimateReplicationRemainingMs(input)).toBe(30 * MIN);
    expect(nextReplicationPollDelayMs(input)).toBe(10 * MIN); // half of 30 min, capped at 10
    expect(nextReplicationPollDelayMs({ ...input, elapsedMs: 2 * MIN })).toBe(3 * MIN);
  });

  it('uses the per-region median for regions not started', () => {
    const input: ReplicationPollInput = {
      elapsedMs: 0,
      regions: [
        { name: 'a', state: 'Replicating', progress: 0 },
        { name: 'b', state: 'Replicating', progress: 0 },
      ],
      history: { perRegionP50Ms: 7 * MIN, totalP90Ms: 30 * MIN },
      defaults,
    };
    expect(estimateReplicationRemainingMs(input)).toBe(14 * MIN);
  });

  it('answers the floor when a region failed or nothing is left', () => {
    const failed = { name: 'a', state: 'Failed', progress: 10 };
    expect(nextReplicationPollDelayMs({ elapsedMs: 5 * MIN, regions: [failed], defaults })).toBe(
      defaults.floorMs,
    );
    expect(
      nextReplicationPollDelayMs({
        elapsedMs: 5 * MIN,
        regions: [{ name: 'a', state: 'Completed', progress: 100 }],
        defaults,
      }),
    ).toBe(defaults.floorMs);
  });

  it('refuses a progress outside 0..100, naming the region', () => {
    let error: unknown;
    try {
      nextReplicationPollDelayMs({
        elapsedMs: 0,
        regions: [{ name: 'eastus', state: 'Replicating', progress: 140 }],
        defaults,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FactoryError);
    expect((error as FactoryError).message).toBe(
      'regions[0].progress (eastus) must be a number in [0, 100]; got 140',
    );
  });

  it('stays within floor and cap, and backs off monotonically after an overrun with stalled progress', () => {
    const random = seededRandom(99);
    for (let i = 0; i < 300; i += 1) {
      const regions = [0, 1, 2].map((k) => ({
        name: `r${k}`,
        state: random() < 0.3 ? 'Completed' : 'Replicating',
        progress: Math.floor(random() * 100),
      }));
      const delay = nextReplicationPollDelayMs({
        elapsedMs: Math.floor(random() * 5 * 60 * MIN),
        regions,
        defaults,
      });
      expect(delay).toBeGreaterThanOrEqual(defaults.floorMs);
      expect(delay).toBeLessThanOrEqual(defaults.capMs);
    }
    const stalled = [{ name: 'eastus', state: 'Replicating', progress: 99 }];
    let previous = 0;
    const overrunAt = defaults.overrunFactor * defaults.expectedTotalMs;
    for (let e = overrunAt; e < overrunAt + 2 * 60 * MIN; e += MIN) {
      const delay = nextReplicationPollDelayMs({ elapsedMs: e, regions: stalled, defaults });
      expect(delay).toBeGreaterThanOrEqual(previous);
      previous = delay;
    }
    expect(previous).toBe(defaults.capMs);
  });

  it('closes in on a linear replication with far fewer reads than a 30 s poll, with a small lag', () => {
    const totalMs = 40 * MIN; // one region, linear progress
    let t = 0;
    let reads = 0;
    for (;;) {
      const progress = Math.min(100, Math.floor((t / totalMs) * 100));
      const done = t >= totalMs;
      if (done) break;
      t += nextReplicationPollDelayMs({
        elapsedMs: t,
        regions: [{ name: 'a', state: 'Replicating', progress: Math.min(progress, 99) }],
        defaults,
      });
      reads += 1;
    }
    expect(reads).toBeLessThan(totalMs / 30_000 / 3);
    expect(t - totalMs).toBeLessThan(60_000);
  });
});
