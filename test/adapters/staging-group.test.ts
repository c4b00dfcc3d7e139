/**
 * Image Builder's staging resource group rules (image-builder-json doc, "stagingResourceGroup";
 * troubleshooting guide), through the real SDK against the simulator, and what preflight makes of
 * them for a template's own `<prefix><template name>` group.
 */
import { runPreflight } from '../../src/activities/preflight';
import { loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
import { recipeHash, stagingResourceGroupIdFor, templateNameFor } from '../../src/domain/pipeline/recipe';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import type { ImageTemplateRef, ImageTemplateSpec } from '../../src/ports/azure';
import { pipelineSettingsForWorld } from '../../src/local/world-settings';
import {
  useHarness,
  imageDefinition,
  templateRef,
  templateSpec,
  expectFactoryError,
  provisionTemplate,
} from './helpers';

const IMAGE = 'ubuntu-staging';

describe('staging resource groups', () => {
  const h = useHarness();
  let pipeline: PipelineDefinition;
  beforeAll(async () => {
    pipeline = loadPipelinesOrThrow('pipelines', { ...h.env, ...pipelineSettingsForWorld(h.world) }).get(
      'ubuntu-2204-base',
    )!;
    await h.ports
      .galleries('eng')
      .ensureImageDefinition(
        imageDefinition(
          h.world.eng,
          IMAGE,
          { publisher: 'Contoso', offer: 'staging', sku: 'ubuntu' },
          { location: 'westeurope' },
        ),
      );
  });

  const ref = (name: string): ImageTemplateRef => templateRef(h, name);
  const spec = (name: string, stagingResourceGroupId: string, version: string): ImageTemplateSpec =>
    templateSpec(
      h,
      { name, image: IMAGE, version, runOutputName: 'eng', excludeFromLatest: true },
      { stagingResourceGroupId, tags: {} },
    );
  /** Returns once ARM accepted the delete; it takes ~77 s of (virtual) time. */
  const deleteTemplate = async (name: string) => {
    await h.ports.imageBuilder('eng').deleteTemplate(ref(name));
    h.clock.advanceBy(2 * 60_000);
  };
  const group = (id: string) =>
    h.sim.inventory().find((r) => r.type === 'microsoft.resources/resourcegroups' && r.id === id);

  it('a named group that does not exist: Image Builder creates it for the template and deletes it with it', async () => {
    const builder = h.ports.imageBuilder('eng');
    const id = `/subscriptions/${h.world.eng.subscriptionId}/resourceGroups/rg-dev-aib-staging-it-created`;
    expect(group(id)).toBeUndefined();
    const created = await provisionTemplate(h, 'eng', spec('it-created', id, '1.0.1'));
    expect(created.provisioningState).toBe('Succeeded');
    expect(group(id)?.tags).toEqual({
      createdBy: 'AzureVMImageBuilder',
      imageTemplateName: 'it-created',
      imageTemplateResourceGroupName: h.world.templateResourceGroup,
    });
    expect(await builder.getStagingGroup(id)).toMatchObject({ location: 'westeurope' });
    await deleteTemplate('it-created');
    expect(h.sim.inventory().filter((r) => r.id.startsWith(id))).toEqual([]);
    expect(await builder.getStagingGroup(id)).toBeUndefined();
  });

  it('an existing group: tagged as used, refused to a second template, emptied (not deleted) with the template', async () => {
    const id = h.sim.addResourceGroup(h.world.eng.subscriptionId, 'rg-own-staging', 'westeurope');
    h.sim.assignRole({ principalId: h.world.buildIdentity.principalId, role: 'Contributor', scope: id });
    await provisionTemplate(h, 'eng', spec('it-first', id, '1.0.2'));
    expect(group(id)?.tags).toMatchObject({
      usedBy: expect.any(String),
      imageTemplateName: 'it-first',
      imageTemplateResourceGroupName: h.world.templateResourceGroup,
    });
    expect(h.sim.inventory().filter((r) => r.id.startsWith(`${id}/`)).length).toBeGreaterThan(0);
    // A group already tagged for a template cannot serve another: Image Builder's bare error.
    const error = await expectFactoryError(() => provisionTemplate(h, 'eng', spec('it-second', id, '1.0.3')));
    expect(error.code).toBe('OperationFailed');
    // The service's text today (Azure/azvmimagebuilder#45), as the failed template reports it
    expect(error.message).toMatch(
      /Internal error occurred\. This is a generic error\. To identify possible causes, go to https:\/\/aka\.ms\/azvmimagebuilderts\./,
    );
    expect(error.hint).toContain(`${id} must be the template's own`);
    // The refused template never took the group: deleting it leaves the first one's resources.
    await deleteTemplate('it-second');
    expect(h.sim.inventory().filter((r) => r.id.startsWith(`${id}/`)).length).toBeGreaterThan(0);
    await deleteTemplate('it-first');
    expect(group(id)).toBeDefined();
    expect(h.sim.inventory().filter((r) => r.id.startsWith(`${id}/`))).toEqual([]);
  });

  it("preflight: the template's own group is free, a retry of this template, or taken by another template", async () => {
    const buildId = 'b-staging-preflight';
    const queuedAt = '2026-11-10T06:00:00.000Z';
    const templateName = templateNameFor(pipeline.name, buildId, recipeHash(pipeline), queuedAt);
    const prefix = pipeline.build.stagingResourceGroupPrefix!;
    const id = stagingResourceGroupIdFor(h.world.eng.subscriptionId, prefix, templateName);
    const preflight = () => runPreflight(h.ports, { buildId, definition: pipeline, queuedAt });

    const free = await preflight();
    expect(free.templateName).toBe(templateName);
    expect(free.problems).toEqual([]);

    // Another template made the group its own (e.g. a clash of names): reported with the fix.
    await provisionTemplate(h, 'eng', spec('it-someone-else', id, '1.0.4'));
    const taken = await preflight();
    expect(taken.problems).toEqual([
      expect.objectContaining({
        code: 'StagingGroupTaken',
        subject: id,
        message: expect.stringContaining('tagged for image template it-someone-else'),
        fix: expect.stringContaining(
          `az group delete --subscription ${h.world.eng.subscriptionId} -n ${prefix}`,
        ),
      }),
    ]);
    await deleteTemplate('it-someone-else');

    // This build's own template made it (a retry): fine.
    await provisionTemplate(h, 'eng', spec(templateName, id, '1.0.5'));
    expect((await preflight()).problems).toEqual([]);
    await deleteTemplate(templateName);
    expect(group(id)).toBeUndefined();
  });

  it('a long prefix still gives a valid, unique group name of at most 90 characters', () => {
    const name = 'it-261110060000-a-very-long-pipeline-name-for-tes-1234abcd-0123456789';
    const id = stagingResourceGroupIdFor('s', `rg-${'e'.repeat(40)}-aib-staging-`, name);
    const groupName = id.split('/').pop()!;
    expect(groupName).toHaveLength(90);
    expect(groupName.endsWith('-1234abcd-0123456789')).toBe(true);
    expect(stagingResourceGroupIdFor('s', 'rg-x-', name)).toBe(
      `/subscriptions/s/resourceGroups/rg-x-${name}`,
    );
  });
});
