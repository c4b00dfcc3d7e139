import {
  useHarness,
  imageDefinition,
  expectFactoryError,
  assertNoSecrets,
  deleteVmToEnd,
  runCommandToEnd,
} from './helpers';
import type { ImageDefinitionSpec, TenantFacts } from './types';

const IMAGE = 'ubuntu-2204-hardened';

describe('galleries, cross-tenant promotion and test VMs (real SDK → simulated Azure)', () => {
  const h = useHarness();

  const definition = (t: TenantFacts): ImageDefinitionSpec =>
    imageDefinition(
      t,
      IMAGE,
      { publisher: 'Contoso', offer: 'ubuntu', sku: '2204-hardened' },
      { securityType: 'TrustedLaunchSupported' },
    );
  const versionRef = (t: TenantFacts, version = '1.0.0') => ({
    subscriptionId: t.subscriptionId,
    resourceGroup: t.galleryResourceGroup,
    gallery: t.galleryName,
    image: IMAGE,
    version,
  });
  const versionId = (t: TenantFacts, version = '1.0.0'): string =>
    `${t.galleryId}/images/${IMAGE}/versions/${version}`;
  const regions = (t: TenantFacts) => [
    { name: t.location, replicaCount: 1, storageAccountType: 'Standard_LRS' as const },
  ];

  it('ensures image definitions in all three galleries (idempotent, PUT body flattened)', async () => {
    for (const [profile, t] of [
      ['eng', h.world.eng],
      ['test', h.world.test],
      ['prod', h.world.prod],
    ] as const) {
      await h.ports.galleries(profile).ensureImageDefinition(definition(t));
      await h.ports.galleries(profile).ensureImageDefinition(definition(t));
      await expect(h.ports.galleries(profile).getImageDefinition(definition(t))).resolves.toMatchObject({
        osType: 'Linux',
        hyperVGeneration: 'V2',
        securityType: 'TrustedLaunchSupported',
      });
    }
    const puts = h.sim
      .requests()
      .filter((r) => r.method === 'PUT' && r.operation === 'PUT Microsoft.Compute/galleries/images');
    expect(puts).toHaveLength(3); // second ensure looked first and did not PUT
    expect(puts[0]?.apiVersion).toBe('2025-12-03');
    expect(puts[0]?.body).toMatchObject({
      location: 'westeurope',
      properties: {
        osType: 'Linux',
        osState: 'Generalized',
        hyperVGeneration: 'V2',
        identifier: { publisher: 'Contoso' },
      },
    });
  });

  it('an existing definition with other properties is a Conflict naming the difference', async () => {
    const error = await expectFactoryError(() =>
      h.ports.galleries('eng').ensureImageDefinition({ ...definition(h.world.eng), hyperVGeneration: 'V1' }),
    );
    expect(error.code).toBe('Conflict');
    expect(error.message).toContain('hyperVGeneration is V2, wanted V1');
  });

  it('creates the ENG version from a managed image, then reads replication progress as the clock moves', async () => {
    const eng = h.world.eng;
    await h.ports.galleries('eng').beginCreateVersion({
      ...versionRef(eng),
      location: eng.location,
      source: { kind: 'managedImage', id: h.world.managedImageId },
      targetRegions: regions(eng),
      excludeFromLatest: true,
      tags: { build: 'b1' },
    });
    const put = h.sim
      .requests()
      .find((r) => r.operation === 'PUT Microsoft.Compute/galleries/images/versions');
    expect(put?.body).toMatchObject({
      properties: {
        storageProfile: { source: { id: h.world.managedImageId } },
        publishingProfile: {
          excludeFromLatest: true,
          targetRegions: [{ name: 'westeurope', regionalReplicaCount: 1 }],
        },
      },
    });
    // idempotent: same source → no second PUT
    await h.ports.galleries('eng').beginCreateVersion({
      ...versionRef(eng),
      location: eng.location,
      source: { kind: 'managedImage', id: h.world.managedImageId },
      targetRegions: regions(eng),
      excludeFromLatest: true,
      tags: { build: 'b1' },
    });
    expect(
      h.sim.requests().filter((r) => r.operation === 'PUT Microsoft.Compute/galleries/images/versions'),
    ).toHaveLength(1);
    h.clock.advanceBy(2 * 60 * 60_000);
    const info = await h.ports.galleries('eng').getVersion(versionRef(eng));
    expect(info).toMatchObject({
      id: versionId(eng),
      provisioningState: 'Succeeded',
      excludeFromLatest: true,
      tags: { build: 'b1' },
    });
    expect(info?.regions[0]).toMatchObject({
      name: expect.stringMatching(/west ?europe/i),
      state: 'Completed',
    });
  });

  it('copy ENG → TEST without the auxiliary token fails as CrossTenantTokenMissing with a hint', async () => {
    const t = h.world.test;
    const error = await expectFactoryError(() =>
      h.ports.galleries('test').beginCreateVersion({
        ...versionRef(t),
        location: t.location,
        source: { kind: 'galleryImageVersion', id: versionId(h.world.eng) },
        targetRegions: regions(t),
        excludeFromLatest: false,
        tags: {},
      }),
    );
    expect(error.code).toBe('CrossTenantTokenMissing');
    expect(error.hint).toMatch(/auxiliaryTenantIds/);
    assertNoSecrets(error, h.world);
  });

  it('copies ENG → TEST → PROD with the auxiliary header (sent on every request)', async () => {
    const { eng, test, prod } = h.world;
    await h.ports.galleries('test', { auxiliaryTenantIds: [eng.tenantId] }).beginCreateVersion({
      ...versionRef(test),
      location: test.location,
      source: { kind: 'galleryImageVersion', id: versionId(eng) },
      targetRegions: regions(test),
      excludeFromLatest: false,
      tags: { stage: 'test' },
    });
    h.clock.advanceBy(2 * 60 * 60_000);
    await expect(h.ports.galleries('test').getVersion(versionRef(test))).resolves.toMatchObject({
      provisioningState: 'Succeeded',
    });
    await h.ports.galleries('prod', { auxiliaryTenantIds: [test.tenantId] }).beginCreateVersion({
      ...versionRef(prod),
      location: prod.location,
      source: { kind: 'galleryImageVersion', id: versionId(test) },
      targetRegions: regions(prod),
      excludeFromLatest: false,
      tags: { stage: 'prod' },
    });
    h.clock.advanceBy(2 * 60 * 60_000);
    await expect(h.ports.galleries('prod').getVersion(versionRef(prod))).resolves.toMatchObject({
      provisioningState: 'Succeeded',
      tags: { stage: 'prod' },
    });
    const crossPuts = h.sim
      .requests()
      .filter(
        (r) =>
          r.operation === 'PUT Microsoft.Compute/galleries/images/versions' &&
          r.status < 300 &&
          r.path.includes(IMAGE) &&
          !r.path.includes(eng.subscriptionId),
      );
    expect(crossPuts).toHaveLength(2);
    expect(crossPuts.every((r) => r.hadAuxiliaryHeader)).toBe(true);
    const versions = await h.ports.galleries('prod').listVersions(versionRef(prod));
    expect(versions.map((v) => v.id)).toEqual([versionId(prod)]);
  });

  it('updateVersion merges tags and sets excludeFromLatest in one PATCH', async () => {
    await h.ports
      .galleries('prod')
      .updateVersion(versionRef(h.world.prod), { excludeFromLatest: true, tags: { approved: 'yes' } });
    await expect(h.ports.galleries('prod').getVersion(versionRef(h.world.prod))).resolves.toMatchObject({
      excludeFromLatest: true,
      tags: { stage: 'prod', approved: 'yes' },
    });
  });

  it('regions come back as display names ("West Europe"): compared by normalized name, a PATCH already applied is not sent again', async () => {
    const ref = versionRef(h.world.prod);
    const patches = () =>
      h.sim.requests().filter((r) => r.method === 'PATCH' && r.path.endsWith(`/versions/${ref.version}`))
        .length;
    const info = await h.ports.galleries('prod').getVersion(ref);
    expect(info?.regions.map((r) => r.name)).toEqual(['westeurope']);
    const before = patches();
    // the retry of an accepted PATCH (same values, region given as code) changes nothing
    await h.ports.galleries('prod').updateVersion(ref, {
      excludeFromLatest: true,
      tags: { approved: 'yes' },
      targetRegions: [{ name: 'westeurope', replicaCount: 1, storageAccountType: 'Standard_LRS' }],
    });
    expect(patches()).toBe(before);
  });

  it('lists platform image versions oldest first', async () => {
    const u = h.world.platformImages.ubuntu;
    await expect(
      h.ports.platformImages('eng').listVersions({
        subscriptionId: h.world.eng.subscriptionId,
        location: 'westeurope',
        publisher: u.publisher,
        offer: u.offer,
        sku: u.sku,
      }),
    ).resolves.toEqual(u.versions);
  });

  it('boots a test VM from the version, runs a command, deletes VM + NIC + disk, leaks nothing', async () => {
    const vm = {
      subscriptionId: h.world.eng.subscriptionId,
      resourceGroup: h.world.testVm.resourceGroup,
      name: 'vm-test-b1',
    };
    h.sim.scriptRunCommand(({ script }) => ({
      exitCode: script.includes('fail') ? 3 : 0,
      stdout: `ran: ${script}`,
      stderr: script.includes('fail') ? 'boom' : '',
    }));
    const spec = {
      ...vm,
      location: 'westeurope',
      imageVersionId: versionId(h.world.eng),
      subnetId: h.world.testVm.subnetId,
      vmSize: 'Standard_D2s_v5',
      osType: 'Linux' as const,
      securityType: 'TrustedLaunch' as const,
      tags: { 'image-factory-run': 'b1' },
    };
    await h.ports.testVms('eng').createVm(spec);
    await h.ports.testVms('eng').createVm(spec); // idempotent
    const vmPut = h.sim.requests().filter((r) => r.operation === 'PUT Microsoft.Compute/virtualMachines');
    expect(vmPut).toHaveLength(1);
    const bodyText = JSON.stringify(vmPut[0]?.body);
    expect(bodyText).toContain('"disablePasswordAuthentication":true');
    expect(bodyText).not.toMatch(/adminPassword/);
    const state = await h.ports.testVms('eng').getVm(vm);
    expect(state?.nicIds).toHaveLength(1);
    h.clock.advanceBy(5 * 60_000);
    await expect(
      runCommandToEnd(h, 'eng', vm, {
        shell: 'Shell',
        script: 'systemctl is-active sshd',
        timeoutSeconds: 60,
      }),
    ).resolves.toEqual({ exitCode: 0, stdout: 'ran: systemctl is-active sshd', stderr: '' });
    await expect(
      runCommandToEnd(h, 'eng', vm, { shell: 'Shell', script: 'fail now', timeoutSeconds: 60 }),
    ).resolves.toMatchObject({ exitCode: 3, stderr: 'boom' });
    await deleteVmToEnd(h, 'eng', vm);
    await expect(h.ports.testVms('eng').deleteVm(vm)).resolves.toEqual({ remaining: [] }); // idempotent
    await expect(h.ports.testVms('eng').getVm(vm)).resolves.toBeUndefined();
    const leftovers = h.sim.inventory().filter((r) => r.id.toLowerCase().includes('vm-test-b1'));
    expect(leftovers).toEqual([]);
    await expect(h.ports.testVms('eng').listTaggedResources(vm, 'image-factory-run', 'b1')).resolves.toEqual(
      [],
    );
  });

  it('deleteVersion removes versions and is a no-op when gone', async () => {
    for (const [profile, t] of [
      ['prod', h.world.prod],
      ['test', h.world.test],
      ['eng', h.world.eng],
    ] as const) {
      const deletes = () =>
        h.sim.requests().filter((r) => r.method === 'DELETE' && r.path.endsWith(versionId(t))).length;
      await h.ports.galleries(profile).deleteVersion(versionRef(t));
      await h.ports.galleries(profile).deleteVersion(versionRef(t)); // accepted already: no second DELETE
      expect(deletes()).toBe(1);
      h.clock.advanceBy(90_000); // Azure: ~1.5 min
      await expect(h.ports.galleries(profile).getVersion(versionRef(t))).resolves.toBeUndefined();
    }
    expect(h.sim.inventory().filter((r) => r.type.includes('versions'))).toEqual([]);
  });
});
