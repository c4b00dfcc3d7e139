/**
 * Image Builder refuses a staging resource group that another template uses (it tags the group it
 * uses; image-builder-json doc, "stagingResourceGroup"), so templates never share one: each gets its
 * own `<prefix><template name>` group, which does not exist yet. Image Builder creates it in the
 * template's region, gives the build identity Contributor and deletes it with the template. Two
 * builds of a pipeline with a prefix (as ubuntu-2204-base has) started together both succeed side
 * by side, each template in its own group, and nothing is left behind.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { startFactory, type Factory } from './harness';
import { leftovers, sideEffectsOf } from './side-effects';

describe('per-template staging resource groups', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('two concurrent builds with the same prefix both succeed, each template in its own group', async () => {
    const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
    const prefix = factory.world.staging.resourceGroupPrefix;
    expect(pipeline.build.stagingResourceGroupPrefix).toBe(prefix);
    const ids = [await factory.start(pipeline, 'staging-a'), await factory.start(pipeline, 'staging-b')];
    const decided = new Set<string>();
    /** Staging groups seen while the builds ran: id → tags. */
    const groups = new Map<string, Record<string, string>>();
    await factory.host.drive({
      until: async () => {
        for (const r of factory.sim.inventory())
          if (r.type === 'microsoft.resources/resourcegroups' && r.id.includes(`/resourceGroups/${prefix}`))
            groups.set(r.id, r.tags);
        let open = 0;
        for (const id of ids) {
          const instance = await factory.host.getStatus(id);
          const status = instance?.customStatus as BuildCustomStatus | null;
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
    for (const id of ids) expect(sideEffectsOf(factory.sim, id)).toMatchObject({ runs: 1, testVms: 1 });

    // One template per build, each naming its own staging group `<prefix><template name>`.
    const puts = factory.sim
      .requests()
      .filter((r) => r.method === 'PUT' && /imageTemplates\/[^/]+$/.test(r.path) && r.status < 300);
    expect(puts).toHaveLength(2);
    const eng = factory.world.eng.subscriptionId;
    const staging = puts.map((r) => {
      const name = r.path.split('/').pop()!;
      const group = (r.body as { properties: { stagingResourceGroup?: string } }).properties
        .stagingResourceGroup;
      expect(group).toBe(`/subscriptions/${eng}/resourceGroups/${prefix}${name}`);
      return { name, group: group! };
    });
    expect(new Set(staging.map((s) => s.group)).size).toBe(2);
    // Image Builder created each group for its template (its default tags), ...
    for (const { name, group } of staging)
      expect(groups.get(group)).toMatchObject({
        createdBy: 'AzureVMImageBuilder',
        imageTemplateName: name,
        imageTemplateResourceGroupName: pipeline.build.resourceGroup,
      });
    // ... and deleted it with the template.
    const remaining = factory.sim.inventory().filter((r) => r.id.includes(`/resourceGroups/${prefix}`));
    expect(remaining).toEqual([]);
    expect(leftovers(factory.sim)).toEqual([]);
  }, 60_000);
});
