// Onboards one TEST or PROD tenant: its gallery and image definitions, and the `stage` deployment of
// infra/access.json (the roles of the factory's multi-tenant app's service principal in this
// tenant). Deploy once per tenant (docs/onboarding-a-tenant.md):
//   az deployment group create -g rg-images --template-file infra/tenant/main.bicep \
//     --parameters stageName=TEST environmentName=<azd env> factorySpObjectId=<id>
@description('Required. Object id of the factory app\'s service principal in THIS tenant (created by admin consent).')
param factorySpObjectId string
@description('Required. Stage name (TEST or PROD).')
@allowed(['TEST', 'PROD'])
param stageName string
@description('Required. The factory\'s azd environment name; part of the custom role name (role names are unique per tenant).')
param environmentName string
@description('Optional. Gallery name in this tenant.')
param galleryName string = 'gal_${toLower(stageName)}'
@description('Optional. Region of the gallery.')
param location string = resourceGroup().location
@description('Optional. Tags.')
param tags object = {}

var access = loadJsonContent('../access.json')
var deployment = access.deployments.stage
var principals = { factoryAppStage: factorySpObjectId }

module gallery '../app/gallery.bicep' = {
  name: 'gallery-${stageName}'
  params: { name: galleryName, location: location, tags: tags }
}

var roleIds = toObject(objectKeys(deployment.roles), key => key, key => subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(resourceGroup().id, environmentName, stageName, key)))
var roleIdOf = union(toObject(items(access.builtInRoles), r => r.key, r => subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r.value)), roleIds)

resource customRoles 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [
  for role in items(deployment.roles): {
    name: guid(resourceGroup().id, environmentName, stageName, role.key)
    properties: {
      // Unique per tenant: TEST and PROD (or two environments) may share a tenant.
      roleName: '${role.value.roleName} (${environmentName} ${stageName})'
      description: role.value.description
      type: 'CustomRole'
      // The subscription, so one role can also be assigned there (stageSubscription entries).
      assignableScopes: [subscription().id]
      permissions: [{ actions: role.value.actions, dataActions: role.value.?dataActions ?? [] }]
    }
  }
]

resource existingGallery 'Microsoft.Compute/galleries@2023-07-03' existing = {
  name: galleryName
}

// Every stage assignment is on this stage's gallery (access.json scope stageGallery).
resource onGallery 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(deployment.assignments, a => a.scope == 'stageGallery'): {
    scope: existingGallery
    name: guid(existingGallery.id, principals[a.principal], roleIdOf[a.role])
    properties: { principalId: principals[a.principal], principalType: 'ServicePrincipal', roleDefinitionId: roleIdOf[a.role] }
    dependsOn: [gallery, customRoles]
  }
]

// Subscription-wide entries (e.g. preflight reading resource provider registration).
module onSubscription 'subscription-role-assignment.bicep' = [
  for a in filter(deployment.assignments, a => a.scope == 'stageSubscription'): {
    scope: subscription()
    name: 'stage-${a.name}'
    params: { principalId: principals[a.principal], roleDefinitionId: roleIdOf[a.role] }
    dependsOn: [customRoles]
  }
]

output GALLERY_ID string = gallery.outputs.id
output GALLERY_RESOURCE_GROUP string = resourceGroup().name
output GALLERY_NAME string = galleryName
output TENANT_ID string = tenant().tenantId
output SUBSCRIPTION_ID string = subscription().subscriptionId
