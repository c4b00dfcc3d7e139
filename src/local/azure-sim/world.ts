/**
 * A realistic three-tenant world (ENG → TEST → PROD) seeded into a simulator, with every fact tests
 * need returned as data. Deterministic: same simulator seed → same ids (secrets excepted).
 */
import { randomBytes } from 'node:crypto';
import type { AzureSimulator } from './api';
import { registeredProviders } from '../../domain/resource-providers';

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
  /** The factory app's service principal (object id) in this tenant. */
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
  /** The factory's own managed identity (ENG), attached to the simulated host as its default identity. */
  factoryIdentity: { id: string; principalId: string; clientId: string; tenantId: string };
  /** ENG resource group for image templates (factory: Contributor). */
  templateResourceGroup: string;
  /** Resource group holding the identities. */
  identityResourceGroup: string;
  staging: {
    /**
     * Prefix of the per-template staging groups (`<prefix><template name>`), as infra sets
     * BUILD_STAGING_RESOURCE_GROUP_PREFIX: the groups do not exist; Image Builder creates them.
     */
    resourceGroupPrefix: string;
    /** Pre-existing custom staging group (adapter/simulator tests) where the build identity has Contributor. */
    goodResourceGroupId: string;
    /** Custom staging group where the build identity has NO role (pitfall). */
    unauthorizedResourceGroupId: string;
  };
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
    otherRegion: string;
  };
  platformImages: {
    ubuntu: { publisher: string; offer: string; sku: string; versions: string[] };
    windows: { publisher: string; offer: string; sku: string; versions: string[] };
  };
  /** Managed image in the build region (ENG, template resource group). */
  managedImageId: string;
  /** Custom role the build identity holds on the ENG gallery resource group. */
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

/**
 * Onboarding step, as code: the resource providers a human registers before first use — ENG by the
 * azd preprovision hook, TEST/PROD during onboarding (docs/onboarding-a-tenant.md), both with
 * infra/scripts/register-providers.sh, whose `--wait` returns once each is Registered. Exactly
 * infra/providers.json's list; nothing else is registered (Azure's defaults aside).
 */
export function registerResourceProvidersAsOnboarded(
  sim: AzureSimulator,
  subscriptionId: string,
  kind: 'eng' | 'stage',
): void {
  for (const namespace of registeredProviders(kind)) sim.registerProvider(subscriptionId, namespace);
}

