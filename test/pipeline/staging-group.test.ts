/**
 * Image Builder needs a custom staging resource group empty: while one build's template uses it,
 * creating a second template there fails ("The staging resource group … must be empty"). Two
 * builds of a pipeline with a custom staging group (as ubuntu-2204-base has) started together:
 * the later one deletes its failed template, waits for the group and tries again under a new name,
 * and both complete, each with one Image Builder run and nothing left behind.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { startFactory, type Factory } from './harness';
import { leftovers, sideEffectsOf } from './side-effects';

describe('builds sharing a custom staging resource group', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('run one after the other instead of failing', async () => {
    const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
    expect(pipeline.build.stagingResourceGroupId).toBeDefined();
    const ids = [await factory.start(pipeline, 'staging-a'), await factory.start(pipeline, 'staging-b')];
    const messages = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
    const decided = new Set<string>();
    await factory.host.drive({
      until: async () => {
        let open = 0;
        for (const id of ids) {
          const instance = await factory.host.getStatus(id);
          const status = instance?.customStatus as BuildCustomStatus | null;
          if (status?.message) messages.get(id)!.add(status.message);
          if (instance?.runtimeStatus !== 'Running' && instance?.runtimeStatus !== 'Pending') continue;
          open++;
          const pending = status?.pendingApproval;
          if (pending && !decided.has(pending.requestId)) {
            decided.add(pending.requestId);
            await factory.decide(id, pending.stage, 'approved');
          }
        }
        return open === 0;
      },
    });

    const outcomes = await Promise.all(
      ids.map(async (id) => {
        const status = (await factory.host.getStatus(id))?.customStatus as BuildCustomStatus;
        return { id, outcome: status.outcome, failure: status.failure?.message };
      }),
    );
    expect(outcomes).toEqual(ids.map((id) => ({ id, outcome: 'succeeded', failure: undefined })));
    // One of them waited, and said why.
    const waited = ids.filter((id) =>
      [...messages.get(id)!].some((m) =>
        /staging resource group .* is in use by another image template/.test(m),
      ),
    );
    expect(waited).toHaveLength(1);
    for (const id of ids) expect(sideEffectsOf(factory.sim, id)).toMatchObject({ runs: 1, testVms: 1 });
    // Each failed template was deleted and each try used a new name (a failed one cannot be updated).
    const templatePuts = factory.sim
      .requests()
      .filter((r) => r.method === 'PUT' && /imageTemplates\/[^/]+$/.test(r.path))
      .map((r) => r.path.split('/').pop());
    expect(templatePuts.length).toBeGreaterThanOrEqual(3);
    expect(new Set(templatePuts).size).toBe(templatePuts.length);
    expect(templatePuts.every((name) => name !== undefined && name.length <= 64)).toBe(true);
    expect(leftovers(factory.sim)).toEqual([]);
  }, 60_000);
});
