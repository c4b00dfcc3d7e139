import { ImageBuilderClient, type ImageTemplate } from '@azure/arm-imagebuilder';
import { ComputeManagementClient } from '@azure/arm-compute';
import { BlobClient, ContainerClient } from '@azure/storage-blob';
import { VirtualClock } from '../../src/shared/clock';
import { errorOf, startEnv, type Env } from './helpers';

describe('azure-sim: Azure VM Image Builder', () => {
  let env: Env;
  const clock = new VirtualClock();
  const buildMs = 60 * 60_000;
  beforeAll(async () => {
    env = await startEnv({ clock, durations: { buildMs, replicationPerRegionMs: 10 * 60_000 } });
    const { world } = env;
    const compute = new ComputeManagementClient(
      env.factoryCredential(),
      world.eng.subscriptionId,
      env.clientOptions(),
    );
    await compute.galleryImages.createOrUpdate(
      world.eng.galleryResourceGroup,
      world.eng.galleryName,
      'ubuntu',
      {
        location: 'westeurope',
        osType: 'Linux',
        osState: 'Generalized',
        hyperVGeneration: 'V2',
        identifier: { publisher: 'c', offer: 'u', sku: '1' },
      },
      { updateIntervalInMs: 1 },
    );
  });
  afterAll(async () => {
    await env.sim.stop();
  });

  const client = () =>
    new ImageBuilderClient(env.factoryCredential(), env.world.eng.subscriptionId, env.clientOptions());
  const template = (over: Partial<ImageTemplate> = {}, version = '1.0.0'): ImageTemplate => ({
    location: 'westeurope',
    identity: { type: 'UserAssigned', userAssignedIdentities: { [env.world.buildIdentity.id]: {} } },
    source: {
      type: 'PlatformImage',
      publisher: 'Canonical',
      offer: '0001-com-ubuntu-server-jammy',
      sku: '22_04-lts-gen2',
      version: 'latest',
    },
    customize: [{ type: 'Shell', name: 'harden', inline: ['echo ok'] }],
    distribute: [
      {
        type: 'SharedImage',
        galleryImageId: `${env.world.eng.galleryId}/images/ubuntu/versions/${version}`,
        runOutputName: 'out',
        targetRegions: [
          { name: 'westeurope', replicaCount: 1 },
          { name: 'northeurope', replicaCount: 1 },
        ],
      },
    ],
    buildTimeoutInMinutes: 120,
    ...over,
  });
  const poll = { updateIntervalInMs: 1 };
  /** ARM accepts, the clock moves by Azure's duration of the operation, then the poller ends it. */
  async function settle<T>(poller: { submitted(): Promise<void> } & PromiseLike<T>, ms: number): Promise<T> {
    await poller.submitted();
    clock.advanceBy(ms);
    return await poller;
  }
  const createTemplate = (
    ...args: Parameters<ImageBuilderClient['virtualMachineImageTemplates']['createOrUpdate']>
  ) => settle(client().virtualMachineImageTemplates.createOrUpdate(...args), 30_000);
  const deleteTemplate = (
    ...args: Parameters<ImageBuilderClient['virtualMachineImageTemplates']['delete']>
  ) => settle(client().virtualMachineImageTemplates.delete(...args), 77_000);

  test('create → run → phases on the clock → version in the ENG gallery → delete removes staging', async () => {
    const { world, sim } = env;
    const rg = world.templateResourceGroup;
    await createTemplate(rg, 'it-ok', template(), poll);
    const staging = sim
      .inventory()
      .filter((r) => r.type === 'microsoft.resources/resourcegroups' && r.id.includes('IT_'));
    expect(staging).toHaveLength(1);
    // default staging: both staging fields answer "" until the run names the group
    const before = await client().virtualMachineImageTemplates.get(rg, 'it-ok');
    expect([before.stagingResourceGroup, before.exactStagingResourceGroup]).toEqual(['', '']);
    await client().virtualMachineImageTemplates.run(rg, 'it-ok', poll);
    expect((await client().virtualMachineImageTemplates.get(rg, 'it-ok')).exactStagingResourceGroup).toMatch(
      /\/resourceGroups\/IT_/,
    );
    const status = async () => (await client().virtualMachineImageTemplates.get(rg, 'it-ok')).lastRunStatus;
    expect((await status())?.runSubState).toBe('Queued');
    clock.advanceBy(buildMs * 0.4);
    expect(await status()).toMatchObject({ runState: 'Running', runSubState: 'Customizing' });
    expect(sim.runningImageBuilds()).toEqual([
      expect.objectContaining({ templateId: expect.stringMatching(/\/imageTemplates\/it-ok$/i) }),
    ]);
    expect(
      sim.inventory().some((r) => r.type === 'microsoft.compute/virtualmachines' && r.id.includes('IT_')),
    ).toBe(true);
    clock.advanceBy(buildMs * 0.6);
    expect(await status()).toMatchObject({ runState: 'Succeeded' });
    expect(sim.runningImageBuilds()).toEqual([]);
    const out = await client().virtualMachineImageTemplates.getRunOutput(rg, 'it-ok', 'out');
    expect(out.artifactId).toBe(`${world.eng.galleryId}/images/ubuntu/versions/1.0.0`);
    const compute = new ComputeManagementClient(
      env.factoryCredential(),
      world.eng.subscriptionId,
      env.clientOptions(),
    );
    const v = await compute.galleryImageVersions.get(
      world.eng.galleryResourceGroup,
      world.eng.galleryName,
      'ubuntu',
      '1.0.0',
      { expand: 'ReplicationStatus' },
    );
    // ARM answers display names, whatever the request said
    expect(v.replicationStatus?.summary?.map((s) => [s.region, s.state])).toEqual([
      ['West Europe', 'Completed'],
      ['North Europe', 'Completed'],
    ]);
    expect(v.publishingProfile?.targetRegions?.map((r) => r.name)).toEqual(['West Europe', 'North Europe']);
    await deleteTemplate(rg, 'it-ok', poll);
    expect(sim.inventory().filter((r) => r.id.includes('IT_'))).toEqual([]);
  });

  test('custom staging group without Contributor: create fails Unauthorized, re-PUT conflicts, delete blocked until granted', async () => {
    const { world, sim } = env;
    const rg = world.templateResourceGroup;
    const body = template({ stagingResourceGroup: world.staging.unauthorizedResourceGroupId }, '1.0.1');
    const err = await errorOf(createTemplate(rg, 'it-staging', body, poll));
    expect(err.message).toContain(
      `Not authorized to access the resource: ${world.staging.unauthorizedResourceGroupId}. Please check the user assigned identity has the correct permissions. For more details, go to https://aka.ms/azvmimagebuilderts.`,
    );
    const again = await errorOf(createTemplate(rg, 'it-staging', body, poll));
    expect(again.statusCode).toBe(409);
    expect(again.message).toContain('Update/Upgrade of image templates is currently not supported');
    const del = await errorOf(deleteTemplate(rg, 'it-staging', poll));
    expect(del.code).toBe('Unauthorized');
    sim.assignRole({
      principalId: world.buildIdentity.principalId,
      role: 'Contributor',
      scope: world.staging.unauthorizedResourceGroupId,
    });
    await deleteTemplate(rg, 'it-staging', poll);
    expect(sim.inventory().some((r) => r.id.endsWith('/it-staging'))).toBe(false);
  });

  test('nested properties are dropped by the SDK and rejected by the service; the request log shows it', async () => {
    const { world, sim } = env;
    const bad = {
      location: 'westeurope',
      identity: template().identity,
      properties: template(),
    } as unknown as ImageTemplate;
    const err = await errorOf(createTemplate(world.templateResourceGroup, 'it-nested', bad, poll));
    expect(err.statusCode).toBe(400);
    // Image Builder's validation text (danielsollondon/azvmimagebuilder#39)
    expect(err.message).toBe(
      "Validation failed: 'ImageTemplate': Missing field 'properties'. Please review http://aka.ms/azvmimagebuildertmplref for details on fields required in the Image Builder Template.",
    );
    const rec = sim
      .requests()
      .filter((r) => r.path.endsWith('/it-nested'))
      .pop();
    expect(rec?.body).not.toHaveProperty('properties');
  });

  test('failing customizer → Failed at Customizing with a readable customization.log', async () => {
    const { world, sim } = env;
    sim.failCustomizer({ customizerName: 'broken', logLines: ['E: Unable to locate package nope'] });
    const rg = world.templateResourceGroup;
    await createTemplate(
      rg,
      'it-fail',
      template({ customize: [{ type: 'Shell', name: 'broken', inline: ['apt-get install nope'] }] }, '1.0.2'),
      poll,
    );
    await client().virtualMachineImageTemplates.run(rg, 'it-fail', poll);
    clock.advanceBy(buildMs);
    const st = (await client().virtualMachineImageTemplates.get(rg, 'it-fail')).lastRunStatus;
    expect(st).toMatchObject({ runState: 'Failed', runSubState: 'Customizing' });
    const url = /Image Build log location: (\S+)\./.exec(st?.message ?? '')?.[1] ?? '';
    // StoragePipelineOptions does not declare tlsOptions, but the pipeline honours it (per-client trust).
    const blob = new BlobClient(url, env.factoryCredential(), {
      tlsOptions: { ca: sim.ca },
      retryOptions: { maxTries: 1 },
    } as never);
    const text = (await blob.downloadToBuffer()).toString();
    expect(text).toContain('E: Unable to locate package nope');
    // A token of another tenant: Storage's 401 keeps its generic message and names the reason in
    // AuthenticationErrorDetail (Azure/azure-sdk-for-java#24926, Azure/azure-sdk-for-net#10529).
    const foreign = new ContainerClient(
      url.split('/').slice(0, 4).join('/'),
      env.secretCredential(world.test.tenantId),
      { tlsOptions: { ca: sim.ca }, retryOptions: { maxTries: 1 } } as never,
    );
    const refused = (await foreign
      .listBlobsFlat()
      .next()
      .catch((e: unknown) => e)) as {
      statusCode?: number;
      code?: string;
      message?: string;
      details?: { authenticationErrorDetail?: string };
    };
    expect(refused).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationInfo' });
    expect(refused.message).toContain(
      'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
    );
    expect(refused.details?.authenticationErrorDetail).toBe(
      'Issuer validation failed. Issuer did not match.',
    );
  });

  test("defect 6: join rights on the VNET only are refused; Image Builder checks the VNET's resource group", async () => {
    const { world } = env;
    const subnetId = world.buildNetwork.subnetOnlyGrantSubnetId;
    const vnetGroup = subnetId.split('/').slice(0, 5).join('/');
    const e = await errorOf(
      createTemplate(
        world.templateResourceGroup,
        'it-subnet-only',
        template({ vmProfile: { vmSize: 'Standard_D2s_v5', vnetConfig: { subnetId } } }, '1.0.9'),
        poll,
      ),
    );
    expect(e.message).toContain('Please check the user assigned identity has the correct permissions');
    expect(e.message).toContain(vnetGroup);
    // infra's own build subnet (join rights on its VNET's group) is accepted
    await createTemplate(
      world.templateResourceGroup,
      'it-subnet-group',
      template(
        {
          vmProfile: { vmSize: 'Standard_D2s_v5', vnetConfig: { subnetId: world.buildNetwork.goodSubnetId } },
        },
        '1.0.10',
      ),
      poll,
    );
  });

  test('VNET checks: policies Enabled, other region, missing load-balancer NSG rule', async () => {
    const { world } = env;
    const rg = world.templateResourceGroup;
    const withSubnet = (subnetId: string, v: string) =>
      template({ vmProfile: { vmSize: 'Standard_D2s_v5', vnetConfig: { subnetId } } }, v);
    const e1 = await errorOf(
      createTemplate(rg, 'it-vnet1', withSubnet(world.buildNetwork.policiesEnabledSubnetId, '1.0.3'), poll),
    );
    expect(e1.message).toContain('Private link service network policies must be disabled');
    const e2 = await errorOf(
      createTemplate(rg, 'it-vnet2', withSubnet(world.buildNetwork.otherRegionSubnetId, '1.0.4'), poll),
    );
    expect(e2.message).toContain('same region');
    await createTemplate(
      rg,
      'it-vnet3',
      withSubnet(world.buildNetwork.noLoadBalancerRuleSubnetId, '1.0.5'),
      poll,
    );
    await client().virtualMachineImageTemplates.run(rg, 'it-vnet3', poll);
    clock.advanceBy(buildMs);
    expect((await client().virtualMachineImageTemplates.get(rg, 'it-vnet3')).lastRunStatus).toMatchObject({
      runState: 'Failed',
      runSubState: 'Building',
    });
    await createTemplate(rg, 'it-vnet4', withSubnet(world.buildNetwork.goodSubnetId, '1.0.6'), poll);
  });

  test('faults are seeded: the same seed gives the same sequence', async () => {
    const { world, sim } = env;
    const run = async () => {
      sim.setFaults({ rate: 0.5, kinds: ['500', '429'], retryAfterSeconds: 0 });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push(
          (
            await errorOf(
              client().virtualMachineImageTemplates.get(world.templateResourceGroup, 'nope'),
            ).catch(() => ({ statusCode: 0 }))
          ).statusCode ?? 0,
        );
      sim.setFaults(undefined);
      return statuses;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([404, 500, 429]));
  });
});
