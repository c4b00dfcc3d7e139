@description('Required. Build VNET name.')
param vnetName string
@description('Required. NSG name.')
param nsgName string
@description('Required. Region: the same as the builds (Image Builder requires it).')
param location string
@description('Optional. Tags.')
param tags object = {}
@description('Required. Principal id of the build identity (joins the build subnet).')
param buildPrincipalId string
@description('Required. Principal id of the factory identity (joins the test subnet, reads subnet policies in preflight).')
param factoryPrincipalId string
@description('Optional. Address space.')
param addressPrefix string = '10.40.0.0/22'

var networkContributor = '4d97b98b-1d4f-4787-a291-c67834d212e7' // Network Contributor

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

resource buildJoinsSubnet 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vnet
  name: guid(vnet.id, buildPrincipalId, networkContributor)
  properties: { principalId: buildPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributor) }
}

resource factoryJoinsSubnet 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vnet
  name: guid(vnet.id, factoryPrincipalId, networkContributor)
  properties: { principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributor) }
}

output buildSubnetId string = buildSubnet.id
output testSubnetId string = '${vnet.id}/subnets/snet-tests'
output resourceId string = vnet.id
output name string = vnet.name
output location string = location
