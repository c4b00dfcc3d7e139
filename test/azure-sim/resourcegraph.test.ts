/**
 * Simulated Azure Resource Graph through @azure/arm-resourcegraph and the ImageUsagePort adapter:
 * the one modelled query finds VMs and scale sets by the version they run, pages with $skipToken,
 * shows only what the caller can read (no 403), and refuses any other query, a bad subscription id
 * and an unpublished api-version with Azure's codes.
 */
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { imageUsageQuery } from '../../src/adapters/resourceGraph';
import { startHarness, type Harness } from '../adapters/helpers';
import { errorOf, startEnv, type Env } from './helpers';

describe('Resource Graph (simulator, SDK client)', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv();
  });
  afterAll(() => env.sim.stop());

  const versionId = (n: number) => `${env.world.eng.galleryId}/images/ubuntu/versions/1.0.${n}`;

  it('answers the modelled query with Azure’s response shape and pages with $skipToken', async () => {
    const { sim, world } = env;
    const sub = world.eng.subscriptionId;
    const vm = sim.addImageConsumer({
      subscriptionId: sub,
      resourceGroup: 'rg-apps',
      name: 'vm-a',
      location: world.eng.location,
      imageVersionId: versionId(1),
      kind: 'vm',
    });
    const vmss = sim.addImageConsumer({
      subscriptionId: sub,
      resourceGroup: 'rg-apps',
      name: 'vmss-a',
      location: world.eng.location,
      imageVersionId: versionId(1).toUpperCase(), // ARM ids compare case-insensitively
      kind: 'scaleSet',
    });
    sim.addImageConsumer({
      subscriptionId: sub,
      resourceGroup: 'rg-apps',
      name: 'vm-other',
      location: world.eng.location,
      imageVersionId: versionId(2),
      kind: 'vm',
    });
    const client = new ResourceGraphClient(env.factoryCredential(), env.clientOptions());
    const first = await client.resources({
      subscriptions: [sub],
      query: imageUsageQuery([versionId(1)]),
      options: { top: 1 },
    });
    expect(first).toMatchObject({ totalRecords: 2, count: 1, resultTruncated: 'false' });
    expect(first.skipToken).toEqual(expect.any(String));
    const second = await client.resources({
      subscriptions: [sub],
      query: imageUsageQuery([versionId(1)]),
      options: { top: 1, skipToken: first.skipToken },
    });
    expect(second).toMatchObject({ totalRecords: 2, count: 1 });
    expect(second.skipToken).toBeUndefined();
    const ids = [...(first.data as { id: string }[]), ...(second.data as { id: string }[])].map((r) => r.id);
    expect(ids.sort()).toEqual([vm, vmss].sort());
    expect(first.data).toEqual([
      expect.objectContaining({ imageId: versionId(1).toLowerCase(), type: expect.any(String) }),
    ]);
  });

  it('refuses a query it does not model as Azure refuses an invalid query (400 BadRequest, InvalidQuery)', async () => {
    const client = new ResourceGraphClient(env.factoryCredential(), env.clientOptions());
    const refused = await errorOf(
      client.resources({ subscriptions: [env.world.eng.subscriptionId], query: 'Resources | limit 5' }),
    );
    expect(refused).toMatchObject({ statusCode: 400, code: 'BadRequest' });
    expect(refused.message).toMatch(
      /^Please provide below info when asking for support: timestamp = \S+, correlationId = [0-9a-f-]{36}\.$/,
    );
    const notGuid = await errorOf(
      client.resources({ subscriptions: ['not-a-guid'], query: imageUsageQuery([versionId(1)]) }),
    );
    expect(notGuid).toMatchObject({ statusCode: 400, code: 'BadRequest' });
  });

  it('refuses an api-version Resource Graph never published, naming the published ones', async () => {
    // The SDK pins 2024-04-01; a policy on the wire changes it, as an older client would send.
    const client = new ResourceGraphClient(
      env.factoryCredential(),
      env.clientOptions({
        additionalPolicies: [
          {
            position: 'perCall',
            policy: {
              name: 'old-api-version',
              sendRequest: (req: { url: string }, next: (r: unknown) => Promise<unknown>) => {
                req.url = req.url.replace('api-version=2024-04-01', 'api-version=2020-01-01');
                return next(req);
              },
            },
          },
        ],
      }),
    );
    const refused = await errorOf(client.resources({ query: imageUsageQuery([versionId(1)]) }));
    expect(refused).toEqual({
      statusCode: 400,
      code: 'InvalidApiVersionParameter',
      message:
        "The api-version '2020-01-01' is invalid. The supported versions are '2024-04-01,2022-10-01,2021-03-01,2019-04-01'.",
    });
  });
});

describe('ImageUsagePort (adapter over the simulator)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('maps each version to the VMs and scale sets using it, and sees only what the credential can read', async () => {
    const { sim, world, ports } = h;
    const used = `${world.test.galleryId}/images/ubuntu/versions/2.0.0`;
    const unused = `${world.test.galleryId}/images/ubuntu/versions/1.0.0`;
    const vm = sim.addImageConsumer({
      subscriptionId: world.test.subscriptionId,
      resourceGroup: 'rg-apps',
      name: 'vm-app',
      location: world.test.location,
      imageVersionId: used,
      kind: 'vm',
    });
    const found = await ports
      .imageUsage('test')
      .usersOf({ subscriptionIds: [world.test.subscriptionId], versionIds: [used, unused] });
    expect([...found.entries()]).toEqual([[used.toLowerCase(), [vm]]]);
    // The ENG factory identity holds no read in the TEST tenant's subscription: Resource Graph shows
    // it nothing (no 403), which is why infra/access.json grants the usage reader per stage.
    const blind = await ports
      .imageUsage('eng')
      .usersOf({ subscriptionIds: [world.test.subscriptionId], versionIds: [used] });
    expect(blind.size).toBe(0);
  });

  it('refuses an id that is not a gallery image version before calling Azure', async () => {
    const before = h.sim.requests().length;
    await expect(
      h.ports
        .imageUsage('eng')
        .usersOf({ subscriptionIds: [h.world.eng.subscriptionId], versionIds: ["x' or 1==1"] }),
    ).rejects.toMatchObject({ code: 'InvalidImageVersionId' });
    expect(h.sim.requests().length).toBe(before);
  });
});
