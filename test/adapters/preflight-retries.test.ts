/**
 * Preflight's quick retries of a read that Azure throttled (429 with Retry-After), through the real
 * SDK against the simulator: the read is retried after a pause no longer than the factory's quick
 * retries pause (ARM_POLL_INTERVAL_MS, as the adapters' retries; never over 1 s), so a throttled
 * read does not fail the check, and a test run on virtual time does not sit out Azure's Retry-After
 * in real time (the fault suite did: 56 pauses of 1 s held the whole world still for ~40 s).
 */
import { PREFLIGHT_RETRY_PAUSE_MAX_MS, runPreflight } from '../../src/activities/preflight';
import { loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
import { pipelineSettingsForWorld } from '../../src/local/world-settings';
import { createPipelineActivities } from '../../src/activities/pipeline';
import { Activities } from '../../src/domain/pipeline/activities';
import { useHarness } from './helpers';

const RESOURCE_GROUP_READ = 'GET Microsoft.Resources/resourceGroups';
const RETRY_AFTER_SECONDS = 30;

describe('preflight under throttling', () => {
  const h = useHarness();
  /** The pauses preflight asked for; each ends at once, and the first one lifts the throttling. */
  let pauses: number[] = [];
  beforeEach(() => {
    pauses = [];
    h.sim.setFaults({
      rate: 1,
      kinds: ['429'],
      operations: [RESOURCE_GROUP_READ],
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
    const realSetTimeout = global.setTimeout;
    jest.spyOn(global, 'setTimeout').mockImplementation((callback: () => void, ms?: number) => {
      if (ms === undefined || ms < 1 || ms > PREFLIGHT_RETRY_PAUSE_MAX_MS)
        return realSetTimeout(callback, ms);
      pauses.push(ms);
      h.sim.setFaults(undefined);
      return realSetTimeout(callback, 0);
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    h.sim.setFaults(undefined);
  });

  const pipeline = () =>
    loadPipelinesOrThrow('pipelines', { ...h.env, ...pipelineSettingsForWorld(h.world) }).get(
      'ubuntu-2204-base',
    )!;

  it('a throttled read is retried after at most the given pause, and the check passes', async () => {
    const result = await runPreflight(
      h.ports,
      { buildId: 'b-throttled', definition: pipeline() },
      { maxPauseMs: 5 },
    );
    expect(h.sim.callCounts()[RESOURCE_GROUP_READ]).toBeGreaterThan(1);
    expect(pauses).toEqual([5]);
    expect(result.problems).toEqual([]);
  });

  it('never pauses longer than 1 s, whatever Azure asks for and the setting says', async () => {
    await runPreflight(
      h.ports,
      { buildId: 'b-throttled-long', definition: pipeline() },
      { maxPauseMs: 60_000 },
    );
    expect(pauses).toEqual([PREFLIGHT_RETRY_PAUSE_MAX_MS]);
  });

  it('the preflight activity pauses as the factory is configured (ARM_POLL_INTERVAL_MS)', async () => {
    const activities = createPipelineActivities({
      azure: h.ports,
      approvals: undefined as never,
      clock: h.clock,
      quickRetryPauseMs: 7,
      log: () => undefined,
      buildSlotsPerSubscriptionRegion: 4,
    });
    const preflight = activities[Activities.preflight] as (input: unknown) => Promise<unknown>;
    await preflight({ buildId: 'b-throttled-activity', definition: pipeline() });
    expect(pauses).toEqual([7]);
  });
});
