/**
 * A realistic three-tenant world (ENG → TEST → PROD) seeded into a simulator, with every fact tests
 * need returned as data. Deterministic: same simulator seed → same ids (secrets excepted).
 *
 * The world is what `azd up` (infra/main.bicep) deploys for the environment `imgfactory`, plus the
 * documented onboarding steps (./onboarding.ts). ARM access comes only from infra/access.json
 * (./access.ts) and those steps; resources and grants that exist only to stage a pitfall for a test
 * are marked TEST-ONLY below and listed in `testOnlyGrants`.
 */
import { addEventGridTopic } from './eventgrid';
import { addDurableTaskScheduler, type SimDurableTaskScheduler } from './durabletask';
import { randomBytes } from 'node:crypto';
import abbreviations from '../../../infra/abbreviations.json';
import type { AzureSimulator } from './api';
import {
  deployAccess,
  loadInfraAccess,
  removeAccess,
  type AccessDescription,
  type DeployedAccess,
  type Grant,
} from './access';
import { createMultiTenantApp, onboardStageTenant, registerProviders } from './onboarding';

export interface TenantFacts {
  tenantId: string;
  displayName: string;
  subscriptionId: string;
  /** Primary (build) region. */
  location: string;
  /** Extra replication / target regions. */
  extraRegions: string[];
  galleryResourceGroup: string;
  galleryName: string;
  galleryId: string;
  /** The factory app's service principal (object id) in this tenant (in ENG only the auxiliary-token source). */
  factoryPrincipalId: string;
}

export interface StandardWorld {
  eng: TenantFacts;
  test: TenantFacts;
  prod: TenantFacts;
  /** Multi-tenant app the factory authenticates as (service principal in all three tenants). */
  factoryApp: {
    appId: string;
    displayName: string;
    clientSecret: string;
    certificatePem: string;
    privateKeyPem: string;
    /** certificate + private key in one PEM, as ClientCertificateCredential accepts it. */
    certificateWithKeyPem: string;
    /** issuer/subject of the federated credential that accepts the factory managed identity's token. */
    federatedCredential: { issuer: string; subject: string };
  };
  /** User-assigned identity AIB builds run as (ENG). */
  buildIdentity: { id: string; principalId: string; clientId: string; tenantId: string };
  /** infra/app/eventgrid.bicep's topic: resource id and publish endpoint (NOTIFICATIONS_TOPIC_ENDPOINT). */
  notificationsTopic: { id: string; endpoint: string };
  /** infra/app/durable-task-scheduler.bicep (durableBackend azureManaged): scheduler and task hub. */
  durableTaskScheduler: SimDurableTaskScheduler;
  /** The factory's own managed identity (ENG), attached to the simulated host as its default identity. */
  factoryIdentity: { id: string; principalId: string; clientId: string; tenantId: string };
  /** The azd environment name the world was deployed with (infra/main.bicep environmentName). */
  environmentName: string;
  /** ENG resource group for image templates (rg-<env>-templates). */
  templateResourceGroup: string;
  /** Resource group holding the identities, the ENG gallery and the build network (rg-<env>). */
  identityResourceGroup: string;
  staging: {
    /**
     * Prefix of the per-template staging groups (`<prefix><template name>`), as infra sets
     * BUILD_STAGING_RESOURCE_GROUP_PREFIX: the groups do not exist; Image Builder creates them.
     */
    resourceGroupPrefix: string;
    /** TEST-ONLY: pre-existing custom staging group where the build identity has Contributor. */
    goodResourceGroupId: string;
    /** TEST-ONLY pitfall: custom staging group where the build identity has NO role. */
    unauthorizedResourceGroupId: string;
  };
  /** Every assignment made from infra/access.json (ENG deployment and each onboarded tenant). */
  grants: Grant[];
  /** The deployments of infra/access.json (ENG, then TEST and PROD), for redeployAccess. */
  access: DeployedAccess[];
  /** Assignments that stage a test fixture and are not part of what infra grants. */
  testOnlyGrants: { why: string; principalId: string; role: string; scope: string }[];
  testVm: { resourceGroup: string; vnetId: string; subnetId: string; location: string };
  buildNetwork: {
    resourceGroup: string;
    vnetId: string;
    /** Policies Disabled, NSG allows AzureLoadBalancer → 60001/60000, build region, build identity may join. */
    goodSubnetId: string;
    /** privateLinkServiceNetworkPolicies Enabled. */
    policiesEnabledSubnetId: string;
    /** Good subnet but its NSG denies all inbound before any AzureLoadBalancer allow (build fails while running). */
    noLoadBalancerRuleSubnetId: string;
    /** A VNET/subnet in another region than the build. */
    otherRegionSubnetId: string;
    /** TEST-ONLY pitfall: no join right for the build identity, policies Enabled, NSG denies the load balancer. */
    threeProblemsSubnetId: string;
    /** TEST-ONLY pitfall: otherwise good, but the build identity's join right is on the VNET, not its resource group (defect 6). */
    subnetOnlyGrantSubnetId: string;
    otherRegion: string;
  };
  platformImages: {
    ubuntu: { publisher: string; offer: string; sku: string; versions: string[] };
    windows: { publisher: string; offer: string; sku: string; versions: string[] };
  };
  /** Managed image in the build region (ENG, template resource group). */
  managedImageId: string;
  /** Custom role (access.json imageBuilderDistributor) the build identity holds on the factory group. */
  imageCreationRoleId: string;
  roles: Record<
    | 'Owner'
    | 'Contributor'
    | 'Reader'
    | 'NetworkContributor'
    | 'ManagedIdentityOperator'
    | 'ComputeGallerySharingAdmin',
    string
  >;
}

