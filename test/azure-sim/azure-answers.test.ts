/**
 * Issue 13 item 8: what real Azure answers and the simulator now answers too (each assertion failed
 * against the simulator before): Retry-After from the operation kind, NIC create synchronous, a
 * VM's managedDisk.id only once its create completed, ARM's headers (ETag, x-ms-ratelimit-remaining-*,
 * azure-asyncnotification on VM writes), every published api-version accepted (Image Builder,
 * and Compute's galleries, VMs, images and disks), NIC and resource group delete's Retry-After.
 */
import { ImageBuilderClient } from '@azure/arm-imagebuilder';
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { PipelineRequest, SendRequest } from '@azure/core-rest-pipeline';
import { VirtualClock } from '../../src/shared/clock';
import { errorOf, startEnv, type Env } from './helpers';

describe('azure-sim answers as Azure does: operation timing, headers, api-versions', () => {
  let env: Env;
  const clock = new VirtualClock();
  /** Raw answers (status + headers) the SDK received, in order. */
  const answers: { method: string; url: string; status: number; headers: Record<string, string> }[] = [];
  const recorder = {
    name: 'record-answers',
    sendRequest: async (req: PipelineRequest, next: SendRequest) => {
      const res = await next(req);
      answers.push({ method: req.method, url: req.url, status: res.status, headers: res.headers.toJSON() });
      return res;
    },
  };
  beforeAll(async () => {
    env = await startEnv({ clock });
  });
  afterAll(async () => {
    await env.sim.stop();
  });
  const options = () =>
    env.clientOptions({ additionalPolicies: [{ position: 'perCall', policy: recorder }] });

  test('NIC create is synchronous; VM create: Retry-After 10, azure-asyncnotification, managedDisk.id only when Succeeded', async () => {
    const { world } = env;
    const credential = env.factoryCredential();
    const net = new NetworkManagementClient(credential, world.eng.subscriptionId, options());
    const compute = new ComputeManagementClient(credential, world.eng.subscriptionId, options());
    answers.length = 0;
    const nic = await net.networkInterfaces.beginCreateOrUpdateAndWait(
      world.testVm.resourceGroup,
      'nic-answers',
      { location: 'westeurope', ipConfigurations: [{ name: 'ip', subnet: { id: world.testVm.subnetId } }] },
      { updateIntervalInMs: 1 },
    );
    const nicPut = answers.find((a) => a.method === 'PUT');
    expect(nicPut?.status).toBe(201);
    expect(nicPut?.headers).not.toHaveProperty('azure-asyncoperation');
    expect(nicPut?.headers).not.toHaveProperty('location');
    expect(answers.filter((a) => a.url.includes('/operations/'))).toEqual([]);
    expect(nicPut?.headers['x-ms-ratelimit-remaining-subscription-writes']).toMatch(/^\d+$/);
    expect(nicPut?.headers.etag).toBeDefined();

    // a managed image as the VM's source keeps this test free of gallery replication
    const put = compute.virtualMachines.createOrUpdate(
      world.testVm.resourceGroup,
      'vm-answers',
      {
        location: 'westeurope',
        hardwareProfile: { vmSize: 'Standard_D2s_v5' },
        storageProfile: {
          imageReference: { id: world.managedImageId },
          osDisk: { createOption: 'FromImage' },
        },
        osProfile: { computerName: 'vm-answers', adminUsername: 'azureuser', adminPassword: 'Sup3r-secret!' },
        networkProfile: { networkInterfaces: [{ id: nic.id }] },
      },
      { updateIntervalInMs: 1 },
    );
    await put.submitted();
    const vmPut = answers.find((a) => a.method === 'PUT' && a.url.includes('/virtualMachines/'));
    expect(vmPut?.status).toBe(201);
    expect(vmPut?.headers['retry-after']).toBe('10');
    expect(vmPut?.headers['azure-asyncnotification']).toBe('Enabled');
    const during = await compute.virtualMachines.get(world.testVm.resourceGroup, 'vm-answers');
    expect(during.provisioningState).toBe('Creating');
    expect(during.storageProfile?.osDisk?.managedDisk?.id).toBeUndefined();
    const reads = answers.filter((a) => a.method === 'GET').pop();
    expect(reads?.headers['x-ms-ratelimit-remaining-subscription-reads']).toMatch(/^\d+$/);
    clock.advanceBy(2 * 60_000); // Azure: ~2 min
    const done = await put;
    expect(done.provisioningState).toBe('Succeeded');
    const after = await compute.virtualMachines.get(world.testVm.resourceGroup, 'vm-answers');
    expect(after.storageProfile?.osDisk?.managedDisk?.id).toMatch(/\/disks\//);
    // fields Azure's bodies carry
    expect(after.timeCreated).toBeInstanceOf(Date);
    expect(after.storageProfile?.osDisk).toMatchObject({ osType: 'Linux', diskSizeGB: 30 });
    expect(nic.dnsSettings).toEqual({ dnsServers: [], appliedDnsServers: [] });
    // defaults Azure answers (REST spec examples NetworkInterfaceCreate.json, VM create responses)
    expect(nic).toMatchObject({ enableAcceleratedNetworking: false, enableIPForwarding: false });
    expect(nic.vnetEncryptionSupported).toBe(false);
    expect(nic.ipConfigurations?.[0]?.privateIPAddressVersion).toBe('IPv4');
    expect(after.etag).toMatch(/^".+"$/);
    expect(after.storageProfile?.dataDisks).toEqual([]);
    expect(after.storageProfile?.osDisk?.caching).toBe('ReadWrite');
    expect(after.osProfile?.secrets).toEqual([]);
  });

  test('gallery image version PATCH: Updating for ~3 min with Retry-After 60; DELETE Retry-After 60', async () => {
    const { world } = env;
    const compute = new ComputeManagementClient(env.factoryCredential(), world.eng.subscriptionId, options());
    const rg = world.eng.galleryResourceGroup;
    const gallery = world.eng.galleryName;
    await compute.galleryImages.createOrUpdate(
      rg,
      gallery,
      'answers',
      {
        location: 'westeurope',
        osType: 'Linux',
        osState: 'Generalized',
        hyperVGeneration: 'V2',
        identifier: { publisher: 'contoso', offer: 'answers', sku: '1' },
      },
      { updateIntervalInMs: 1 },
    );
    const create = compute.galleryImageVersions.createOrUpdate(
      rg,
      gallery,
      'answers',
      '1.0.0',
      {
        location: 'westeurope',
        storageProfile: { source: { id: world.managedImageId } },
        publishingProfile: { targetRegions: [{ name: 'westeurope', regionalReplicaCount: 1 }] },
      },
      { updateIntervalInMs: 1 },
    );
    await create.submitted();
    clock.advanceBy(60 * 60_000);
    await expect(create).resolves.toMatchObject({ provisioningState: 'Succeeded' });
    answers.length = 0;
    const patch = compute.galleryImageVersions.update(
      rg,
      gallery,
      'answers',
      '1.0.0',
      { tags: { a: '1' } },
      { updateIntervalInMs: 1 },
    );
    await patch.submitted();
    expect(answers.find((a) => a.method === 'PATCH')?.headers['retry-after']).toBe('60');
    const version = () => compute.galleryImageVersions.get(rg, gallery, 'answers', '1.0.0');
    expect((await version()).provisioningState).toBe('Updating');
    clock.advanceBy(2 * 60_000);
    expect((await version()).provisioningState).toBe('Updating');
    clock.advanceBy(60_000);
    expect((await version()).provisioningState).toBe('Succeeded');
    await patch;
    const del = compute.galleryImageVersions.delete(rg, gallery, 'answers', '1.0.0', {
      updateIntervalInMs: 1,
    });
    await del.submitted();
    expect(answers.find((a) => a.method === 'DELETE')?.headers['retry-after']).toBe('60');
    expect((await version()).provisioningState).toBe('Deleting');
    clock.advanceBy(90_000);
    await del;
    expect((await errorOf(version())).statusCode).toBe(404);
  });

  test('Image Builder: every published api-version is accepted; an unpublished one is refused', async () => {
    const { world } = env;
    const withApiVersion = (version: string) => ({
      name: `api-${version}`,
      sendRequest: (req: PipelineRequest, next: SendRequest) => (
        (req.url = req.url.replace(/api-version=[^&]+/, `api-version=${version}`)),
        next(req)
      ),
    });
    const templates = (version: string) =>
      new ImageBuilderClient(
        env.factoryCredential(),
        world.eng.subscriptionId,
        env.clientOptions({ additionalPolicies: [{ position: 'perCall', policy: withApiVersion(version) }] }),
      ).virtualMachineImageTemplates;
    for (const version of ['2020-02-14', '2022-07-01', '2024-02-01', '2025-10-01']) {
      const missing = await errorOf(templates(version).get(world.templateResourceGroup, 'no-such-template'));
      expect([version, missing.statusCode]).toEqual([version, 404]); // served, not refused
    }
    const refused = await errorOf(
      templates('2019-05-01-preview').get(world.templateResourceGroup, 'no-such-template'),
    );
    expect(refused.code).toBe('InvalidApiVersionParameter');
    expect(refused.message).toContain('2024-02-01');
  });

  test('Compute: every published api-version of galleries, VMs, images and disks is accepted; an unpublished one is refused', async () => {
    const { world } = env;
    const withApiVersion = (version: string) => ({
      name: `api-${version}`,
      sendRequest: (req: PipelineRequest, next: SendRequest) => (
        (req.url = req.url.replace(/api-version=[^&]+/, `api-version=${version}`)),
        next(req)
      ),
    });
    const compute = (version: string) =>
      new ComputeManagementClient(
        env.factoryCredential(),
        world.eng.subscriptionId,
        env.clientOptions({ additionalPolicies: [{ position: 'perCall', policy: withApiVersion(version) }] }),
      );
    const rg = world.testVm.resourceGroup;
    const galleryRg = world.eng.galleryResourceGroup;
    const gallery = world.eng.galleryName;
    // versions from the Compute readme's package tags (azure-rest-api-specs), older than the SDK's
    const served = [
      [
        'gallery',
        '2022-03-03',
        () => compute('2022-03-03').galleryImages.get(galleryRg, gallery, 'no-such-image'),
      ],
      [
        'gallery',
        '2019-12-01',
        () => compute('2019-12-01').galleryImages.get(galleryRg, gallery, 'no-such-image'),
      ],
      ['vm', '2023-03-01', () => compute('2023-03-01').virtualMachines.get(rg, 'no-such-vm')],
      ['vm', '2020-06-01', () => compute('2020-06-01').virtualMachines.get(rg, 'no-such-vm')],
      ['image', '2024-07-01', () => compute('2024-07-01').images.get(rg, 'no-such-image')],
      ['disk', '2023-04-02', () => compute('2023-04-02').disks.get(rg, 'no-such-disk')],
    ] as const;
    for (const [what, version, call] of served) {
      const missing = await errorOf(call());
      expect([what, version, missing.statusCode]).toEqual([what, version, 404]); // served, not refused
    }
    // a date that was never published, and a galleries version used for a VM
    for (const [version, call] of [
      ['2023-02-30', () => compute('2023-02-30').virtualMachines.get(rg, 'no-such-vm')],
      ['2024-03-03', () => compute('2024-03-03').virtualMachines.get(rg, 'no-such-vm')],
    ] as const) {
      const refused = await errorOf(call());
      expect([version, refused.statusCode, refused.code]).toEqual([
        version,
        400,
        'InvalidApiVersionParameter',
      ]);
      expect(refused.message).toContain('2026-04-01');
    }
  });

  test("Network and Resources: published api-versions older than the SDK's are accepted", async () => {
    const { world } = env;
    const withApiVersion = (version: string) => ({
      additionalPolicies: [
        {
          position: 'perCall',
          policy: {
            name: `api-${version}`,
            sendRequest: (req: PipelineRequest, next: SendRequest) => (
              (req.url = req.url.replace(/api-version=[^&]+/, `api-version=${version}`)),
              next(req)
            ),
          },
        },
      ],
    });
    const rg = world.testVm.resourceGroup;
    const net = (version: string) =>
      new NetworkManagementClient(
        env.factoryCredential(),
        world.eng.subscriptionId,
        env.clientOptions(withApiVersion(version)),
      );
    const resources = (version: string) =>
      new ResourceManagementClient(
        env.factoryCredential(),
        world.eng.subscriptionId,
        env.clientOptions(withApiVersion(version)),
      );
    for (const version of ['2022-01-01', '2021-05-01']) {
      const missing = await errorOf(net(version).networkInterfaces.get(rg, 'no-such-nic'));
      expect([version, missing.statusCode]).toEqual([version, 404]);
    }
    for (const version of ['2022-09-01', '2021-04-01', '2019-08-01']) {
      const group = await resources(version).resourceGroups.get(rg);
      expect([version, group.name]).toEqual([version, rg]);
    }
    const refused = await errorOf(resources('2019-02-30').resourceGroups.get(rg));
    expect([refused.statusCode, refused.code]).toEqual([400, 'InvalidApiVersionParameter']);
  });

  test('NIC delete answers Retry-After 10 s, resource group delete 15 s (recorded traffic)', async () => {
    const { world } = env;
    const credential = env.factoryCredential();
    const net = new NetworkManagementClient(credential, world.eng.subscriptionId, options());
    await net.networkInterfaces.beginCreateOrUpdateAndWait(
      world.testVm.resourceGroup,
      'nic-delete-answers',
      { location: 'westeurope', ipConfigurations: [{ name: 'ip', subnet: { id: world.testVm.subnetId } }] },
      { updateIntervalInMs: 1 },
    );
    answers.length = 0;
    await net.networkInterfaces.beginDelete(world.testVm.resourceGroup, 'nic-delete-answers', {
      updateIntervalInMs: 1,
    });
    const nicDelete = answers.find((a) => a.method === 'DELETE');
    expect(nicDelete?.status).toBe(202);
    expect(nicDelete?.headers['retry-after']).toBe('10');

    // a group this test may delete (TEST-ONLY grant: the factory never deletes resource groups)
    const groupId = env.sim.addResourceGroup(world.eng.subscriptionId, 'rg-answers-delete', 'westeurope');
    env.sim.assignRole({
      principalId: world.factoryIdentity.principalId,
      role: 'Contributor',
      scope: groupId,
    });
    const resources = new ResourceManagementClient(credential, world.eng.subscriptionId, options());
    answers.length = 0;
    const del = resources.resourceGroups.delete('rg-answers-delete', { updateIntervalInMs: 1 });
    await del.submitted();
    const rgDelete = answers.find((a) => a.method === 'DELETE');
    expect(rgDelete?.status).toBe(202);
    expect(rgDelete?.headers['retry-after']).toBe('15');
    expect(rgDelete?.headers['x-ms-ratelimit-remaining-subscription-deletes']).toMatch(/^\d+$/);
    clock.advanceBy(15_000);
    await del;
    expect((await errorOf(resources.resourceGroups.get('rg-answers-delete'))).statusCode).toBe(404);
  });
});
