/**
 * A request to Azure that gets no answer (a connection that died without closing) fails after the
 * request timeout as a retryable ConnectionFault, through the real SDKs against the simulator,
 * instead of holding its activity until host.json's functionTimeout: an ARM request, a read of
 * customization.log from the staging storage account, and a token request (managed identity, Entra).
 * The simulator's `slow` fault holds the answer back; the factory's timeouts are set short here
 * (production: ARM_REQUEST_TIMEOUT_MS, TOKEN_TIMEOUT_MS).
 */
import { createAzurePorts } from '../../src/adapters';
import type { ImageTemplateRef } from '../../src/ports/azure';
import { CredentialStore } from '../../src/adapters/credentials';
import {
  expectFactoryError,
  imageDefinition,
  provisionTemplate,
  templateRef,
  templateSpec,
  useHarness,
} from './helpers';

const RESOURCE_GROUP_READ = 'GET Microsoft.Resources/resourceGroups';
const BLOB_READ = 'GET blob';
/** A scope no other test asks a token for: MSAL keeps managed-identity tokens per process. */
const UNCACHED_SCOPE = 'https://vault.azure.net/.default';
/** How long the simulator holds its answer back: longer than the timeout below. */
const SLOW_MS = 800;
const TIMEOUT_MS = 200;

describe('a request to Azure without an answer', () => {
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

  /** An image template whose run has ended, so its customization.log can be read (made once). */
  let finishedTemplate: Promise<ImageTemplateRef> | undefined;
  const templateWithLog = (): Promise<ImageTemplateRef> =>
    (finishedTemplate ??= (async () => {
      const image = 'ubuntu-request-timeout';
      await h.ports
        .galleries('eng')
        .ensureImageDefinition(
          imageDefinition(h.world.eng, image, { publisher: 'Contoso', offer: 'timeout', sku: image }),
        );
      const ref = templateRef(h, 'it-log-timeout');
      await provisionTemplate(h, 'eng', templateSpec(h, { name: ref.name, image, version: '0.1.0' }));
      await h.ports.imageBuilder('eng').startRun(ref);
      for (let reads = 0; reads < 20; reads++) {
        h.clock.advanceBy(10 * 60_000);
        if ((await h.ports.imageBuilder('eng').getTemplate(ref))?.lastRun?.runState !== 'Running') break;
      }
      return ref;
    })());

  it.each([
    ['slow', 'held back'],
    ['stall', 'stopped after its headers and half its body'],
  ] as const)(
    'a customization.log read whose answer is %s (%s) fails after the request timeout as a retryable connection fault',
    async (fault, _description) => {
      const ref = await templateWithLog();
      const builder = createAzurePorts(h.config, {
        env: h.env,
        updateIntervalInMs: 5,
        requestTimeoutMs: TIMEOUT_MS,
      }).imageBuilder('eng');
      expect(await builder.readCustomizationLog(ref, 3)).toContain('PACKER');
      h.sim.setFaults({ rate: 1, kinds: [fault], slowMs: SLOW_MS, operations: [BLOB_READ] });
      const before = h.sim.callCounts()[BLOB_READ] ?? 0;
      const error = await expectFactoryError(() => builder.readCustomizationLog(ref, 3));
      expect(error.code).toBe('ConnectionFault');
      expect(error.retryable).toBe(true);
      // A stalled answer never ends on its own: only the factory's timeout ends the call.
      expect(error.message).toContain('AbortError');
      // The first storage request was the one faulted, and nothing after it was sent (a held-back
      // request is counted once the simulator has held it back).
      if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
      expect((h.sim.callCounts()[BLOB_READ] ?? 0) - before).toBe(1);
    },
    20_000,
  );

  it.each([
    ['eng', 'a managed identity', 'GET managedIdentity/token'],
    ['engApp', 'a client secret', 'POST oauth2/token'],
  ])(
    'a token request without an answer (%s, %s) fails after the token timeout as a retryable connection fault',
    async (credential, _kind, tokenRequest) => {
      const store = new CredentialStore(h.config, { env: h.env, tokenTimeoutMs: TIMEOUT_MS });
      h.sim.setFaults({ rate: 1, kinds: ['slow'], slowMs: SLOW_MS, operations: [tokenRequest] });
      const before = h.sim.callCounts()[tokenRequest] ?? 0;
      const error = await expectFactoryError(() => store.credential(credential).getToken(UNCACHED_SCOPE));
      expect(error.code).toBe('ConnectionFault');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('TimeoutError');
      expect(error.message).toContain(`"${credential}"`);
      // The held-back request is answered later; the token it brings is dropped.
      await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
      expect((h.sim.callCounts()[tokenRequest] ?? 0) - before).toBe(1);
      h.sim.setFaults(undefined);
      expect((await store.credential(credential).getToken(UNCACHED_SCOPE))?.token).toMatch(/^ey/);
    },
    20_000,
  );
});
