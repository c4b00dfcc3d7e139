// One role assignment at resource group scope, named guid(scope, principal, role).
@description('Required. Principal that receives the role.')
param principalId string
@description('Required. Role definition id (full resource id).')
param roleDefinitionId string
@description('Optional. Principal type.')
param principalType 'ServicePrincipal' | 'User' | 'Group' = 'ServicePrincipal'

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: principalType, roleDefinitionId: roleDefinitionId }
}

output resourceId string = assignment.id
output name string = assignment.name
