/**
 * An ARM request that gets no answer (a connection that died without closing) fails after the
 * request timeout as a retryable ConnectionFault, through the real SDK against the simulator, instead
 * of holding its activity until host.json's functionTimeout. The simulator's `slow` fault holds the
 * answer back; the factory's timeout is set short here (production: ARM_REQUEST_TIMEOUT_MS).
 */
import { createAzurePorts } from '../../src/adapters';
import { expectFactoryError, useHarness } from './helpers';

const RESOURCE_GROUP_READ = 'GET Microsoft.Resources/resourceGroups';
/** How long the simulator holds its answer back: longer than the timeout below. */
const SLOW_MS = 800;
const TIMEOUT_MS = 200;

describe('an ARM request without an answer', () => {
  const h = useHarness();
  afterEach(async () => {
    h.sim.setFaults(undefined);
    // The simulator still answers the abandoned request once its delay is over: let it, so that
    // nothing is left running when the suite ends.
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
  });

  it('fails after the request timeout as a retryable connection fault', async () => {
    const ports = createAzurePorts(h.config, {
      env: h.env,
      updateIntervalInMs: 5,
      requestTimeoutMs: TIMEOUT_MS,
    });
    const group = `/subscriptions/${h.world.eng.subscriptionId}/resourceGroups/${h.world.templateResourceGroup}`;
    expect(await ports.access('eng').getResource(group)).toBeDefined();
    h.sim.setFaults({ rate: 1, kinds: ['slow'], slowMs: SLOW_MS, operations: [RESOURCE_GROUP_READ] });
    const before = h.sim.callCounts()[RESOURCE_GROUP_READ] ?? 0;
    const error = await expectFactoryError(() => ports.access('eng').getResource(group));
    expect(error.code).toBe('ConnectionFault');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('AbortError');
    // One request: the quick retries of an idempotent read do not retry an abort; the orchestration
    // retries the activity.
    expect((h.sim.callCounts()[RESOURCE_GROUP_READ] ?? 0) - before).toBe(1);
  }, 20_000);
});
