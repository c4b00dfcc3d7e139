import { startHarness, type Harness } from './helpers';

describe('access checks and network reads (real SDK → simulated Azure)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.stop());

  it('lists the role grants that apply to a principal at a scope, inherited ones included', async () => {
    const staging = h.world.staging.goodResourceGroupId;
    const grants = await h.ports.access('eng').listRoleGrants(h.world.buildIdentity.principalId, staging);
    expect(grants).toEqual([expect.objectContaining({ roleName: 'Contributor', scope: staging })]);
    const none = await h.ports
      .access('eng')
      .listRoleGrants(h.world.buildIdentity.principalId, h.world.staging.unauthorizedResourceGroupId);
    expect(none).toEqual([]);
    const inherited = await h.ports
      .access('eng')
      .listRoleGrants(h.world.eng.factoryPrincipalId, h.world.staging.goodResourceGroupId);
    expect(inherited.map((g) => g.roleName)).toEqual(expect.arrayContaining(['Contributor', 'Reader']));
    expect(inherited.every((g) => h.world.staging.goodResourceGroupId.startsWith(g.scope))).toBe(true);
    expect(inherited.find((g) => g.roleName === 'Reader')?.scope).toBe(
      `/subscriptions/${h.world.eng.subscriptionId}`,
    );
    const listCall = h.sim.requests().find((r) => r.operation.includes('roleAssignments'));
    expect(listCall?.apiVersion).toBeDefined();
  });

  it('reads a subnet with its region, private-link policy and NSG inbound allows', async () => {
    const good = await h.ports.network('eng').getSubnet(h.world.buildNetwork.goodSubnetId);
    expect(good).toMatchObject({
      id: h.world.buildNetwork.goodSubnetId,
      location: 'westeurope',
      privateLinkServiceNetworkPolicies: 'Disabled',
    });
    expect(good?.nsgInboundAllows).toContainEqual({
      sourceAddressPrefix: 'AzureLoadBalancer',
      destinationPortRanges: ['60000-60001'],
    });
    const enabled = await h.ports.network('eng').getSubnet(h.world.buildNetwork.policiesEnabledSubnetId);
    expect(enabled?.privateLinkServiceNetworkPolicies).toBe('Enabled');
    const other = await h.ports.network('eng').getSubnet(h.world.buildNetwork.otherRegionSubnetId);
    expect(other?.location).toBe(h.world.buildNetwork.otherRegion);
    const noLb = await h.ports.network('eng').getSubnet(h.world.buildNetwork.noLoadBalancerRuleSubnetId);
    expect(noLb?.nsgInboundAllows.some((a) => a.sourceAddressPrefix === 'AzureLoadBalancer')).toBe(false);
    await expect(
      h.ports.network('eng').getSubnet(`${h.world.buildNetwork.vnetId}/subnets/missing`),
    ).resolves.toBeUndefined();
  });

  it('getResource gives the location of groups, galleries and subnets; undefined when missing', async () => {
    await expect(h.ports.access('eng').getResource(h.world.eng.galleryId)).resolves.toEqual({
      id: h.world.eng.galleryId,
      location: 'westeurope',
    });
    await expect(
      h.ports.access('eng').getResource(h.world.buildNetwork.otherRegionSubnetId),
    ).resolves.toMatchObject({ location: 'northeurope' });
    await expect(h.ports.access('eng').getResource(`${h.world.eng.galleryId}x`)).resolves.toBeUndefined();
  });

  it('principal() names the identity for preflight messages', () => {
    expect(h.ports.principal('test')).toEqual({
      credential: 'test',
      tenantId: h.world.test.tenantId,
      principalId: h.world.test.factoryPrincipalId,
      displayName: expect.stringContaining('image-factory'),
    });
  });
});
