// Least-privilege custom roles with exactly the actions the adapters call (see
// infra/required-actions.json; test/infra/consistency.test.ts keeps the two in sync), and their
// assignments to the factory and the build identity.
targetScope = 'subscription'

@description('Required. Principal id of the factory identity.')
param factoryPrincipalId string
@description('Required. Principal id of the Image Builder build identity.')
param buildPrincipalId string
@description('Required. Resource group of the factory (identities, ENG gallery).')
param factoryGroupName string
@description('Required. Resource group of the image templates.')
param templateGroupName string
@description('Required. Resource group of the short-lived test VMs.')
param testGroupName string
@description('Optional. Custom staging resource group for Image Builder; empty when AIB picks its own.')
param stagingGroupName string = ''
@description('Required. ENG gallery name.')
param galleryName string

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c' // Contributor

resource templateOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-template-operator')
  properties: {
    roleName: 'Image Factory Template Operator'
    description: 'Create, run, cancel and delete Azure VM Image Builder templates; read their logs.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.VirtualMachineImages/imageTemplates/read'
          'Microsoft.VirtualMachineImages/imageTemplates/write'
          'Microsoft.VirtualMachineImages/imageTemplates/delete'
          'Microsoft.VirtualMachineImages/imageTemplates/run/action'
          'Microsoft.VirtualMachineImages/imageTemplates/cancel/action'
          'Microsoft.VirtualMachineImages/imageTemplates/runOutputs/read'
          'Microsoft.Resources/subscriptions/resourceGroups/read'
        ]
      }
    ]
  }
}

resource galleryPublisher 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-gallery-publisher')
  properties: {
    roleName: 'Image Factory Gallery Publisher'
    description: 'Manage image definitions and image versions in compute galleries.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Compute/galleries/read'
          'Microsoft.Compute/galleries/images/read'
          'Microsoft.Compute/galleries/images/write'
          'Microsoft.Compute/galleries/images/versions/read'
          'Microsoft.Compute/galleries/images/versions/write'
          'Microsoft.Compute/galleries/images/versions/delete'
          'Microsoft.Compute/images/read'
        ]
      }
    ]
  }
}

resource testVmOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-test-vm-operator')
  properties: {
    roleName: 'Image Factory Test VM Operator'
    description: 'Create, run commands on and delete short-lived test VMs with their NICs and disks.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Compute/virtualMachines/read'
          'Microsoft.Compute/virtualMachines/write'
          'Microsoft.Compute/virtualMachines/delete'
          // Managed Run Command (started with asyncExecution, read through its instance view).
          'Microsoft.Compute/virtualMachines/runCommands/read'
          'Microsoft.Compute/virtualMachines/runCommands/write'
          'Microsoft.Compute/disks/read'
          'Microsoft.Compute/disks/write'
          'Microsoft.Compute/disks/delete'
          'Microsoft.Network/networkInterfaces/read'
          'Microsoft.Network/networkInterfaces/write'
          'Microsoft.Network/networkInterfaces/delete'
          'Microsoft.Network/networkInterfaces/join/action'
          'Microsoft.Compute/galleries/images/versions/read'
          'Microsoft.Resources/subscriptions/resourceGroups/read'
        ]
      }
    ]
  }
}

resource preflightReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-preflight-reader')
  properties: {
    roleName: 'Image Factory Preflight Reader'
    description: 'Read role assignments, role definitions, networks and marketplace images to check a pipeline before it builds.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Authorization/roleAssignments/read'
          'Microsoft.Authorization/roleDefinitions/read'
          'Microsoft.Network/virtualNetworks/read'
          'Microsoft.Network/virtualNetworks/subnets/read'
          'Microsoft.Network/networkSecurityGroups/read'
          'Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read'
          'Microsoft.Compute/images/read'
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Resources/subscriptions/resources/read'
          'Microsoft.ManagedIdentity/userAssignedIdentities/read'
        ]
      }
    ]
  }
}

resource imageBuilderDistributor 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-aib-distributor')
  properties: {
    roleName: 'Image Factory Image Builder Distributor'
    description: 'What Azure VM Image Builder needs to read sources and distribute to the ENG gallery.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Compute/galleries/read'
          'Microsoft.Compute/galleries/images/read'
          'Microsoft.Compute/galleries/images/versions/read'
          'Microsoft.Compute/galleries/images/versions/write'
          'Microsoft.Compute/images/read'
          'Microsoft.Compute/images/write'
          'Microsoft.Compute/images/delete'
        ]
      }
    ]
  }
}

resource subnetJoiner 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-subnet-joiner')
  properties: {
    roleName: 'Image Factory Subnet Joiner'
    description: 'Put a build VM (Image Builder) or a test VM NIC into one subnet.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Network/virtualNetworks/read'
          'Microsoft.Network/virtualNetworks/subnets/read'
          'Microsoft.Network/virtualNetworks/subnets/join/action'
        ]
      }
    ]
  }
}

resource buildLogReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'image-factory-build-log-reader')
  properties: {
    roleName: 'Image Factory Build Log Reader'
    description: 'Find the staging storage account of Image Builder and read customization.log from it.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Resources/subscriptions/resourceGroups/resources/read'
          'Microsoft.Storage/storageAccounts/read'
        ]
        dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read']
      }
    ]
  }
}

resource preflightAtSubscription 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, factoryPrincipalId, preflightReader.id)
  properties: { principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: preflightReader.id }
}

module factoryTemplates 'role-assignment.bicep' = {
  scope: resourceGroup(templateGroupName)
  name: 'factory-template-operator'
  params: { principalId: factoryPrincipalId, roleDefinitionId: templateOperator.id }
}

module factoryGallery 'role-assignment.bicep' = {
  scope: resourceGroup(factoryGroupName)
  name: 'factory-gallery-publisher'
  params: { principalId: factoryPrincipalId, roleDefinitionId: galleryPublisher.id }
}

module factoryTestVms 'role-assignment.bicep' = {
  scope: resourceGroup(testGroupName)
  name: 'factory-test-vm-operator'
  params: { principalId: factoryPrincipalId, roleDefinitionId: testVmOperator.id }
}

module buildDistributes 'role-assignment.bicep' = {
  scope: resourceGroup(factoryGroupName)
  name: 'build-identity-distributor'
  params: { principalId: buildPrincipalId, roleDefinitionId: imageBuilderDistributor.id }
}

// Field notes: with a custom staging group the build identity needs Contributor there, or
// create/run/delete fail with a bare "Unauthorized".
module buildStaging 'role-assignment.bicep' = if (!empty(stagingGroupName)) {
  scope: resourceGroup(empty(stagingGroupName) ? factoryGroupName : stagingGroupName)
  name: 'build-identity-staging-contributor'
  params: { principalId: buildPrincipalId, roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor) }
}

// The factory reads customization.log from the staging group's storage account before it deletes
// the template. Without a custom staging group AIB picks an IT_ group we cannot grant ahead of time.
module factoryReadsBuildLogs 'role-assignment.bicep' = if (!empty(stagingGroupName)) {
  scope: resourceGroup(empty(stagingGroupName) ? factoryGroupName : stagingGroupName)
  name: 'factory-build-log-reader'
  params: { principalId: factoryPrincipalId, roleDefinitionId: buildLogReader.id }
}

output subnetJoinerRoleId string = subnetJoiner.id
output buildLogReaderRoleId string = buildLogReader.id
output templateOperatorRoleId string = templateOperator.id
output galleryPublisherRoleId string = galleryPublisher.id
output testVmOperatorRoleId string = testVmOperator.id
output preflightReaderRoleId string = preflightReader.id
output galleryName string = galleryName
