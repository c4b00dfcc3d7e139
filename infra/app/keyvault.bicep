@description('Required. Key Vault name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Tags.')
param tags object = {}
@description('Required. Principal id of the factory identity (reads secrets: signing key, certificates).')
param factoryPrincipalId string
@description('Optional. Principal id of the deployer (sets the signing key).')
param deployerPrincipalId string = ''
@description('Optional. Type of the deployer principal (a pipeline deploys as a ServicePrincipal).')
param deployerPrincipalType 'User' | 'ServicePrincipal' = 'User'

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
var secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource factoryReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, factoryPrincipalId, secretsUser)
  properties: { principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser) }
}

resource deployerManagesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: vault
  name: guid(vault.id, deployerPrincipalId, secretsOfficer)
  properties: { principalId: deployerPrincipalId, principalType: deployerPrincipalType, roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficer) }
}

output uri string = vault.properties.vaultUri
output resourceId string = vault.id
output name string = vault.name
output location string = location