export const BUILT_IN_ROLE_IDS = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  NetworkContributor: '4d97b98b-1d4f-4787-a291-c67834d212e7',
  ManagedIdentityOperator: 'f1a07417-d97a-45cb-824c-7a7467783830',
  ComputeGallerySharingAdmin: '1ef6a3be-d0ac-425d-8c01-acb62866290b',
} as const;

const TENANTS = {
  eng: {
    tenantId: '11111111-1111-4111-8111-111111111111',
    subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000001',
    displayName: 'Contoso Engineering',
  },
  test: {
    tenantId: '22222222-2222-4222-8222-222222222222',
    subscriptionId: 'bbbbbbbb-0000-4000-8000-000000000002',
    displayName: 'Contoso Test',
  },
  prod: {
    tenantId: '33333333-3333-4333-8333-333333333333',
    subscriptionId: 'cccccccc-0000-4000-8000-000000000003',
    displayName: 'Contoso Production',
  },
};

/** The azd environment name of the standard world (infra/main.bicep environmentName). */
export const WORLD_ENVIRONMENT_NAME = 'imgfactory';

export interface WorldOptions {
  /** The access description to deploy (default infra/access.json; the mutation test passes a changed copy). */
  access?: AccessDescription;
  environmentName?: string;
}

/** Names infra/main.bicep gives its resources (with infra/abbreviations.json). */
export function infraNames(environmentName: string) {
  const a = abbreviations;
  return {
    factoryGroup: `${a.resourceGroup}${environmentName}`,
    templateGroup: `${a.resourceGroup}${environmentName}-templates`,
    testGroup: `${a.resourceGroup}${environmentName}-tests`,
    stagingGroup: `${a.resourceGroup}${environmentName}-aib-staging`,
    /** BUILD_STAGING_RESOURCE_GROUP_PREFIX (main.bicep, usePerTemplateStagingGroups). */
    stagingGroupPrefix: `${a.resourceGroup}${environmentName}-aib-staging-`,
    factoryIdentity: `${a.userAssignedIdentity}${environmentName}-factory`,
    buildIdentity: `${a.userAssignedIdentity}${environmentName}-image-builder`,
    engGallery: `${a.computeGallery}${environmentName.replace(/-/g, '_')}_eng`,
    buildVnet: `${a.virtualNetwork}${environmentName}-build`,
    buildSubnet: `${a.subnet}build`,
    testSubnet: `${a.subnet}tests`,
    eventGridTopic: `${a.eventGridTopic}${environmentName}-builds`,
    // main.bicep names it from the resource token; the world has none, so the environment stands in
    durableTaskScheduler: `${a.durableTaskScheduler}${environmentName}`,
  };
}

