/**
 * The sample pipelines resolve against what infra deploys (issue 12, defect 5): a world built from
 * infra (names of infra/main.bicep for an environment, access of infra/access.json), the pipelines'
 * ${NAME} settings filled from it as `npm start` does, and every resource group, gallery, identity
 * and subnet a pipeline names exists there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import abbreviations from '../../infra/abbreviations.json';
import { loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
import { startAzureSimulator, createStandardWorld, type AzureSimulator } from '../../src/local/azure-sim';
import type { StandardWorld } from '../../src/local/azure-sim/world';
import { pipelineSettingsForWorld } from '../../src/local/world-settings';

const main = readFileSync(path.resolve(__dirname, '../../infra/main.bicep'), 'utf8');

/** A Bicep name template of main.bicep evaluated for an environment (abbreviations, replace()). */
function evaluate(template: string, environmentName: string): string {
  return template
    .replace(
      /\$\{abbrs\.(\w+)\}/g,
      (_, key: string) => (abbreviations as Record<string, string>)[key] ?? `?${key}`,
    )
    .replace(/\$\{replace\(environmentName, '-', '_'\)\}/g, environmentName.replace(/-/g, '_'))
    .replace(/\$\{environmentName\}/g, environmentName);
}

/** Names of the resource groups infra/main.bicep creates, by symbol. */
function infraGroups(environmentName: string): Record<string, string> {
  return Object.fromEntries(
    [
      ...main.matchAll(
        /resource (\w+) 'Microsoft\.Resources\/resourceGroups@[^']+' = [^{]*\{\s*name: '([^']+)'/g,
      ),
    ].map((m) => [m[1] as string, evaluate(m[2] as string, environmentName)]),
  );
}

describe('sample pipelines resolve against what infra deploys', () => {
  let sim: AzureSimulator;
  let world: StandardWorld;
  beforeAll(async () => {
    sim = await startAzureSimulator({ seed: 7 });
    world = createStandardWorld(sim);
  });
  afterAll(async () => sim.stop());

  it('the world is named as infra/main.bicep names its resources', () => {
    const groups = infraGroups(world.environmentName);
    expect(groups.factoryGroup).toBe(world.identityResourceGroup);
    expect(groups.templateGroup).toBe(world.templateResourceGroup);
    expect(groups.testGroup).toBe(world.testVm.resourceGroup);
    // the whole quoted template: it holds quotes of its own (replace(environmentName, '-', '_'))
    const gallery = /module gallery [\s\S]*?params: \{\s*name: '(.+)'\n/.exec(main)?.[1] ?? '';
    expect(evaluate(gallery, world.environmentName)).toBe(world.eng.galleryName);
    expect(world.eng.galleryResourceGroup).toBe(groups.factoryGroup);
  });

  it('every group, gallery, identity and subnet a sample pipeline names exists in the world', () => {
    const pipelines = loadPipelinesOrThrow(path.resolve(__dirname, '../../pipelines'), {
      ...pipelineSettingsForWorld(world),
    });
    expect([...pipelines.keys()].sort()).toEqual(['ubuntu-2204-base', 'windows-2022-base']);
    const missing: string[] = [];
    const exists = (what: string, id: string | undefined) => {
      if (
        id !== undefined &&
        id !== '' &&
        sim.inventory().every((r) => r.id.toLowerCase() !== id.toLowerCase())
      )
        missing.push(`${what} ${id}`);
    };
    for (const [name, p] of pipelines) {
      const eng = p.stages[0]!;
      exists(
        `${name} build.resourceGroup`,
        `/subscriptions/${eng.subscriptionId}/resourceGroups/${p.build.resourceGroup}`,
      );
      exists(
        `${name} test.resourceGroup`,
        `/subscriptions/${eng.subscriptionId}/resourceGroups/${p.test.resourceGroup}`,
      );
      exists(`${name} build.identity`, p.build.identity.resourceId);
      // Per-template staging groups must NOT exist yet (Image Builder creates each): the prefix is
      // infra's, and no group in the world starts with it.
      if (p.build.stagingResourceGroupPrefix !== undefined) {
        expect(p.build.stagingResourceGroupPrefix).toBe(world.staging.resourceGroupPrefix);
        const taken = sim
          .inventory()
          .filter((r) => r.type === 'microsoft.resources/resourcegroups')
          .filter((r) => r.id.split('/')[4]?.startsWith(p.build.stagingResourceGroupPrefix ?? '') === true);
        expect(taken.map((r) => r.id)).toEqual([]);
      }
      exists(`${name} test.subnetId`, p.test.subnetId);
      for (const stage of p.stages)
        exists(
          `${name} stage ${stage.name} gallery`,
          `/subscriptions/${stage.subscriptionId}/resourceGroups/${stage.gallery.resourceGroup}/providers/Microsoft.Compute/galleries/${stage.gallery.name}`,
        );
    }
    expect(missing).toEqual([]);
  });
});
