import type { ImageTemplateSpec } from '../../src/ports/azure';
import {
  useHarness,
  imageDefinition,
  templateSpec,
  expectFactoryError,
  assertNoSecrets,
  deleteVmToEnd,
  provisionTemplate,
  runCommandToEnd,
} from './helpers';

const IMAGE = 'ubuntu-golden';

describe('Image Builder through the real SDK, and the "done when" script', () => {
  const h = useHarness();
  beforeAll(async () => {
    for (const [profile, t] of [
      ['eng', h.world.eng],
      ['test', h.world.test],
      ['prod', h.world.prod],
    ] as const) {
      await h.ports
        .galleries(profile)
        .ensureImageDefinition(
          imageDefinition(t, IMAGE, { publisher: 'Contoso', offer: 'golden', sku: 'ubuntu' }),
        );
    }
  });

  const spec = (name: string, overrides: Partial<ImageTemplateSpec> = {}): ImageTemplateSpec =>
    templateSpec(
      h,
      {
        name,
        image: IMAGE,
        version: '2.0.0',
        sourceVersion: h.world.platformImages.ubuntu.versions[2] ?? 'latest',
      },
      {
        stagingResourceGroupId: h.world.staging.goodResourceGroupId,
        tags: { 'image-factory-run': 'r1' },
        ...overrides,
      },
    );

  it('done when: template → run → ENG→TEST→PROD across tenants → test VM → command → delete, nothing leaked', async () => {
    const before = new Set(h.sim.inventory().map((r) => r.id.toLowerCase()));
    const ref = {
      subscriptionId: h.world.eng.subscriptionId,
      resourceGroup: h.world.templateResourceGroup,
      name: 'it-golden-r1',
    };
    const created = await provisionTemplate(h, 'eng', spec(ref.name));
    expect(created.provisioningState).toBe('Succeeded');
    await h.ports.imageBuilder('eng').createTemplate(spec(ref.name)); // look before create: no second PUT
    const puts = h.sim
      .requests()
      .filter((r) => r.operation === 'PUT Microsoft.VirtualMachineImages/imageTemplates');
    expect(puts).toHaveLength(1);
    expect(puts[0]?.apiVersion).toBe('2025-10-01');
    // the wire body carries the flattened model under ARM's `properties` (nothing silently dropped)
    expect(puts[0]?.body).toMatchObject({
      identity: { type: 'UserAssigned', userAssignedIdentities: { [h.world.buildIdentity.id]: {} } },
      properties: {
        source: { type: 'PlatformImage', publisher: 'Canonical' },
        customize: [{ type: 'Shell', name: 'harden', inline: ['echo hardening'] }],
        distribute: [
          {
            type: 'SharedImage',
            runOutputName: 'eng-gallery',
            galleryImageId: spec(ref.name).distribute.galleryImageVersionId,
          },
        ],
        vmProfile: { vmSize: 'Standard_D2s_v5', osDiskSizeGB: 64 },
        stagingResourceGroup: h.world.staging.goodResourceGroupId,
        buildTimeoutInMinutes: 120,
      },
    });

    await h.ports.imageBuilder('eng').startRun(ref);
    await h.ports.imageBuilder('eng').startRun(ref); // a run already going is not started twice
    expect(
      h.sim
        .requests()
        .filter((r) => r.operation === 'POST Microsoft.VirtualMachineImages/imageTemplates/run'),
    ).toHaveLength(1);
    const running = await h.ports.imageBuilder('eng').getTemplate(ref);
    expect(running?.lastRun?.runState).toBe('Running');
    for (let i = 0; i < 20; i += 1) {
      h.clock.advanceBy(15 * 60_000);
      const status = await h.ports.imageBuilder('eng').getTemplate(ref);
      if (status?.lastRun?.runState !== 'Running') break;
    }
    const done = await h.ports.imageBuilder('eng').getTemplate(ref);
    expect(done?.lastRun?.runState).toBe('Succeeded');
    const output = await h.ports.imageBuilder('eng').getRunOutput(ref, 'eng-gallery');
    expect(output?.artifactId?.toLowerCase()).toBe(
      spec(ref.name).distribute.galleryImageVersionId.toLowerCase(),
    );

    const { eng, test, prod } = h.world;
    const version = (t: typeof eng) => ({
      subscriptionId: t.subscriptionId,
      resourceGroup: t.galleryResourceGroup,
      gallery: t.galleryName,
      image: IMAGE,
      version: '2.0.0',
    });
    const region = (t: typeof eng) => [
      { name: t.location, replicaCount: 1, storageAccountType: 'Standard_LRS' as const },
    ];
    await h.ports.galleries('test', { auxiliaryTenantIds: [eng.tenantId] }).beginCreateVersion({
      ...version(test),
      location: test.location,
      source: { kind: 'galleryImageVersion', id: output?.artifactId ?? '' },
      targetRegions: region(test),
      excludeFromLatest: false,
      tags: {},
    });
    h.clock.advanceBy(60 * 60_000);
    const testVersion = await h.ports.galleries('test').getVersion(version(test));
    expect(testVersion?.provisioningState).toBe('Succeeded');
    await h.ports.galleries('prod', { auxiliaryTenantIds: [test.tenantId] }).beginCreateVersion({
      ...version(prod),
      location: prod.location,
      source: { kind: 'galleryImageVersion', id: testVersion?.id ?? '' },
      targetRegions: region(prod),
      excludeFromLatest: false,
      tags: {},
    });
    h.clock.advanceBy(60 * 60_000);
    await expect(h.ports.galleries('prod').getVersion(version(prod))).resolves.toMatchObject({
      provisioningState: 'Succeeded',
    });

    const vm = {
      subscriptionId: eng.subscriptionId,
      resourceGroup: h.world.testVm.resourceGroup,
      name: 'vm-golden-r1',
    };
    await h.ports.testVms('eng').createVm({
      ...vm,
      location: 'westeurope',
      imageVersionId: output?.artifactId ?? '',
      subnetId: h.world.testVm.subnetId,
      vmSize: 'Standard_D2s_v5',
      osType: 'Linux',
      tags: { 'image-factory-run': 'r1' },
    });
    h.clock.advanceBy(5 * 60_000);
    const result = await runCommandToEnd(h, 'eng', vm, {
      shell: 'Shell',
      script: 'echo ok',
      timeoutSeconds: 60,
    });
    expect(result.exitCode).toBe(0);

    await deleteVmToEnd(h, 'eng', vm);
    await h.ports.imageBuilder('eng').deleteTemplate(ref);
    await h.ports.imageBuilder('eng').deleteTemplate(ref);
    for (const [profile, t] of [
      ['prod', prod],
      ['test', test],
      ['eng', eng],
    ] as const)
      await h.ports.galleries(profile).deleteVersion(version(t));
    h.clock.advanceBy(10 * 60_000);
    await expect(h.ports.imageBuilder('eng').getTemplate(ref)).resolves.toBeUndefined();
    const leaked = h.sim.inventory().filter((r) => !before.has(r.id.toLowerCase()));
    expect(leaked).toEqual([]);
  });

  it('pitfall: staging group without Contributor → StagingGroupUnauthorized naming the grant (create, then delete)', async () => {
    const ref = {
      subscriptionId: h.world.eng.subscriptionId,
      resourceGroup: h.world.templateResourceGroup,
      name: 'it-golden-noperm',
    };
    const error = await expectFactoryError(() =>
      provisionTemplate(
        h,
        'eng',
        spec(ref.name, { stagingResourceGroupId: h.world.staging.unauthorizedResourceGroupId }),
      ),
    );
    expect(error.code).toBe('StagingGroupUnauthorized');
    expect(error.hint).toContain(
      `grant Contributor to the build identity ${h.world.buildIdentity.id} on the staging resource group ${h.world.staging.unauthorizedResourceGroupId}`,
    );
    expect(error.hint).toContain('az role assignment create');
    assertNoSecrets(error, h.world);
    // second attempt: the failed template exists; it is not re-PUT (immutable) and the error stays actionable
    const again = await expectFactoryError(() =>
      h.ports
        .imageBuilder('eng')
        .createTemplate(
          spec(ref.name, { stagingResourceGroupId: h.world.staging.unauthorizedResourceGroupId }),
        ),
    );
    expect(['StagingGroupUnauthorized', 'Conflict']).toContain(again.code);
    const deleteError = await h.ports
      .imageBuilder('eng')
      .deleteTemplate(ref)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (deleteError !== undefined) expect(deleteError).toMatchObject({ code: 'StagingGroupUnauthorized' });
  });

  it('a failing customizer: the run fails and the customization.log tail is readable before delete', async () => {
    h.sim.failCustomizer({
      customizerName: 'broken-step',
      logLines: ['PACKER OUT step 1', 'PACKER ERR apt-get: unable to locate package foo', 'Build failed'],
    });
    const ref = {
      subscriptionId: h.world.eng.subscriptionId,
      resourceGroup: h.world.templateResourceGroup,
      name: 'it-golden-broken',
    };
    await provisionTemplate(
      h,
      'eng',
      spec(ref.name, {
        customizers: [{ type: 'Shell', name: 'broken-step', inline: ['apt-get install foo'] }],
        stagingResourceGroupId: undefined,
      }),
    );
    await h.ports.imageBuilder('eng').startRun(ref);
    for (let i = 0; i < 20; i += 1) {
      h.clock.advanceBy(15 * 60_000);
      if ((await h.ports.imageBuilder('eng').getTemplate(ref))?.lastRun?.runState !== 'Running') break;
    }
    expect((await h.ports.imageBuilder('eng').getTemplate(ref))?.lastRun?.runState).toBe('Failed');
    const log = await h.ports.imageBuilder('eng').readCustomizationLog(ref, 4);
    expect(log).toContain('PACKER ERR apt-get: unable to locate package foo');
    expect(log?.split('\n')).toHaveLength(4);
    expect(log).not.toContain('PACKER OUT step 1'.repeat(2));
    await h.ports.imageBuilder('eng').deleteTemplate(ref);
  });
});