export function createStandardWorld(sim: AzureSimulator, options: WorldOptions = {}): StandardWorld {
  const access = options.access ?? loadInfraAccess();
  const environmentName = options.environmentName ?? WORLD_ENVIRONMENT_NAME;
  const names = infraNames(environmentName);
  const location = 'westeurope';
  const extraRegions = ['northeurope', 'swedencentral'];
  const appId = 'f0000000-0000-4000-8000-00000000fac7';
  const clientSecret = `sim~${randomBytes(18).toString('base64url')}`;
  const cert = sim.spareClientCertificate;
  const testOnlyGrants: StandardWorld['testOnlyGrants'] = [];
  const testOnly = (why: string, principalId: string, role: string, scope: string) => {
    sim.assignRole({ principalId, role, scope });
    testOnlyGrants.push({ why, principalId, role, scope });
  };

  for (const stage of ['eng', 'test', 'prod'] as const) {
    const t = TENANTS[stage];
    sim.addTenant(t.tenantId, t.displayName);
    sim.addSubscription(t.tenantId, t.subscriptionId);
    registerProviders(sim, t.subscriptionId, stage === 'eng' ? 'eng' : 'stage');
  }
  const engTenant = TENANTS.eng.tenantId;
  const engSub = TENANTS.eng.subscriptionId;
  const subscriptionId = `/subscriptions/${engSub}`;

  // ---- azd up: infra/main.bicep in the ENG subscription
  const factoryRgId = sim.addResourceGroup(engSub, names.factoryGroup, location);
  const templateRgId = sim.addResourceGroup(engSub, names.templateGroup, location);
  const testRgId = sim.addResourceGroup(engSub, names.testGroup, location);

  const factoryIdentity = sim.addUserAssignedIdentity({
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: names.factoryIdentity,
    location,
  });
  sim.attachHostIdentity(factoryIdentity.clientId, true);
  const buildIdentity = sim.addUserAssignedIdentity({
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: names.buildIdentity,
    location,
  });
  const engGalleryId = sim.addGallery({
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: names.engGallery,
    location,
  });
  // app/network.bicep (buildNetwork.mode 'create'): one VNET, a build and a test subnet, an NSG
  // letting Azure's load balancer reach Image Builder's proxy VM on 60000/60001
  const lbAllow = [{ sourceAddressPrefix: 'AzureLoadBalancer', destinationPortRanges: ['60000-60001'] }];
  const vnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: names.buildVnet,
    location,
    subnets: [
      {
        name: names.buildSubnet,
        addressPrefix: '10.40.0.0/24',
        privateLinkServiceNetworkPolicies: 'Disabled',
        nsgInboundAllows: lbAllow,
      },
      {
        name: names.testSubnet,
        addressPrefix: '10.40.1.0/24',
        privateLinkServiceNetworkPolicies: 'Enabled',
        nsgInboundAllows: lbAllow,
      },
    ],
  });
  const testSubnetId = `${vnetId}/subnets/${names.testSubnet}`;

  // ---- deploy.md step 6: infra/scripts/create-multitenant-app.sh (before the ENG roles: the
  // app's ENG service principal is a parameter of main.bicep)
  const app = createMultiTenantApp(sim, {
    appId,
    displayName: 'image-factory',
    homeTenantId: engTenant,
    factoryIdentityPrincipalId: factoryIdentity.principalId,
    testOnlySecret: clientSecret,
    testOnlyCertificatePem: cert.certificatePem,
  });

  // infra/app/eventgrid.bicep: the notifications topic
  const topic = addEventGridTopic(sim, {
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: names.eventGridTopic,
    location,
  });

  // infra/app/durable-task-scheduler.bicep (main.bicep's default durableBackend, azureManaged)
  const scheduler = addDurableTaskScheduler(sim, {
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: names.durableTaskScheduler,
    taskHubName: 'ImageFactory',
    location,
  });

  // ---- infra/app/roles.bicep: the `eng` deployment of infra/access.json
  const engScopes = {
    eventGridTopic: topic.id,
    durableTaskScheduler: scheduler.id,
    engSubscription: subscriptionId,
    factoryGroup: factoryRgId,
    engGallery: engGalleryId,
    buildIdentity: buildIdentity.id,
    templateGroup: templateRgId,
    testGroup: testRgId,
    buildNetworkGroup: factoryRgId,
    buildSubnet: `${vnetId}/subnets/${names.buildSubnet}`,
    testNetworkGroup: factoryRgId,
    testSubnet: testSubnetId,
  };
  const engAccess = deployAccess(sim, access, 'eng', {
    roleNameSuffix: ` (${environmentName})`,
    assignableScope: subscriptionId,
    principals: {
      factory: factoryIdentity.principalId,
      build: buildIdentity.principalId,
      factoryAppEng: app.engPrincipalId,
    },
    scopes: engScopes,
  });
  const deployments = [engAccess];
  const grants = [...engAccess.grants];
  const distributor = grants.find((g) => g.entry === 'build-identity-distributor');

  // ---- docs/onboarding-a-tenant.md for TEST and PROD
  const facts: Partial<Record<'eng' | 'test' | 'prod', TenantFacts>> = {
    eng: {
      ...tenantFacts('eng', location, extraRegions),
      galleryResourceGroup: names.factoryGroup,
      galleryName: names.engGallery,
      galleryId: engGalleryId,
      factoryPrincipalId: app.engPrincipalId,
    },
  };
  for (const stage of ['test', 'prod'] as const) {
    const t = TENANTS[stage];
    const onboarded = onboardStageTenant(sim, access, {
      tenantId: t.tenantId,
      subscriptionId: t.subscriptionId,
      appId,
      stageName: stage === 'test' ? 'TEST' : 'PROD',
      environmentName,
      location,
    });
    deployments.push(onboarded.access);
    grants.push(...onboarded.access.grants);
    facts[stage] = {
      ...tenantFacts(stage, location, extraRegions),
      galleryResourceGroup: onboarded.galleryResourceGroup,
      galleryName: onboarded.galleryName,
      galleryId: onboarded.galleryId,
      factoryPrincipalId: onboarded.factoryPrincipalId,
    };
  }
  const eng = facts.eng as TenantFacts;

  // ---- TEST-ONLY fixtures (pitfalls and sources a user would bring)
  // Pre-existing custom staging groups, for the adapter and simulator tests of Image Builder's rules
  // for them (the factory itself gives each template a group that does not exist yet).
  const goodStaging = sim.addResourceGroup(engSub, names.stagingGroup, location);
  testOnly(
    'pre-existing custom staging group where the build identity has Contributor',
    buildIdentity.principalId,
    'Contributor',
    goodStaging,
  );
  // Not under the per-template prefix (rg-<env>-aib-staging-): those groups must not exist yet.
  const badStaging = sim.addResourceGroup(engSub, `${names.stagingGroup}noperm`, location);

  // A network team's VNETs with subnets that break Image Builder's rules, joined as infra grants
  // with buildNetwork.mode 'existing' (the build identity on the VNET's resource group).
  const networkRg = 'rg-network-team';
  const networkRgId = sim.addResourceGroup(engSub, networkRg, location);
  const pitfallVnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: networkRg,
    name: 'vnet-shared',
    location,
    subnets: [
      {
        name: 'snet-policies-enabled',
        addressPrefix: '10.10.2.0/24',
        privateLinkServiceNetworkPolicies: 'Enabled',
        nsgInboundAllows: lbAllow,
      },
      {
        name: 'snet-no-lb-rule',
        addressPrefix: '10.10.3.0/24',
        privateLinkServiceNetworkPolicies: 'Disabled',
        nsgInboundAllows: [{ sourceAddressPrefix: 'VirtualNetwork', destinationPortRanges: ['22'] }],
        // a locked-down NSG: without this custom deny, Azure's default AllowAzureLoadBalancerInBound lets AIB in
        nsgInboundDenies: [{ sourceAddressPrefix: '*', destinationPortRanges: ['*'] }],
      },
    ],
  });
  const otherRegion = 'northeurope';
  const otherVnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: networkRg,
    name: 'vnet-shared-ne',
    location: otherRegion,
    subnets: [
      {
        name: 'snet-build',
        addressPrefix: '10.20.1.0/24',
        privateLinkServiceNetworkPolicies: 'Disabled',
        nsgInboundAllows: lbAllow,
      },
    ],
  });
  const buildJoin = grants.find((g) => g.entry === 'build-identity-joins-build-network');
  if (buildJoin !== undefined)
    testOnly(
      "pitfall subnets, joined as infra grants with buildNetwork.mode 'existing'",
      buildIdentity.principalId,
      buildJoin.roleId,
      networkRgId,
    );

  // Three problems at once: nobody granted the build identity anything in this group.
  const lockedVnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: sim.addResourceGroup(engSub, 'rg-network-locked', location).split('/').pop() ?? '',
    name: 'vnet-locked',
    location,
    subnets: [
      {
        name: 'snet-locked',
        addressPrefix: '10.50.1.0/24',
        privateLinkServiceNetworkPolicies: 'Enabled',
        nsgInboundAllows: [],
        nsgInboundDenies: [{ sourceAddressPrefix: '*', destinationPortRanges: ['*'] }],
      },
    ],
  });
  // Defect 6: join rights below the VNET's resource group (infra granted them on the subnet; many
  // grant them on the VNET); Image Builder checks the resource group.
  const subnetGrantVnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: sim.addResourceGroup(engSub, 'rg-network-subnet-grant', location).split('/').pop() ?? '',
    name: 'vnet-subnet-grant',
    location,
    subnets: [
      {
        name: 'snet-build',
        addressPrefix: '10.60.1.0/24',
        privateLinkServiceNetworkPolicies: 'Disabled',
        nsgInboundAllows: lbAllow,
      },
    ],
  });
  if (buildJoin !== undefined)
    testOnly(
      'pitfall: join rights on the VNET, not its resource group (defect 6)',
      buildIdentity.principalId,
      buildJoin.roleId,
      subnetGrantVnetId,
    );

  const ubuntu = {
    publisher: 'Canonical',
    offer: '0001-com-ubuntu-server-jammy',
    sku: '22_04-lts-gen2',
    versions: ['22.04.202510150', '22.04.202511050', '22.04.202512010'],
  };
  const windows = {
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2022-datacenter-g2',
    versions: ['20348.4294.251010', '20348.4405.251105', '20348.4529.251210'],
  };
  for (const region of [location, ...extraRegions]) {
    for (const img of [ubuntu, windows]) {
      for (const version of img.versions)
        sim.addPlatformImageVersion({
          location: region,
          publisher: img.publisher,
          offer: img.offer,
          sku: img.sku,
          version,
        });
    }
  }
  // A user's managed image source, where the build identity may read it (factory group).
  const managedImageId = sim.addManagedImage({
    subscriptionId: engSub,
    resourceGroup: names.factoryGroup,
    name: 'img-ubuntu-base',
    location,
    osType: 'Linux',
  });

  return {
    eng,
    test: facts.test as TenantFacts,
    prod: facts.prod as TenantFacts,
    factoryApp: {
      appId,
      displayName: app.displayName,
      clientSecret,
      certificatePem: cert.certificatePem,
      privateKeyPem: cert.privateKeyPem,
      certificateWithKeyPem: `${cert.privateKeyPem.trim()}\n${cert.certificatePem.trim()}\n`,
      federatedCredential: app.federatedCredential,
    },
    buildIdentity,
    factoryIdentity,
    environmentName,
    templateResourceGroup: names.templateGroup,
    identityResourceGroup: names.factoryGroup,
    staging: {
      resourceGroupPrefix: names.stagingGroupPrefix,
      goodResourceGroupId: goodStaging,
      unauthorizedResourceGroupId: badStaging,
    },
    grants,
    access: deployments,
    testOnlyGrants,
    testVm: {
      resourceGroup: names.testGroup,
      vnetId,
      subnetId: testSubnetId,
      location,
    },
    buildNetwork: {
      resourceGroup: names.factoryGroup,
      vnetId,
      goodSubnetId: `${vnetId}/subnets/${names.buildSubnet}`,
      policiesEnabledSubnetId: `${pitfallVnetId}/subnets/snet-policies-enabled`,
      noLoadBalancerRuleSubnetId: `${pitfallVnetId}/subnets/snet-no-lb-rule`,
      otherRegionSubnetId: `${otherVnetId}/subnets/snet-build`,
      otherRegion,
      threeProblemsSubnetId: `${lockedVnetId}/subnets/snet-locked`,
      subnetOnlyGrantSubnetId: `${subnetGrantVnetId}/subnets/snet-build`,
    },
    platformImages: { ubuntu, windows },
    managedImageId,
    notificationsTopic: topic,
    durableTaskScheduler: scheduler,
    imageCreationRoleId: distributor?.roleId ?? '',
    roles: { ...BUILT_IN_ROLE_IDS },
  };
}

/**
 * Replaces the world's access with another description's (same targets), as redeploying infra
 * with it would: the mutation test uses it to judge one changed entry without a new world.
 */
export function redeployAccess(sim: AzureSimulator, world: StandardWorld, access: AccessDescription): void {
  world.access = world.access.map((deployed) => {
    removeAccess(sim, deployed);
    return deployAccess(sim, access, deployed.deployment, deployed.targets);
  });
  world.grants = world.access.flatMap((deployed) => deployed.grants);
}

function tenantFacts(stage: 'eng' | 'test' | 'prod', location: string, extraRegions: string[]) {
  const t = TENANTS[stage];
  return {
    tenantId: t.tenantId,
    displayName: t.displayName,
    subscriptionId: t.subscriptionId,
    location,
    extraRegions,
  };
}
