import { runP3, simulateBuildWait, fixedPoller, figures } from '../../bench/p3-polling';
import { generateBuilds, generateTotalDurations } from '../../bench/generators';

describe('P3 bench harness (pure poll loop)', () => {
  it('same seed gives the same builds and figures; another seed does not', () => {
    expect(generateTotalDurations(5, 20)).toEqual(generateTotalDurations(5, 20));
    expect(generateTotalDurations(5, 20)).not.toEqual(generateTotalDurations(6, 20));
    expect(runP3(7, 40)).toEqual(runP3(7, 40));
  });

  it('reproduces the fixed-interval law: reads/h × mean lag ≈ 1800 at 30 s and at 60 s', () => {
    const builds = generateBuilds(11, 400);
    for (const interval of [30_000, 60_000]) {
      const f = figures(builds.map((b) => simulateBuildWait(b, fixedPoller(interval))));
      expect(f.readsPerHour).toBeCloseTo(3_600_000 / interval, -1);
      expect(f.product).toBeGreaterThan(1650);
      expect(f.product).toBeLessThan(1950);
    }
  });

  it('counts the read that sees the end, and its lag', () => {
    const build = {
      durationMs: 95_000,
      phases: [{ name: 'Queued' as const, durationMs: 95_000 }],
      outlier: false,
    };
    expect(simulateBuildWait(build, fixedPoller(30_000))).toEqual({
      reads: 4,
      lagMs: 25_000,
      durationMs: 95_000,
    });
  });
});