export function createStandardWorld(sim: AzureSimulator): StandardWorld {
  const location = 'westeurope';
  const extraRegions = ['northeurope', 'swedencentral'];
  const appId = 'f0000000-0000-4000-8000-00000000fac7';
  const clientSecret = `sim~${randomBytes(18).toString('base64url')}`;
  const cert = sim.spareClientCertificate;

  const facts: Partial<Record<'eng' | 'test' | 'prod', TenantFacts>> = {};
  for (const stage of ['eng', 'test', 'prod'] as const) {
    const t = TENANTS[stage];
    sim.addTenant(t.tenantId, t.displayName);
    sim.addSubscription(t.tenantId, t.subscriptionId);
    registerResourceProvidersAsOnboarded(sim, t.subscriptionId, stage === 'eng' ? 'eng' : 'stage');
  }
  const engTenant = TENANTS.eng.tenantId;

  // identities first: the factory app trusts the factory's managed identity (federated credential)
  const identityResourceGroup = 'rg-image-factory';
  sim.addResourceGroup(TENANTS.eng.subscriptionId, identityResourceGroup, location);
  const factoryIdentity = sim.addUserAssignedIdentity({
    subscriptionId: TENANTS.eng.subscriptionId,
    resourceGroup: identityResourceGroup,
    name: 'id-image-factory',
    location,
  });
  sim.attachHostIdentity(factoryIdentity.clientId, true);
  const buildIdentity = sim.addUserAssignedIdentity({
    subscriptionId: TENANTS.eng.subscriptionId,
    resourceGroup: identityResourceGroup,
    name: 'id-image-builder',
    location,
  });
  const federatedCredential = {
    issuer: `${sim.authorityHost}/${engTenant}/v2.0`,
    subject: factoryIdentity.principalId,
  };

  sim.addAppRegistration({
    appId,
    displayName: 'image-factory',
    homeTenantId: engTenant,
    secrets: [clientSecret],
    certificates: [cert.certificatePem],
    federated: [federatedCredential],
  });

  for (const stage of ['eng', 'test', 'prod'] as const) {
    const t = TENANTS[stage];
    const galleryResourceGroup = 'rg-images';
    const galleryName = `gal_${stage}`;
    sim.addResourceGroup(t.subscriptionId, galleryResourceGroup, location);
    const galleryId = sim.addGallery({
      subscriptionId: t.subscriptionId,
      resourceGroup: galleryResourceGroup,
      name: galleryName,
      location,
    });
    const factoryPrincipalId = sim.addServicePrincipal(t.tenantId, appId);
    // read everything in the subscription (preflight: role assignments, platform images, networks)
    sim.assignRole({
      principalId: factoryPrincipalId,
      role: 'Reader',
      scope: `/subscriptions/${t.subscriptionId}`,
    });
    // write the stage's gallery (image definitions, versions)
    sim.assignRole({ principalId: factoryPrincipalId, role: 'Contributor', scope: galleryId });
    facts[stage] = {
      tenantId: t.tenantId,
      displayName: t.displayName,
      subscriptionId: t.subscriptionId,
      location,
      extraRegions,
      galleryResourceGroup,
      galleryName,
      galleryId,
      factoryPrincipalId,
    };
  }
  const eng = facts.eng as TenantFacts;
  const engSub = eng.subscriptionId;

  // ENG: templates, staging groups, build network, test VMs
  const templateResourceGroup = 'rg-image-templates';
  const templateRgId = sim.addResourceGroup(engSub, templateResourceGroup, location);
  sim.assignRole({ principalId: eng.factoryPrincipalId, role: 'Contributor', scope: templateRgId });
  const identityRgId = `/subscriptions/${engSub}/resourceGroups/${identityResourceGroup}`;
  sim.assignRole({
    principalId: eng.factoryPrincipalId,
    role: 'Managed Identity Operator',
    scope: buildIdentity.id,
  });
  sim.assignRole({ principalId: factoryIdentity.principalId, role: 'Reader', scope: identityRgId });
  // read customization.log from AIB's staging storage accounts (created per template)
  sim.assignRole({
    principalId: eng.factoryPrincipalId,
    role: 'Storage Blob Data Reader',
    scope: `/subscriptions/${engSub}`,
  });

  // The factory reads the per-template staging groups Image Builder creates (preflight: is the
  // group free; customization.log) at ENG subscription scope, as infra grants it (h1: from infra).
  sim.assignRole({ principalId: eng.factoryPrincipalId, role: 'Reader', scope: `/subscriptions/${engSub}` });
  const goodStaging = sim.addResourceGroup(engSub, 'rg-aib-staging', location);
  const badStaging = sim.addResourceGroup(engSub, 'rg-aib-staging-noperm', location);
  sim.assignRole({ principalId: buildIdentity.principalId, role: 'Contributor', scope: goodStaging });
  sim.assignRole({ principalId: eng.factoryPrincipalId, role: 'Contributor', scope: goodStaging });
  sim.assignRole({ principalId: eng.factoryPrincipalId, role: 'Contributor', scope: badStaging });

  const imageCreationRoleId = sim.addRoleDefinition({
    roleName: 'Azure Image Builder Service Image Creation Role',
    description: 'Image Builder access to create resources for the image build',
    actions: [
      'Microsoft.Compute/galleries/read',
      'Microsoft.Compute/galleries/images/read',
      'Microsoft.Compute/galleries/images/versions/read',
      'Microsoft.Compute/galleries/images/versions/write',
      'Microsoft.Compute/images/write',
      'Microsoft.Compute/images/read',
      'Microsoft.Compute/images/delete',
    ],
    assignableScopes: [`/subscriptions/${engSub}`],
  });
  sim.assignRole({
    principalId: buildIdentity.principalId,
    role: imageCreationRoleId,
    scope: `/subscriptions/${engSub}/resourceGroups/${eng.galleryResourceGroup}`,
  });
  sim.assignRole({ principalId: buildIdentity.principalId, role: imageCreationRoleId, scope: templateRgId });

  const networkRg = 'rg-build-network';
  sim.addResourceGroup(engSub, networkRg, location);
  const lbAllow = [{ sourceAddressPrefix: 'AzureLoadBalancer', destinationPortRanges: ['60000-60001'] }];
  const vnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: networkRg,
    name: 'vnet-build',
    location,
    subnets: [
      {
        name: 'snet-build',
        addressPrefix: '10.10.1.0/24',
        privateLinkServiceNetworkPolicies: 'Disabled',
        nsgInboundAllows: lbAllow,
      },
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
    name: 'vnet-build-ne',
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
  const networkJoinRole = sim.addRoleDefinition({
    roleName: 'Azure Image Builder Service Networking Role',
    actions: [
      'Microsoft.Network/virtualNetworks/read',
      'Microsoft.Network/virtualNetworks/subnets/join/action',
    ],
    assignableScopes: [`/subscriptions/${engSub}`],
  });
  sim.assignRole({
    principalId: buildIdentity.principalId,
    role: networkJoinRole,
    scope: `/subscriptions/${engSub}/resourceGroups/${networkRg}`,
  });

  const testRg = 'rg-image-tests';
  const testRgId = sim.addResourceGroup(engSub, testRg, location);
  sim.assignRole({ principalId: eng.factoryPrincipalId, role: 'Contributor', scope: testRgId });
  const testVnetId = sim.addVirtualNetwork({
    subscriptionId: engSub,
    resourceGroup: testRg,
    name: 'vnet-image-tests',
    location,
    subnets: [
      {
        name: 'snet-test-vms',
        addressPrefix: '10.30.1.0/24',
        privateLinkServiceNetworkPolicies: 'Enabled',
        nsgInboundAllows: [{ sourceAddressPrefix: 'VirtualNetwork', destinationPortRanges: ['22', '5986'] }],
      },
    ],
  });

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
  const managedImageId = sim.addManagedImage({
    subscriptionId: engSub,
    resourceGroup: templateResourceGroup,
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
      displayName: 'image-factory',
      clientSecret,
      certificatePem: cert.certificatePem,
      privateKeyPem: cert.privateKeyPem,
      certificateWithKeyPem: `${cert.privateKeyPem.trim()}\n${cert.certificatePem.trim()}\n`,
      federatedCredential,
    },
    buildIdentity,
    factoryIdentity,
    templateResourceGroup,
    identityResourceGroup,
    staging: {
      resourceGroupPrefix: 'rg-dev-aib-staging-',
      goodResourceGroupId: goodStaging,
      unauthorizedResourceGroupId: badStaging,
    },
    testVm: {
      resourceGroup: testRg,
      vnetId: testVnetId,
      subnetId: `${testVnetId}/subnets/snet-test-vms`,
      location,
    },
    buildNetwork: {
      resourceGroup: networkRg,
      vnetId,
      goodSubnetId: `${vnetId}/subnets/snet-build`,
      policiesEnabledSubnetId: `${vnetId}/subnets/snet-policies-enabled`,
      noLoadBalancerRuleSubnetId: `${vnetId}/subnets/snet-no-lb-rule`,
      otherRegionSubnetId: `${otherVnetId}/subnets/snet-build`,
      otherRegion,
    },
    platformImages: { ubuntu, windows },
    managedImageId,
    imageCreationRoleId,
    roles: { ...BUILT_IN_ROLE_IDS },
  };
}
