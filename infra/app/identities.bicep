@description('Required. Name of the factory\'s user-assigned identity (the function app runs as it).')
param factoryIdentityName string
@description('Required. Name of the identity Azure VM Image Builder runs builds as.')
param buildIdentityName string
@description('Required. Region.')
param location string
@description('Optional. Tags.')
param tags object = {}

resource factoryIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: factoryIdentityName
  location: location
  tags: tags
}

resource buildIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: buildIdentityName
  location: location
  tags: tags
}

// The factory's Managed Identity Operator on the build identity is in infra/access.json.

output factoryIdentityId string = factoryIdentity.id
output factoryPrincipalId string = factoryIdentity.properties.principalId
output factoryClientId string = factoryIdentity.properties.clientId
output buildIdentityId string = buildIdentity.id
output buildIdentityName string = buildIdentity.name
output buildPrincipalId string = buildIdentity.properties.principalId
output resourceId string = factoryIdentity.id
output name string = factoryIdentity.name
output location string = location
