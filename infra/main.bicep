// Image Factory in the ENG subscription: function app (Flex Consumption, identity-only connections),
// Service Bus for approvals, Key Vault, identities and least-privilege roles, the optional build
// network and the ENG gallery. TEST/PROD tenants are onboarded with infra/tenant/main.bicep.
targetScope = 'subscription'

import { buildNetworkType, stageTenantsType } from 'types.bicep'

@minLength(1)
@maxLength(64)
@description('Required. Name of the azd environment; used in resource names and tags.')
param environmentName string

@minLength(1)
@description('Required. Region of the factory, the builds, the build network and the ENG gallery.')
param location string

@description('Optional. Object id of the deploying user, granted Key Vault Secrets Officer to set the signing key.')
param deployerPrincipalId string = ''

@description('Optional. Whether the deployer is a user or a pipeline\'s service principal.')
param deployerPrincipalType 'User' | 'ServicePrincipal' = 'User'

@description('Optional. Client id of the multi-tenant app the factory uses for TEST/PROD (see infra/scripts/create-multitenant-app.sh).')
param factoryAppClientId string = ''

@description('Optional. Object id of the multi-tenant app\'s service principal in ENG (create-multitenant-app.sh prints it): Reader on the ENG gallery, for the auxiliary ENG token of ENG → TEST copies.')
param factoryAppEngPrincipalId string = ''

@description('Optional. Bump after `azd down --purge`: the Key Vault has purge protection, so its old name stays taken for the retention period (90 days); the generation is part of the new name.')
param keyVaultGeneration string = '1'

@description('Optional. During a signing key rotation: until when decisions signed with the previous key (Key Vault secret approval-signing-key-previous) are accepted, ISO 8601 with zone. Empty = no rotation under way (docs/approvals-integration.md).')
param approvalSigningKeyPreviousUntil string = ''

@description('Optional. Object id of the on-prem release-management principal (sends decisions, receives requests).')
param onPremPrincipalId string = ''

@description('Optional. Build and test network: a new VNET (default) meeting Image Builder\'s rules (private link policy off, NSG AzureLoadBalancer → 60000/60001), existing subnets, or none.')
param buildNetwork buildNetworkType = { mode: 'create', addressPrefix: '10.40.0.0/22' }

@description('Optional. TEST/PROD tenants after onboarding (outputs of infra/tenant/main.bicep); empty until then.')
param stageTenants stageTenantsType = {
  testTenantId: ''
  testSubscriptionId: ''
  testPrincipalId: ''
  prodTenantId: ''
  prodSubscriptionId: ''
  prodPrincipalId: ''
}

@description('Optional. Give every image template its own staging resource group named <prefix><template name>, which Image Builder creates (Contributor for the build identity) and deletes with the template; false: Image Builder\'s IT_ groups.')
param usePerTemplateStagingGroups bool = true

@description('Optional. Storage provider of Durable Functions: azureManaged (default) deploys a Durable Task Scheduler and task hub and points the app at it with an identity-based connection; azureStorage keeps the task hub in the function app\'s storage account (queues, tables, blobs). Switching starts an empty task hub: builds in flight must finish first (docs/deploy.md).')
param durableBackend 'azureManaged' | 'azureStorage' = 'azureManaged'

@description('Optional. Extra tags for every resource.')
param tags object = {}


var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var allTags = union(tags, { 'azd-env-name': environmentName })
var queueNames = {
  requests: 'approval-requests'
  decisions: 'approval-decisions'
  rejects: 'approval-rejects'
}

resource factoryGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: allTags
}

resource templateGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}-templates'
  location: location
  tags: allTags
}

resource testGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}-tests'
  location: location
  tags: allTags
}

// No shared staging group: Image Builder refuses a group another template has tagged as its own
// (image-builder-json doc, stagingResourceGroup). Each template's group is created by Image Builder.
var stagingGroupPrefix = usePerTemplateStagingGroups ? '${abbrs.resourceGroup}${environmentName}-aib-staging-' : ''

