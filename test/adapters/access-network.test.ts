import { useHarness } from './helpers';

describe('access checks and network reads (real SDK → simulated Azure)', () => {
  const h = useHarness();

  it('lists the role grants that apply to a principal at a scope, inherited ones included', async () => {
    const staging = h.world.staging.goodResourceGroupId;
    const grants = await h.ports.access('eng').listRoleGrants(h.world.buildIdentity.principalId, staging);
    expect(grants).toEqual([expect.objectContaining({ roleName: 'Contributor', scope: staging })]);
    const none = await h.ports
      .access('eng')
      .listRoleGrants(h.world.buildIdentity.principalId, h.world.staging.unauthorizedResourceGroupId);
    expect(none).toEqual([]);
    // The factory's roles on the template group: the one assigned there and the two at the
    // subscription (infra/access.json), nothing else.
    const templateGroup = `/subscriptions/${h.world.eng.subscriptionId}/resourceGroups/${h.world.templateResourceGroup}`;
    const inherited = await h.ports
      .access('eng')
      .listRoleGrants(h.world.factoryIdentity.principalId, templateGroup);
    expect(inherited.map((g) => `${g.roleName} @ ${g.scope}`).sort()).toEqual([
      `Image Factory Build Log Reader (imgfactory) @ /subscriptions/${h.world.eng.subscriptionId}`,
      `Image Factory Image Usage Reader (imgfactory) @ /subscriptions/${h.world.eng.subscriptionId}`,
      `Image Factory Preflight Reader (imgfactory) @ /subscriptions/${h.world.eng.subscriptionId}`,
      `Image Factory Template Operator (imgfactory) @ ${templateGroup}`,
    ]);
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

  it('getResource gives the location of groups, images and subnets; undefined when missing', async () => {
    await expect(h.ports.access('eng').getResource(h.world.managedImageId)).resolves.toEqual({
      id: h.world.managedImageId,
      location: 'westeurope',
    });
    await expect(
      h.ports.access('eng').getResource(h.world.buildNetwork.otherRegionSubnetId),
    ).resolves.toMatchObject({ location: 'northeurope' });
    // A missing resource where the factory may read: NotFound → undefined (elsewhere ARM answers 403 first).
    await expect(
      h.ports.access('eng').getResource(`${h.world.eng.galleryId}/images/missing`),
    ).resolves.toBeUndefined();
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
