/**
 * Seeding the world with resources that exist before a test starts: resource groups, user-assigned
 * identities, galleries, managed images, storage accounts and blobs, and virtual networks (a VNET,
 * its subnets and a network security group per subnet that asks for rules, with the default rules
 * Azure puts in every NSG). The Simulator's add* methods call these.
 */
import type { ManagedIdentity, Simulator } from './sim';

/**
 * A top-level resource as the seeding calls put it: in a resource group, no tags, provisioned
 * (provisioningState Succeeded before the type's own properties). Returns its id.
 */
export function seedResource(
  sim: Simulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    type: string;
    name: string;
    location: string;
    properties: Record<string, unknown>;
  },
): string {
  const id = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/${args.type}/${args.name}`;
  sim.putResource({
    id,
    type: args.type,
    name: args.name,
    subscriptionId: args.subscriptionId,
    resourceGroup: args.resourceGroup,
    location: args.location,
    tags: {},
    properties: { provisioningState: 'Succeeded', ...args.properties },
  });
  return id;
}

export function addResourceGroup(
  sim: Simulator,
  subscriptionId: string,
  name: string,
  location: string,
  tags: Record<string, string> = {},
): string {
  if (!sim.subscriptionTenant.has(subscriptionId.toLowerCase()))
    throw new Error(`addResourceGroup: unknown subscription ${subscriptionId}`);
  const id = `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
  sim.putResource({
    id,
    type: 'Microsoft.Resources/resourceGroups',
    name,
    subscriptionId,
    resourceGroup: name,
    location,
    tags,
    properties: { provisioningState: 'Succeeded' },
  });
  return id;
}

export function addUserAssignedIdentity(
  sim: Simulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
  },
): ManagedIdentity {
  const tenantId = sim.tenantOf(args.subscriptionId);
  const id = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${args.name}`;
  const mi: ManagedIdentity = {
    id,
    name: args.name,
    principalId: sim.newGuid(),
    clientId: sim.newGuid(),
    tenantId,
  };
  sim.identities.set(id.toLowerCase(), mi);
  sim.putResource({
    id,
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
    name: args.name,
    subscriptionId: args.subscriptionId,
    resourceGroup: args.resourceGroup,
    location: args.location,
    tags: {},
    properties: { tenantId, principalId: mi.principalId, clientId: mi.clientId },
  });
  return { ...mi };
}

export function addGallery(
  sim: Simulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
  },
): string {
  return seedResource(sim, {
    ...args,
    type: 'Microsoft.Compute/galleries',
    properties: {
      identifier: { uniqueName: `${sim.tenantOf(args.subscriptionId)}-${args.name.toUpperCase()}` },
    },
  });
}

export function addManagedImage(
  sim: Simulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    osType: 'Linux' | 'Windows';
  },
): string {
  return seedResource(sim, {
    ...args,
    type: 'Microsoft.Compute/images',
    properties: {
      hyperVGeneration: 'V2',
      storageProfile: { osDisk: { osType: args.osType, osState: 'Generalized', diskSizeGB: 30 } },
    },
  });
}

/**
 * A VM or scale set someone runs from a gallery image version (a tenant's workload, not the factory's
 * test VM): the resource Resource Graph finds when retention asks what uses a version. Only the
 * fields the modelled query reads are set (storageProfile / virtualMachineProfile.storageProfile).
 */
export function addImageConsumer(
  sim: Simulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    imageVersionId: string;
    kind: 'vm' | 'scaleSet';
  },
): string {
  const type =
    args.kind === 'vm' ? 'Microsoft.Compute/virtualMachines' : 'Microsoft.Compute/virtualMachineScaleSets';
  const storageProfile = { imageReference: { id: args.imageVersionId } };
  return seedResource(sim, {
    ...args,
    type,
    properties: args.kind === 'vm' ? { storageProfile } : { virtualMachineProfile: { storageProfile } },
  });
}

export function addStorageBlob(
  sim: Simulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    account: string;
    container: string;
    blob: string;
    content?: string;
  },
): string {
  sim.ensureStorageAccount(
    args.subscriptionId,
    args.resourceGroup,
    args.account,
    sim.resourceGroup(args.subscriptionId, args.resourceGroup)?.location ?? 'westeurope',
  );
  sim.blobs.set(`${args.account}/${args.container}/${args.blob}`.toLowerCase(), args.content ?? '');
  return `${sim.armEndpoint}/${args.account}/${args.container}/${args.blob}`;
}

export function ensureStorageAccount(
  sim: Simulator,
  subscriptionId: string,
  resourceGroup: string,
  account: string,
  location: string,
): string {
  const id = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account}`;
  if (!sim.getResource(id)) {
    sim.putResource({
      id,
      type: 'Microsoft.Storage/storageAccounts',
      name: account,
      subscriptionId,
      resourceGroup,
      location,
      tags: {},
      properties: {
        provisioningState: 'Succeeded',
        primaryEndpoints: { blob: `${sim.armEndpoint}/${account}/` },
      },
    });
  }
  return id;
}

