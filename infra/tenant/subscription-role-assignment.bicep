// One role assignment at the subscription of a TEST/PROD tenant (infra/tenant/main.bicep deploys
// the stageSubscription entries of infra/access.json through it).
targetScope = 'subscription'

@description('Required. Principal id (the factory app\'s service principal in this tenant).')
param principalId string
@description('Required. Role definition resource id.')
param roleDefinitionId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}
