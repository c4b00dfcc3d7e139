// Join rights for one principal on one subnet of an existing VNET (the network team's), deployed in
// that VNET's resource group. Used when buildNetwork.mode is 'existing' (or 'none' with a test subnet).
@description('Required. Resource id of the subnet.')
param subnetId string
@description('Required. Principal that joins the subnet (build identity or factory identity).')
param principalId string
@description('Required. Resource id of the custom subnet-joiner role.')
param roleDefinitionId string

var parts = split(subnetId, '/')

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: parts[8]
}

resource subnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: parts[10]
}

resource join 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: subnet
  name: guid(subnet.id, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}

output resourceId string = join.id
output name string = join.name
