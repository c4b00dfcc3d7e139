import {
  DEFAULT_BUILD_POLL_DEFAULTS,
  buildEndModel,
  nextPollDelayMs,
  summarizeHistory,
  type BuildHistory,
  type BuildPollInput,
} from '../../src/domain/polling';
import { FactoryError } from '../../src/shared/errors';
import { seededRandom } from '../../bench/generators';

const MIN = 60_000;
const defaults = DEFAULT_BUILD_POLL_DEFAULTS;
const history: BuildHistory = {
  p50Ms: 60 * MIN,
  p90Ms: 80 * MIN,
  subStateP50Ms: { Queued: 1 * MIN, Building: 10 * MIN, Customizing: 32 * MIN, Distributing: 15 * MIN },
};

function errorOf(fn: () => unknown): FactoryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FactoryError) return e;
    throw e;
  }
  throw new Error('expected a FactoryError');
}

describe('nextPollDelayMs: bad input is refused with a specific error', () => {
  it.each([
    ['elapsedMs', { elapsedMs: -1 }, /elapsedMs must be a finite, non-negative/],
    ['NaN elapsed', { elapsedMs: NaN }, /elapsedMs .* got NaN/],
    ['history p50', { history: { ...history, p50Ms: Infinity } }, /history.p50Ms/],
    [
      'sub-state median',
      { history: { ...history, subStateP50Ms: { Building: -5 } } },
      /subStateP50Ms.Building/,
    ],
    ['floor 0', { defaults: { ...defaults, floorMs: 0 } }, /floorMs must be > 0/],
    ['cap < floor', { defaults: { ...defaults, capMs: 1000, floorMs: 2000 } }, /capMs \(1000\) must be ≥/],
  ] as const)('%s', (_name, patch, message) => {
    const input = { elapsedMs: 0, history, defaults, ...patch } as BuildPollInput;
    const error = errorOf(() => nextPollDelayMs(input));
    expect(error.code).toBe('InvalidPollingInput');
    expect(error.message).toMatch(message);
  });
});

describe('nextPollDelayMs: properties', () => {
  const random = seededRandom(1234);
  const subStates = [undefined, 'Queued', 'Building', 'Customizing', 'Validating', 'Distributing', 'Unknown'];
  const inputs: BuildPollInput[] = [];
  for (let i = 0; i < 400; i += 1) {
    const elapsedMs = Math.floor(random() * 6 * 60 * MIN);
    const seen = Math.floor(random() * elapsedMs);
    const runSubState = subStates[Math.floor(random() * subStates.length)];
    const floorMs = 5_000 + Math.floor(random() * 30_000);
    inputs.push({
      elapsedMs,
      ...(runSubState === undefined ? {} : { runSubState }),
      subStateSeenAtMs: seen,
      subStateNotSeenAtMs: Math.floor(seen * random()),
      history: random() < 0.2 ? undefined : history,
      defaults: { ...defaults, floorMs, capMs: floorMs + Math.floor(random() * 20 * MIN) },
    });
  }

  it('is never below the floor nor above the cap', () => {
    for (const input of inputs) {
      const delay = nextPollDelayMs(input);
      expect(delay).toBeGreaterThanOrEqual(input.defaults.floorMs);
      expect(delay).toBeLessThanOrEqual(input.defaults.capMs);
    }
  });

  it('is deterministic: the same input gives the same delay (also through JSON, as in a replay)', () => {
    for (const input of inputs.slice(0, 100)) {
      const copy = JSON.parse(JSON.stringify(input)) as BuildPollInput;
      expect(nextPollDelayMs(copy)).toBe(nextPollDelayMs(input));
    }
  });

  it('backs off monotonically once the run overran, growing geometrically until the cap', () => {
    for (const runSubState of [undefined, 'Customizing', 'Distributing']) {
      const base: BuildPollInput = {
        elapsedMs: 60 * MIN,
        ...(runSubState === undefined ? {} : { runSubState }),
        subStateSeenAtMs: 50 * MIN,
        subStateNotSeenAtMs: 45 * MIN,
        history,
        defaults,
      };
      const overrunAt = buildEndModel(base).overrunAtMs;
      expect(overrunAt).toBeGreaterThan(60 * MIN);
      let previous = 0;
      const delays: number[] = [];
      for (let e = overrunAt; e < overrunAt + 8 * 60 * MIN; e += 30_000) {
        const delay = nextPollDelayMs({ ...base, elapsedMs: e });
        expect(delay).toBeGreaterThanOrEqual(previous);
        previous = delay;
        delays.push(delay);
      }
      expect(delays.at(-1)).toBe(defaults.capMs);
      // reads after the overrun: each delay is ≥ ratio × time overrun, so reads grow like a log
      let t = overrunAt;
      let reads = 0;
      while (t < overrunAt + 60 * MIN) {
        t += nextPollDelayMs({ ...base, elapsedMs: t });
        reads += 1;
      }
      expect(reads).toBeLessThan((60 * MIN) / 30_000 / 4);
    }
  });

  it('sleeps long while the end is far and polls densely around the expected end', () => {
    const at = (elapsedMs: number): number => nextPollDelayMs({ elapsedMs, history, defaults });
    expect(at(5 * MIN)).toBe(defaults.capMs);
    expect(at(58 * MIN)).toBeLessThan(at(20 * MIN) / 4);
    // once Distributing began at ~50 min (median 15 min left), the window moves to ~65 min
    const distributing = (elapsedMs: number): number =>
      nextPollDelayMs({
        elapsedMs,
        runSubState: 'Distributing',
        subStateSeenAtMs: 50 * MIN,
        subStateNotSeenAtMs: 49 * MIN,
        history,
        defaults,
      });
    expect(distributing(51 * MIN)).toBeGreaterThan(distributing(63 * MIN));
    expect(distributing(63 * MIN)).toBeLessThan(90_000);
  });

  it('a run still customizing is not expected to end within the Distributing median', () => {
    const customizing = nextPollDelayMs({
      elapsedMs: 55 * MIN,
      runSubState: 'Customizing',
      subStateSeenAtMs: 12 * MIN,
      subStateNotSeenAtMs: 10 * MIN,
      history,
      defaults,
    });
    const unknown = nextPollDelayMs({ elapsedMs: 55 * MIN, history, defaults });
    expect(customizing).toBeGreaterThan(unknown * 3);
  });
});

describe('summarizeHistory', () => {
  it('gives median and p90, and per-sub-state medians with enough samples', () => {
    const durations = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((m) => m * MIN);
    expect(
      summarizeHistory(durations, { subStateDurationsMs: { Building: [1, 2, 3, 4, 5], Validating: [1] } }),
    ).toEqual({ p50Ms: 55 * MIN, p90Ms: 91 * MIN, subStateP50Ms: { Building: 3 } });
  });

  it('says nothing from fewer than 5 runs', () => {
    expect(summarizeHistory([MIN, MIN, MIN, MIN])).toBeUndefined();
  });

  it('refuses a negative duration, naming it', () => {
    const error = errorOf(() => summarizeHistory([MIN, -1, MIN, MIN, MIN]));
    expect(error.message).toBe(
      'durationsMs[1] must be a finite, non-negative number of milliseconds; got -1',
    );
  });
});
