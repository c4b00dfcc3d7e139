// Onboards one TEST or PROD tenant: its gallery and image definitions, and the roles of the
// factory's multi-tenant app's service principal in this tenant. Deploy once per tenant:
//   az deployment group create -g rg-images --template-file infra/tenant/main.bicep --parameters factorySpObjectId=<id>
@description('Required. Object id of the factory app\'s service principal in THIS tenant (created by admin consent).')
param factorySpObjectId string
@description('Optional. Gallery name in this tenant.')
param galleryName string = 'gal_${toLower(stageName)}'
@description('Required. Stage name (TEST or PROD).')
@allowed(['TEST', 'PROD'])
param stageName string
@description('Optional. Region of the gallery.')
param location string = resourceGroup().location
@description('Optional. Tags.')
param tags object = {}

var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader

module gallery '../app/gallery.bicep' = {
  name: 'gallery-${stageName}'
  params: { name: galleryName, location: location, tags: tags }
}

resource galleryPublisher 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'image-factory-gallery-publisher')
  properties: {
    roleName: 'Image Factory Gallery Publisher'
    description: 'Manage image definitions and image versions in compute galleries.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: [
          'Microsoft.Compute/galleries/read'
          'Microsoft.Compute/galleries/images/read'
          'Microsoft.Compute/galleries/images/write'
          'Microsoft.Compute/galleries/images/versions/read'
          'Microsoft.Compute/galleries/images/versions/write'
          'Microsoft.Compute/galleries/images/versions/delete'
        ]
      }
    ]
  }
}

resource existingGallery 'Microsoft.Compute/galleries@2023-07-03' existing = {
  name: galleryName
}

// Target side: write versions into this tenant's gallery.
resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: existingGallery
  name: guid(existingGallery.id, factorySpObjectId, galleryPublisher.id)
  properties: { principalId: factorySpObjectId, principalType: 'ServicePrincipal', roleDefinitionId: galleryPublisher.id }
  dependsOn: [gallery]
}

// Source side: the next stage copies from here with an auxiliary token of this tenant.
resource sourceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: existingGallery
  name: guid(existingGallery.id, factorySpObjectId, reader)
  properties: { principalId: factorySpObjectId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader) }
  dependsOn: [gallery]
}

output GALLERY_ID string = gallery.outputs.id
output TENANT_ID string = tenant().tenantId
output SUBSCRIPTION_ID string = subscription().subscriptionId