module monitoring 'app/monitoring.bicep' = {
  scope: factoryGroup
  name: 'monitoring'
  params: {
    factoryPrincipalId: identities.outputs.factoryPrincipalId
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    appInsightsName: '${abbrs.appInsights}${resourceToken}'
    location: location
    tags: allTags
  }
}

module identities 'app/identities.bicep' = {
  scope: factoryGroup
  name: 'identities'
  params: {
    factoryIdentityName: '${abbrs.userAssignedIdentity}${environmentName}-factory'
    buildIdentityName: '${abbrs.userAssignedIdentity}${environmentName}-image-builder'
    location: location
    tags: allTags
  }
}

module serviceBus 'app/servicebus.bicep' = {
  scope: factoryGroup
  name: 'servicebus'
  params: {
    name: '${abbrs.serviceBusNamespace}${resourceToken}'
    location: location
    tags: allTags
    queueNames: queueNames
    factoryPrincipalId: identities.outputs.factoryPrincipalId
    onPremPrincipalId: onPremPrincipalId
  }
}

module keyVault 'app/keyvault.bicep' = {
  scope: factoryGroup
  name: 'keyvault'
  params: {
    // Purge protection keeps a deleted vault's name for 90 days: the generation makes a new one.
    name: keyVaultGeneration == '1' ? '${abbrs.keyVault}${resourceToken}' : '${abbrs.keyVault}${resourceToken}-g${keyVaultGeneration}'
    location: location
    tags: allTags
    factoryPrincipalId: identities.outputs.factoryPrincipalId
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module network 'app/network.bicep' = if (buildNetwork.mode == 'create') {
  scope: factoryGroup
  name: 'network'
  params: {
    vnetName: '${abbrs.virtualNetwork}${environmentName}-build'
    nsgName: '${abbrs.networkSecurityGroup}${environmentName}-build'
    location: location
    tags: allTags
    addressPrefix: buildNetwork.?addressPrefix ?? '10.40.0.0/22'
  }
}

// Existing subnets (the network team's): join rights only (infra/access.json, deployed by
// app/roles.bicep on the build VNET's resource group and on the test subnet). Their NSG and
// private-link policy are theirs to set; preflight checks both before every build and prints the fix.
var existingBuildSubnetId = buildNetwork.mode == 'existing' ? (buildNetwork.?buildSubnetId ?? '') : ''
var existingTestSubnetId = buildNetwork.mode != 'create' ? (buildNetwork.?testSubnetId ?? '') : ''

var buildSubnetId = buildNetwork.mode == 'create' ? network.outputs.buildSubnetId : existingBuildSubnetId
var testSubnetId = buildNetwork.mode == 'create' ? network.outputs.testSubnetId : existingTestSubnetId

module gallery 'app/gallery.bicep' = {
  scope: factoryGroup
  name: 'gallery'
  params: {
    name: '${abbrs.computeGallery}${replace(environmentName, '-', '_')}_eng'
    location: location
    tags: allTags
  }
}

// Build notifications (docs/notifications.md): identity-only topic, CloudEvents 1.0.
module eventGrid 'app/eventgrid.bicep' = {
  scope: factoryGroup
  name: 'eventgrid'
  params: {
    name: '${abbrs.eventGridTopic}${environmentName}-builds'
    location: location
    tags: allTags
  }
}

// Durable Functions' storage provider (docs/deploy.md "Durable backend"). The task hub is named like
// host.json's hubName (%TASK_HUB_NAME%, set by app/function.bicep).
var taskHubName = 'ImageFactory'
module durableTaskScheduler 'app/durable-task-scheduler.bicep' = if (durableBackend == 'azureManaged') {
  scope: factoryGroup
  name: 'durable-task-scheduler'
  params: {
    name: '${abbrs.durableTaskScheduler}${resourceToken}'
    taskHubName: taskHubName
    location: location
    tags: allTags
  }
}

// Every ARM role the factory, the build identity and the app's ENG service principal hold:
// infra/access.json (the `eng` deployment).
module roles 'app/roles.bicep' = {
  name: 'roles'
  params: {
    environmentName: environmentName
    factoryPrincipalId: identities.outputs.factoryPrincipalId
    buildPrincipalId: identities.outputs.buildPrincipalId
    factoryAppEngPrincipalId: factoryAppEngPrincipalId
    factoryGroupName: factoryGroup.name
    templateGroupName: templateGroup.name
    testGroupName: testGroup.name
    galleryName: gallery.outputs.name
    buildIdentityName: identities.outputs.buildIdentityName
    eventGridTopicName: eventGrid.outputs.name
    durableTaskSchedulerName: durableBackend == 'azureManaged' ? durableTaskScheduler.outputs.name : ''
    buildSubnetId: buildSubnetId
    testSubnetId: testSubnetId
  }
}

module function 'app/function.bicep' = {
  scope: factoryGroup
  name: 'function'
  params: {
    name: '${abbrs.functionApp}${resourceToken}'
    planName: '${abbrs.appServicePlan}${resourceToken}'
    storageAccountName: '${abbrs.storageAccount}${resourceToken}'
    location: location
    tags: union(allTags, { 'azd-service-name': 'factory' })
    factoryIdentityId: identities.outputs.factoryIdentityId
    factoryIdentityClientId: identities.outputs.factoryClientId
    factoryPrincipalId: identities.outputs.factoryPrincipalId
    appInsightsConnectionString: monitoring.outputs.connectionString
    serviceBusNamespaceHost: serviceBus.outputs.host
    keyVaultUri: keyVault.outputs.uri
    approvalSigningKeyPreviousUntil: approvalSigningKeyPreviousUntil
    queueNames: queueNames
    engTenantId: tenant().tenantId
    engSubscriptionId: subscription().subscriptionId
    buildIdentityId: identities.outputs.buildIdentityId
    buildIdentityPrincipalId: identities.outputs.buildPrincipalId
    stagingResourceGroupPrefix: stagingGroupPrefix
    testSubnetId: testSubnetId
    factoryAppClientId: factoryAppClientId
    stageTenants: stageTenants
    templateResourceGroup: templateGroup.name
    testVmResourceGroup: testGroup.name
    engGalleryResourceGroup: factoryGroup.name
    engGalleryName: gallery.outputs.name
    notificationsTopicEndpoint: eventGrid.outputs.endpoint
    durableBackend: durableBackend
    taskHubName: taskHubName
    durableTaskSchedulerEndpoint: durableBackend == 'azureManaged' ? durableTaskScheduler.outputs.endpoint : ''
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = factoryGroup.name
output FUNCTION_APP_NAME string = function.outputs.name
output FUNCTION_APP_URL string = function.outputs.url
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.host
output KEY_VAULT_URI string = keyVault.outputs.uri
output FACTORY_PRINCIPAL_ID string = identities.outputs.factoryPrincipalId
output BUILD_IDENTITY_ID string = identities.outputs.buildIdentityId
output ENG_GALLERY_ID string = gallery.outputs.id
output NOTIFICATIONS_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint
output DURABLE_BACKEND string = durableBackend
output DURABLE_TASK_SCHEDULER_ENDPOINT string = durableBackend == 'azureManaged' ? durableTaskScheduler.outputs.endpoint : ''
output DURABLE_TASK_DASHBOARD_URL string = durableBackend == 'azureManaged' ? durableTaskScheduler.outputs.dashboardUrl : ''
output TEMPLATE_RESOURCE_GROUP string = templateGroup.name
output TEST_VM_RESOURCE_GROUP string = testGroup.name
output BUILD_SUBNET_ID string = buildSubnetId
output TEST_SUBNET_ID string = testSubnetId
output BUILD_STAGING_RESOURCE_GROUP_PREFIX string = stagingGroupPrefix
