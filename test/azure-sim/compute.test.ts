import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import {
  auxiliaryAuthenticationHeaderPolicy,
  type PipelineRequest,
  type SendRequest,
} from '@azure/core-rest-pipeline';
import { VirtualClock } from '../../src/shared/clock';
import { errorOf, startEnv, type Env } from './helpers';

describe('azure-sim: galleries, cross-tenant copy, VMs, network', () => {
  let env: Env;
  const clock = new VirtualClock();
  const replMs = 20 * 60_000;
  beforeAll(async () => {
    env = await startEnv({ clock, durations: { replicationPerRegionMs: replMs, vmCreateMs: 60_000 } });
  });
  afterAll(async () => {
    await env.sim.stop();
  });

  /** ARM accepts, the clock moves by the operation's duration, then the poller's first poll ends it. */
  async function settle<T>(poller: { submitted(): Promise<void> } & PromiseLike<T>, ms: number): Promise<T> {
    await poller.submitted();
    clock.advanceBy(ms);
    return await poller;
  }

  const compute = (tenant: 'eng' | 'test', aux?: string[]) => {
    const t = env.world[tenant];
    const policies = aux
      ? [
          {
            position: 'perCall' as const,
            policy: auxiliaryAuthenticationHeaderPolicy({
              credentials: aux.map((a) => env.secretCredential(a)),
              scopes: 'https://management.azure.com/.default',
            }),
          },
        ]
      : [];
    return new ComputeManagementClient(
      tenant === 'eng' ? env.factoryCredential() : env.secretCredential(t.tenantId),
      t.subscriptionId,
      env.clientOptions({ additionalPolicies: policies }),
    );
  };
  const imageDef = {
    location: 'westeurope',
    osType: 'Linux' as const,
    osState: 'Generalized' as const,
    hyperVGeneration: 'V2' as const,
    identifier: { publisher: 'contoso', offer: 'ubuntu', sku: '2204' },
  };

  test('version from a managed image replicates per region on the virtual clock', async () => {
    const { world } = env;
    const eng = compute('eng');
    await eng.galleryImages.createOrUpdate(
      world.eng.galleryResourceGroup,
      world.eng.galleryName,
      'ubuntu',
      imageDef,
      { updateIntervalInMs: 1 },
    );
    // The PUT's operation lasts as long as the replication: accepted now, awaited at the end.
    const put = eng.galleryImageVersions.createOrUpdate(
      world.eng.galleryResourceGroup,
      world.eng.galleryName,
      'ubuntu',
      '1.0.0',
      {
        location: 'westeurope',
        storageProfile: { source: { id: world.managedImageId } },
        publishingProfile: {
          targetRegions: [
            { name: 'westeurope', regionalReplicaCount: 1 },
            { name: 'northeurope', regionalReplicaCount: 1 },
          ],
        },
      },
      { updateIntervalInMs: 1 },
    );
    await put.submitted();
    const get = () =>
      eng.galleryImageVersions.get(world.eng.galleryResourceGroup, world.eng.galleryName, 'ubuntu', '1.0.0', {
        expand: 'ReplicationStatus',
      });
    let v = await get();
    expect(v.provisioningState).toBe('Creating');
    expect(v.replicationStatus?.summary?.map((s) => s.state)).toEqual(['Replicating', 'Replicating']);
    clock.advanceBy(replMs);
    v = await get();
    expect(v.replicationStatus?.summary?.map((s) => s.state)).toEqual(['Completed', 'Replicating']);
    clock.advanceBy(replMs);
    v = await get();
    expect(v.provisioningState).toBe('Succeeded');
    expect(v.replicationStatus?.aggregatedState).toBe('Completed');
    // the operation ended with the replication, and its result is the Succeeded version
    await expect(put).resolves.toMatchObject({ provisioningState: 'Succeeded' });
  });

  test('managed image in another region is rejected', async () => {
    const { world } = env;
    const err = await errorOf(
      compute('eng').galleryImageVersions.createOrUpdate(
        world.eng.galleryResourceGroup,
        world.eng.galleryName,
        'ubuntu',
        '1.0.1',
        { location: 'northeurope', storageProfile: { source: { id: world.managedImageId } } },
        { updateIntervalInMs: 1 },
      ),
    );
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('can only be used as the source in its own region');
  });

  test('cross-tenant copy needs the auxiliary token', async () => {
    const { world } = env;
    const sourceId = `${world.eng.galleryId}/images/ubuntu/versions/1.0.0`;
    const test = compute('test');
    await test.galleryImages.createOrUpdate(
      world.test.galleryResourceGroup,
      world.test.galleryName,
      'ubuntu',
      imageDef,
      { updateIntervalInMs: 1 },
    );
    const body = {
      location: 'westeurope',
      storageProfile: { source: { id: sourceId } },
      publishingProfile: { targetRegions: [{ name: 'westeurope', regionalReplicaCount: 1 }] },
    };
    const err = await errorOf(
      test.galleryImageVersions.createOrUpdate(
        world.test.galleryResourceGroup,
        world.test.galleryName,
        'ubuntu',
        '1.0.0',
        body,
        { updateIntervalInMs: 1 },
      ),
    );
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('LinkedAuthorizationFailed');
    // The linked subscription is in another tenant (Azure/azure-cli#30976 shows this form).
    expect(err.message).toContain(
      `however the current tenant '${world.test.tenantId}' is not authorized to access linked subscription '${world.eng.subscriptionId}'`,
    );
    const ok = await settle(
      compute('test', [world.eng.tenantId]).galleryImageVersions.createOrUpdate(
        world.test.galleryResourceGroup,
        world.test.galleryName,
        'ubuntu',
        '1.0.0',
        body,
        { updateIntervalInMs: 1 },
      ),
      replMs,
    );
    expect(ok.storageProfile?.source?.id).toBe(sourceId);
    const puts = env.sim
      .requests()
      .filter(
        (r) =>
          r.method === 'PUT' &&
          r.path.endsWith('/versions/1.0.0') &&
          r.path.includes(world.test.subscriptionId),
      );
    expect(puts.map((r) => [r.status, r.hadAuxiliaryHeader])).toEqual([
      [403, false],
      [201, true],
    ]);
  });

  test('VM from a replicated version; NIC and disk survive VM delete; run command output', async () => {
    const { world, sim } = env;
    const eng = compute('eng');
    const net = new NetworkManagementClient(
      env.factoryCredential(),
      world.eng.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    const [, , , , networkRg, , , , vnetName, , subnetName] =
      world.buildNetwork.policiesEnabledSubnetId.split('/');
    const subnet = await net.subnets.get(networkRg ?? '', vnetName ?? '', subnetName ?? '');
    expect(subnet.privateLinkServiceNetworkPolicies).toBe('Enabled');
    const nic = await net.networkInterfaces.beginCreateOrUpdateAndWait(
      world.testVm.resourceGroup,
      'nic-t1',
      { location: 'westeurope', ipConfigurations: [{ name: 'ip', subnet: { id: world.testVm.subnetId } }] },
      { updateIntervalInMs: 1 },
    );
    const imageVersionId = `${world.eng.galleryId}/images/ubuntu/versions/1.0.0`;
    const vmPut = eng.virtualMachines.createOrUpdate(
      world.testVm.resourceGroup,
      'vm-t1',
      {
        location: 'westeurope',
        hardwareProfile: { vmSize: 'Standard_D2s_v5' },
        storageProfile: { imageReference: { id: imageVersionId }, osDisk: { createOption: 'FromImage' } },
        osProfile: { computerName: 'vm-t1', adminUsername: 'azureuser', adminPassword: 'Sup3r-secret!' },
        networkProfile: { networkInterfaces: [{ id: nic.id }] },
      },
      { updateIntervalInMs: 1 },
    );
    await vmPut.submitted();
    expect(JSON.stringify(sim.requests())).not.toContain('Sup3r-secret!');
    sim.scriptRunCommand(({ script }) => ({
      exitCode: script.includes('fail') ? 3 : 0,
      stdout: 'hello',
      stderr: '',
    }));
    // The factory runs tests as managed Run Commands (infra grants runCommands/*, not the classic
    // runCommand action); this test of the classic API grants it itself.
    sim.assignRole({
      principalId: world.factoryIdentity.principalId,
      role: 'Virtual Machine Contributor',
      scope: `/subscriptions/${world.eng.subscriptionId}/resourceGroups/${world.testVm.resourceGroup}`,
    });
    await expect(
      eng.virtualMachines.runCommand(
        world.testVm.resourceGroup,
        'vm-t1',
        { commandId: 'RunShellScript', script: ['echo hi'] },
        { updateIntervalInMs: 1 },
      ),
    ).rejects.toMatchObject({ code: 'OperationNotAllowed' });
    clock.advanceBy(60_000);
    // the create operation ends with the VM Succeeded (never Creating after it)
    await expect(vmPut).resolves.toMatchObject({ provisioningState: 'Succeeded' });
    const res = await settle(
      eng.virtualMachines.runCommand(
        world.testVm.resourceGroup,
        'vm-t1',
        { commandId: 'RunShellScript', script: ['fail'] },
        { updateIntervalInMs: 1 },
      ),
      60_000,
    );
    expect(res.value?.[0]?.message).toContain('exit status=3');
    expect(res.value?.[0]?.message).toContain('[stdout]\nhello');
    // Windows: two "succeeded" statuses and no exit code anywhere, whatever the script returned;
    // each stream keeps only its last 4,096 bytes
    sim.scriptRunCommand(() => ({ exitCode: 3, stdout: 'x'.repeat(5000) + 'END', stderr: 'boom' }));
    const win = await settle(
      eng.virtualMachines.runCommand(
        world.testVm.resourceGroup,
        'vm-t1',
        { commandId: 'RunPowerShellScript', script: ['exit 3'] },
        { updateIntervalInMs: 1 },
      ),
      60_000,
    );
    expect(win.value?.map((v) => v.code)).toEqual([
      'ComponentStatus/StdOut/succeeded',
      'ComponentStatus/StdErr/succeeded',
    ]);
    expect(win.value?.[0]?.message).toHaveLength(4096);
    expect(win.value?.[0]?.message?.endsWith('END')).toBe(true);
    expect(win.value?.[1]?.message).toBe('boom');
    expect(JSON.stringify(win.value)).not.toMatch(/exit|\b3\b/i);
    // disk PATCH: tags replaced as a whole; the tag filter of the resource list then finds the disk
    const vmNow = await eng.virtualMachines.get(world.testVm.resourceGroup, 'vm-t1');
    const diskName = vmNow.storageProfile?.osDisk?.name ?? '';
    await eng.disks.update(
      world.testVm.resourceGroup,
      diskName,
      { tags: { a: '1', b: '2' } },
      { updateIntervalInMs: 1 },
    );
    await eng.disks.update(
      world.testVm.resourceGroup,
      diskName,
      { tags: { b: '3' } },
      { updateIntervalInMs: 1 },
    );
    expect((await eng.disks.get(world.testVm.resourceGroup, diskName)).tags).toEqual({ b: '3' });
    await settle(
      eng.virtualMachines.delete(world.testVm.resourceGroup, 'vm-t1', { updateIntervalInMs: 1 }),
      60_000,
    );
    const left = sim
      .inventory()
      .filter(
        (r) =>
          r.id.includes(world.testVm.resourceGroup) &&
          (r.type.endsWith('/disks') || r.type.endsWith('/networkinterfaces')),
      );
    expect(left.map((r) => r.type).sort()).toEqual([
      'microsoft.compute/disks',
      'microsoft.network/networkinterfaces',
    ]);
  });

  test('VM in a region the version is not replicated to fails', async () => {
    const { world } = env;
    const err = await errorOf(
      compute('eng').virtualMachines.createOrUpdate(
        world.testVm.resourceGroup,
        'vm-t2',
        {
          location: 'swedencentral',
          hardwareProfile: { vmSize: 'Standard_D2s_v5' },
          storageProfile: { imageReference: { id: `${world.eng.galleryId}/images/ubuntu/versions/1.0.0` } },
          osProfile: { computerName: 'x', adminUsername: 'u' },
          networkProfile: {
            networkInterfaces: [
              {
                id: `/subscriptions/${world.eng.subscriptionId}/resourceGroups/${world.testVm.resourceGroup}/providers/Microsoft.Network/networkInterfaces/nic-t1`,
              },
            ],
          },
        },
        { updateIntervalInMs: 1 },
      ),
    );
    expect(err.code).toBe('GalleryImageNotFound');
  });

  test('platform image versions list and api-version check', async () => {
    const { world } = env;
    const list = await compute('eng').virtualMachineImages.list(
      'westeurope',
      'Canonical',
      '0001-com-ubuntu-server-jammy',
      '22_04-lts-gen2',
    );
    expect(list.map((v) => v.name)).toEqual(world.platformImages.ubuntu.versions);
    const oldApi = {
      name: 'old-api',
      sendRequest: (req: PipelineRequest, next: SendRequest) =>
        // a Compute version from before galleries existed (their first is 2018-06-01)
        ((req.url = req.url.replace(/api-version=[^&]+/, 'api-version=2017-12-01')), next(req)),
    };
    const client = new ComputeManagementClient(
      env.factoryCredential(),
      world.eng.subscriptionId,
      env.clientOptions({ additionalPolicies: [{ position: 'perCall', policy: oldApi }] }),
    );
    const err = await errorOf(client.galleries.get(world.eng.galleryResourceGroup, world.eng.galleryName));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('InvalidApiVersionParameter');
    // ARM names every version it accepts for the type, newest (the SDK's) first
    expect(err.message).toMatch(
      /^The api-version '2017-12-01' is invalid\. The supported versions are '2025-12-03,2025-03-03,(\d{4}-\d\d-\d\d,)+2018-06-01'\.$/,
    );
  });

  test("refusals in Azure's words: a missing platform image version, a NIC without IP configurations", async () => {
    const { world } = env;
    // "(NotFound) Artifact: VMImage was not found." (ansible and az CLI reports of a missing image version)
    const missing = await errorOf(
      compute('eng').virtualMachineImages.get(
        'westeurope',
        'Canonical',
        '0001-com-ubuntu-server-jammy',
        '22_04-lts-gen2',
        '0.0.1',
      ),
    );
    expect(missing).toMatchObject({
      statusCode: 404,
      code: 'NotFound',
      message: 'Artifact: VMImage was not found.',
    });
    // "Network interface nimy must have one or more IP configurations." with code InvalidIPConfigCount
    // (F5Networks/f5-cloud-failover-extension#129 for the text)
    const net = new NetworkManagementClient(
      env.factoryCredential(),
      world.eng.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    const noIp = await errorOf(
      net.networkInterfaces.beginCreateOrUpdateAndWait(
        world.testVm.resourceGroup,
        'nic-no-ip',
        { location: 'westeurope', ipConfigurations: [] },
        { updateIntervalInMs: 1 },
      ),
    );
    expect(noIp).toMatchObject({
      statusCode: 400,
      code: 'InvalidIPConfigCount',
      message: 'Network interface nic-no-ip must have one or more IP configurations.',
    });
  });
});
