/** NetworkPort over @azure/arm-network: what AIB needs from an existing subnet. */
import type { NetworkPort, SubnetInfo } from '../ports/azure';
import type { ClientFactory } from './clients';
import { parseResourceId, segment } from './clients';
import { orUndefined, type ErrorContext } from './errors';

export class NetworkAdapter implements NetworkPort {
  constructor(private readonly clients: ClientFactory) {}

  private context(operation: string, resource: string): ErrorContext {
    return {
      operation,
      resource,
      principal: this.clients.runtime.store.principal(this.clients.credentialName),
    };
  }

  async getSubnet(subnetId: string): Promise<SubnetInfo | undefined> {
    const parsed = parseResourceId(subnetId);
    const resourceGroup = parsed.resourceGroup ?? '';
    const vnetName = segment(parsed, 'virtualNetworks') ?? '';
    const subnetName = segment(parsed, 'subnets') ?? '';
    const network = this.clients.network(parsed.subscriptionId);
    const context = this.context('read subnet', subnetId);
    const subnet = await orUndefined(context, () => network.subnets.get(resourceGroup, vnetName, subnetName));
    if (subnet === undefined) return undefined;
    const vnet = await orUndefined(context, () => network.virtualNetworks.get(resourceGroup, vnetName));
    const nsgId = subnet.networkSecurityGroup?.id;
    const allows: SubnetInfo['nsgInboundAllows'] = [];
    if (nsgId !== undefined) {
      const nsgRef = parseResourceId(nsgId);
      const nsg = await orUndefined(this.context('read network security group', nsgId), () =>
        this.clients
          .network(nsgRef.subscriptionId)
          .networkSecurityGroups.get(
            nsgRef.resourceGroup ?? '',
            segment(nsgRef, 'networkSecurityGroups') ?? '',
          ),
      );
      for (const rule of nsg?.securityRules ?? []) {
        if (rule.direction !== 'Inbound' || rule.access !== 'Allow') continue;
        const sources =
          rule.sourceAddressPrefix !== undefined
            ? [rule.sourceAddressPrefix]
            : (rule.sourceAddressPrefixes ?? []);
        const ports =
          rule.destinationPortRange !== undefined
            ? [rule.destinationPortRange]
            : (rule.destinationPortRanges ?? []);
        for (const source of sources)
          allows.push({ sourceAddressPrefix: source, destinationPortRanges: [...ports] });
      }
    }
    return {
      id: subnet.id ?? subnetId,
      location: vnet?.location ?? '',
      privateLinkServiceNetworkPolicies:
        subnet.privateLinkServiceNetworkPolicies === 'Enabled' ? 'Enabled' : 'Disabled',
      ...(nsgId === undefined ? {} : { networkSecurityGroupId: nsgId }),
      nsgInboundAllows: allows,
    };
  }
}
