// The ENG side of infra/access.json, the one description of who may do what where: its custom roles
// (named per environment: role names are unique per tenant) and its role assignments, with the
// symbolic scopes resolved here. Nothing in this file lists actions; test/infra/checker.ts checks
// that access.json covers infra/required-actions.json at the scopes Azure checks.
targetScope = 'subscription'

@description('Required. Name of the azd environment; part of every custom role name.')
param environmentName string
@description('Required. Principal id of the factory identity.')
param factoryPrincipalId string
@description('Required. Principal id of the Image Builder build identity.')
param buildPrincipalId string
@description('Optional. Object id of the multi-tenant app\'s service principal in ENG (auxiliary token of ENG → TEST copies); empty until the app exists.')
param factoryAppEngPrincipalId string = ''
@description('Required. Resource group of the factory (identities, ENG gallery).')
param factoryGroupName string
@description('Required. Resource group of the image templates.')
param templateGroupName string
@description('Required. Resource group of the short-lived test VMs.')
param testGroupName string
@description('Required. ENG gallery name (in the factory group).')
param galleryName string
@description('Required. Name of the build identity (in the factory group).')
param buildIdentityName string
@description('Required. Name of the notifications Event Grid topic (in the factory group).')
param eventGridTopicName string
@description('Optional. Name of the Durable Task Scheduler (in the factory group); empty when Durable Functions keeps its task hub in Azure Storage (durableBackend azureStorage): its assignment is skipped.')
param durableTaskSchedulerName string = ''
@description('Optional. Resource id of the build subnet; its VNET\'s resource group gets the build identity\'s join rights. Empty: no build network.')
param buildSubnetId string = ''
@description('Optional. Resource id of the subnet test VMs join. Empty: none.')
param testSubnetId string = ''

var access = loadJsonContent('../access.json')
var deployment = access.deployments.eng
var builtInRoles = access.builtInRoles

var principals = {
  factory: factoryPrincipalId
  build: buildPrincipalId
  factoryAppEng: factoryAppEngPrincipalId
}
var buildSubnetParts = split(empty(buildSubnetId) ? '/subscriptions/-/resourceGroups/-' : buildSubnetId, '/')
var testSubnetParts = split(empty(testSubnetId) ? '/subscriptions/-/resourceGroups/-' : testSubnetId, '/')
// Resource group scopes: subscription and group name ('' = not deployed, the assignment is skipped).
var groups = {
  factoryGroup: { subscriptionId: subscription().subscriptionId, name: factoryGroupName }
  templateGroup: { subscriptionId: subscription().subscriptionId, name: templateGroupName }
  testGroup: { subscriptionId: subscription().subscriptionId, name: testGroupName }
  buildNetworkGroup: { subscriptionId: buildSubnetParts[2], name: empty(buildSubnetId) ? '' : buildSubnetParts[4] }
  testNetworkGroup: { subscriptionId: testSubnetParts[2], name: empty(testSubnetId) ? '' : testSubnetParts[4] }
}
// Resource scopes: the resource's group, type and id.
var resources = {
  engGallery: { group: factoryGroupName, subscriptionId: subscription().subscriptionId, kind: 'gallery', id: resourceId(subscription().subscriptionId, factoryGroupName, 'Microsoft.Compute/galleries', galleryName) }
  eventGridTopic: { group: factoryGroupName, subscriptionId: subscription().subscriptionId, kind: 'eventGridTopic', id: resourceId(subscription().subscriptionId, factoryGroupName, 'Microsoft.EventGrid/topics', eventGridTopicName) }
  durableTaskScheduler: { group: factoryGroupName, subscriptionId: subscription().subscriptionId, kind: 'durableTaskScheduler', id: empty(durableTaskSchedulerName) ? '' : resourceId(subscription().subscriptionId, factoryGroupName, 'Microsoft.DurableTask/schedulers', durableTaskSchedulerName) }
  buildIdentity: { group: factoryGroupName, subscriptionId: subscription().subscriptionId, kind: 'identity', id: resourceId(subscription().subscriptionId, factoryGroupName, 'Microsoft.ManagedIdentity/userAssignedIdentities', buildIdentityName) }
  testSubnet: { group: testSubnetParts[4], subscriptionId: testSubnetParts[2], kind: 'subnet', id: testSubnetId }
  buildSubnet: { group: buildSubnetParts[4], subscriptionId: buildSubnetParts[2], kind: 'subnet', id: buildSubnetId }
}

var roleGuid = map(objectKeys(deployment.roles), key => { key: key, guid: guid(subscription().id, environmentName, 'image-factory', key) })
var roleIds = toObject(roleGuid, r => r.key, r => subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r.guid))
var roleIdOf = union(toObject(items(builtInRoles), r => r.key, r => subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r.value)), roleIds)

resource customRoles 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [
  for role in items(deployment.roles): {
    name: guid(subscription().id, environmentName, 'image-factory', role.key)
    properties: {
      // Custom role names are unique per tenant: a second environment in the same tenant needs its own.
      roleName: '${role.value.roleName} (${environmentName})'
      description: role.value.description
      type: 'CustomRole'
      assignableScopes: [subscription().id]
      permissions: [{ actions: role.value.actions, dataActions: role.value.?dataActions ?? [] }]
    }
  }
]

var deployed = filter(deployment.assignments, a => !empty(principals[a.principal]))

resource atSubscription 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(deployed, a => a.scope == 'engSubscription'): {
    name: guid(subscription().id, principals[a.principal], roleIdOf[a.role])
    properties: { principalId: principals[a.principal], principalType: 'ServicePrincipal', roleDefinitionId: roleIdOf[a.role] }
    dependsOn: [customRoles]
  }
]

module atGroup 'role-assignment.bicep' = [
  for a in filter(deployed, a => contains(groups, a.scope) && !empty(groups[a.scope].name)): {
    scope: resourceGroup(groups[a.scope].subscriptionId, groups[a.scope].name)
    name: a.name
    params: { principalId: principals[a.principal], roleDefinitionId: roleIdOf[a.role] }
    dependsOn: [customRoles]
  }
]

module atResource 'resource-role-assignment.bicep' = [
  for a in filter(deployed, a => contains(resources, a.scope) && !empty(resources[a.scope].id)): {
    scope: resourceGroup(resources[a.scope].subscriptionId, resources[a.scope].group)
    name: a.name
    params: {
      kind: resources[a.scope].kind
      resourceId: resources[a.scope].id
      principalId: principals[a.principal]
      roleDefinitionId: roleIdOf[a.role]
    }
    dependsOn: [customRoles]
  }
]

output roleIds object = roleIds