export interface VirtualNetworkSeed {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  subnets: {
    name: string;
    addressPrefix: string;
    privateLinkServiceNetworkPolicies: 'Enabled' | 'Disabled';
    nsgInboundAllows?: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
    nsgInboundDenies?: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
  }[];
}

/** Puts the VNET, its subnets and their NSGs into the world; returns the VNET id. */
export function addVirtualNetwork(sim: Simulator, args: VirtualNetworkSeed): string {
  const base = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/Microsoft.Network`;
  const id = `${base}/virtualNetworks/${args.name}`;
  const common = {
    subscriptionId: args.subscriptionId,
    resourceGroup: args.resourceGroup,
    location: args.location,
    tags: {},
  };
  sim.putResource({
    ...common,
    id,
    type: 'Microsoft.Network/virtualNetworks',
    name: args.name,
    properties: {
      provisioningState: 'Succeeded',
      addressSpace: { addressPrefixes: args.subnets.map((s) => s.addressPrefix) },
    },
  });
  for (const subnet of args.subnets) {
    let nsgId: string | undefined;
    if (subnet.nsgInboundAllows || subnet.nsgInboundDenies) {
      const nsgName = `${args.name}-${subnet.name}-nsg`;
      const nsg = `${base}/networkSecurityGroups/${nsgName}`;
      nsgId = nsg;
      const rule = (
        name: string,
        r: { sourceAddressPrefix: string; destinationPortRanges: string[] },
        access: 'Allow' | 'Deny',
        priority: number,
      ): Record<string, unknown> => ({
        id: `${nsg}/securityRules/${name}`,
        name,
        properties: {
          provisioningState: 'Succeeded',
          protocol: access === 'Allow' ? 'Tcp' : '*',
          sourcePortRange: '*',
          sourceAddressPrefix: r.sourceAddressPrefix,
          destinationAddressPrefix: '*',
          destinationPortRanges: r.destinationPortRanges,
          access,
          priority,
          direction: 'Inbound',
        },
      });
      const securityRules = [
        ...(subnet.nsgInboundAllows ?? []).map((r, i) => rule(`allow-${i}`, r, 'Allow', 100 + i * 10)),
        ...(subnet.nsgInboundDenies ?? []).map((r, i) => rule(`deny-${i}`, r, 'Deny', 4000 + i * 10)),
      ];
      sim.putResource({
        ...common,
        id: nsg,
        type: 'Microsoft.Network/networkSecurityGroups',
        name: nsgName,
        properties: {
          provisioningState: 'Succeeded',
          securityRules,
          defaultSecurityRules: defaultSecurityRules(nsg),
        },
      });
    }
    sim.putResource({
      ...common,
      id: `${id}/subnets/${subnet.name}`,
      type: 'Microsoft.Network/virtualNetworks/subnets',
      name: subnet.name,
      properties: {
        provisioningState: 'Succeeded',
        addressPrefix: subnet.addressPrefix,
        privateLinkServiceNetworkPolicies: subnet.privateLinkServiceNetworkPolicies,
        privateEndpointNetworkPolicies: 'Disabled',
        ...(nsgId ? { networkSecurityGroup: { id: nsgId } } : {}),
      },
    });
  }
  return id;
}

/** The default rules Azure puts in every NSG (read-only, lowest precedence). */
function defaultSecurityRules(nsgId: string): Record<string, unknown>[] {
  const rule = (
    name: string,
    direction: 'Inbound' | 'Outbound',
    priority: number,
    access: 'Allow' | 'Deny',
    source: string,
    destination: string,
  ): Record<string, unknown> => ({
    id: `${nsgId}/defaultSecurityRules/${name}`,
    name,
    properties: {
      provisioningState: 'Succeeded',
      protocol: '*',
      sourcePortRange: '*',
      destinationPortRange: '*',
      sourceAddressPrefix: source,
      destinationAddressPrefix: destination,
      access,
      priority,
      direction,
    },
  });
  return [
    rule('AllowVnetInBound', 'Inbound', 65000, 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowAzureLoadBalancerInBound', 'Inbound', 65001, 'Allow', 'AzureLoadBalancer', '*'),
    rule('DenyAllInBound', 'Inbound', 65500, 'Deny', '*', '*'),
    rule('AllowVnetOutBound', 'Outbound', 65000, 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowInternetOutBound', 'Outbound', 65001, 'Allow', '*', 'Internet'),
    rule('DenyAllOutBound', 'Outbound', 65500, 'Deny', '*', '*'),
  ];
}
