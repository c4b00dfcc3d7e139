// One role assignment on one resource (gallery, user-assigned identity, subnet, Event Grid topic or
// Durable Task Scheduler) of this resource
// group, for infra/app/roles.bicep. A role assignment's scope must be a resource symbol, hence one
// `existing` declaration per kind.
@description('Required. Which kind of resource the scope is.')
param kind 'gallery' | 'identity' | 'subnet' | 'eventGridTopic' | 'durableTaskScheduler'
@description('Required. Resource id of the scope (in this resource group).')
param resourceId string
@description('Required. Principal that receives the role.')
param principalId string
@description('Required. Role definition id (full resource id).')
param roleDefinitionId string

var parts = split(resourceId, '/')

resource gallery 'Microsoft.Compute/galleries@2023-07-03' existing = if (kind == 'gallery') {
  name: parts[8]
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = if (kind == 'identity') {
  name: parts[8]
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = if (kind == 'eventGridTopic') {
  name: parts[8]
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = if (kind == 'durableTaskScheduler') {
  name: parts[8]
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = if (kind == 'subnet') {
  name: parts[8]
}

resource subnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = if (kind == 'subnet') {
  parent: vnet
  name: kind == 'subnet' ? parts[10] : 'none'
}

resource onGallery 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (kind == 'gallery') {
  scope: gallery
  name: guid(resourceId, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}

resource onIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (kind == 'identity') {
  scope: identity
  name: guid(resourceId, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}

resource onSubnet 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (kind == 'subnet') {
  scope: subnet
  name: guid(resourceId, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}

resource onTopic 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (kind == 'eventGridTopic') {
  scope: topic
  name: guid(resourceId, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}

resource onScheduler 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (kind == 'durableTaskScheduler') {
  scope: scheduler
  name: guid(resourceId, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}
