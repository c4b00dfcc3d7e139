@description('Required. Build VNET name.')
param vnetName string
@description('Required. NSG name.')
param nsgName string
@description('Required. Region: the same as the builds (Image Builder requires it).')
param location string
@description('Optional. Tags.')
param tags object = {}
@description('Optional. Address space (/22 or larger): first /24 build subnet, second /24 test subnet.')
param addressPrefix string = '10.40.0.0/22'


resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: nsgName
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        // AIB's proxy VM is reached by the Azure Load Balancer on 60001 (Linux) / 60000 (Windows).
        name: 'AllowAzureLoadBalancerToAibProxy'
        properties: {
          priority: 400
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'AzureLoadBalancer'
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRanges: ['60000', '60001']
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'snet-build'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          networkSecurityGroup: { id: nsg.id }
          // Image Builder puts a Private Link service in this subnet.
          privateLinkServiceNetworkPolicies: 'Disabled'
        }
      }
      {
        name: 'snet-tests'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          networkSecurityGroup: { id: nsg.id }
        }
      }
    ]
  }
}

resource buildSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: 'snet-build'
}

resource testSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: 'snet-tests'
}

// Join rights: infra/access.json (app/roles.bicep), the build identity on this VNET's resource
// group (Image Builder checks it there), the factory on the test subnet.

output buildSubnetId string = buildSubnet.id
output testSubnetId string = testSubnet.id
output resourceId string = vnet.id
output name string = vnet.name
output location string = location
