import { queueNamesType, stageTenantsType } from '../types.bicep'

// The factory's function app on Flex Consumption (Node 22: Node 20 reached end of life on 2026-04-30),
// identity-based connections only:
// storage with shared keys disabled, Service Bus by namespace, secrets as Key Vault references.
@description('Required. Function app name.')
param name string
@description('Required. Flex Consumption plan name.')
param planName string
@description('Required. Storage account name (durable state and deployment package).')
param storageAccountName string
@description('Required. Region.')
param location string
@description('Optional. Tags.')
param tags object = {}
@description('Required. Resource id of the factory\'s user-assigned identity.')
param factoryIdentityId string
@description('Required. Client id of the factory\'s user-assigned identity.')
param factoryIdentityClientId string
@description('Required. Principal id of the factory\'s user-assigned identity.')
param factoryPrincipalId string
@description('Required. Application Insights connection string.')
param appInsightsConnectionString string
@description('Required. Service Bus namespace host name (<name>.servicebus.windows.net).')
param serviceBusNamespaceHost string
@description('Required. Key Vault URI (signing key, certificate credentials).')
param keyVaultUri string

@description('End of a signing key rotation overlap (ISO 8601 with zone, e.g. 2026-12-08T12:00:00Z); empty = no rotation under way')
param approvalSigningKeyPreviousUntil string = ''
@description('Required. Approval queue names.')
param queueNames queueNamesType
@description('Required. ENG tenant id.')
param engTenantId string
@description('Required. ENG subscription id.')
param engSubscriptionId string
@description('Required. Resource id of the Image Builder build identity.')
param buildIdentityId string
@description('Required. Principal id of the Image Builder build identity.')
param buildIdentityPrincipalId string
@description('Optional. Prefix of the per-template staging resource groups (<prefix><template name>, created by Image Builder); empty for Image Builder\'s IT_ groups.')
param stagingResourceGroupPrefix string = ''
@description('Optional. Subnet for test VMs.')
param testSubnetId string = ''
@description('Optional. Client id of the multi-tenant app used for TEST/PROD.')
param factoryAppClientId string = ''
@description('Required. Resource group of the image templates (pipelines: ${TEMPLATE_RESOURCE_GROUP}).')
param templateResourceGroup string
@description('Required. Resource group of the test VMs (pipelines: ${TEST_VM_RESOURCE_GROUP}).')
param testVmResourceGroup string
@description('Required. Resource group of the ENG gallery.')
param engGalleryResourceGroup string
@description('Required. ENG gallery name.')
param engGalleryName string
@description('Required. Publish endpoint of the notifications topic (infra/app/eventgrid.bicep).')
param notificationsTopicEndpoint string
@description('Optional. Also post each build event to a Teams/Slack incoming webhook whose URL is the Key Vault secret notifications-webhook-url (the URL is the secret).')
param notificationsWebhook bool = false
@description('Optional. Storage provider of Durable Functions (infra/main.bicep durableBackend).')
param durableBackend 'azureManaged' | 'azureStorage' = 'azureManaged'
@description('Required. Task hub name (host.json hubName is %TASK_HUB_NAME%; the scheduler\'s task hub has the same name).')
param taskHubName string
@description('Optional. Durable Task Scheduler endpoint (app/durable-task-scheduler.bicep); required when durableBackend is azureManaged.')
param durableTaskSchedulerEndpoint string = ''
@description('Optional. TEST/PROD tenants, subscriptions and the object ids of the multi-tenant app\'s service principal there; empty until onboarded (infra/tenant).')
param stageTenants stageTenantsType = {
  testTenantId: ''
  testSubscriptionId: ''
  testPrincipalId: ''
  prodTenantId: ''
  prodSubscriptionId: ''
  prodPrincipalId: ''
}

// The host keeps its leases and the deployment package in blobs; with the Azure Storage provider,
// Durable Functions also keeps its task hub in queues and tables (not needed with the scheduler).
var storageDataRoles = union(
  [
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  ],
  durableBackend == 'azureStorage'
    ? [
        '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
        '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
      ]
    : []
)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    defaultToOAuthAuthentication: true
  }
  resource blobs 'blobServices' = {
    name: 'default'
    resource deployment 'containers' = {
      name: 'deploymentpackage'
    }
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// Credential profiles (src/config/azure.ts): ENG as the managed identity; TEST/PROD as the multi-tenant
// app with the managed identity's token as federated assertion (no secret), once onboarded.
var engProfile = {
  eng: {
    tenantId: engTenantId
    kind: 'managedIdentity'
    clientId: factoryIdentityClientId
    principalId: factoryPrincipalId
    displayName: 'factory managed identity (ENG)'
  }
}
var stageProfiles = [
  { name: 'test', tenantId: stageTenants.testTenantId, principalId: stageTenants.testPrincipalId }
  { name: 'prod', tenantId: stageTenants.prodTenantId, principalId: stageTenants.prodPrincipalId }
]
var onboarded = filter(stageProfiles, p => !empty(factoryAppClientId) && !empty(p.tenantId) && !empty(p.principalId))
var credentials = union(engProfile, toObject(onboarded, p => p.name, p => {
  tenantId: p.tenantId
  kind: 'workloadIdentity'
  clientId: factoryAppClientId
  principalId: p.principalId
  displayName: 'image-factory (${toUpper(p.name)})'
  managedIdentityClientId: factoryIdentityClientId
}))

// Every setting the app reads (src/config/*.ts) is set here; test/infra/consistency.test.ts checks it.
var appSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${factoryIdentityClientId};Authorization=AAD'
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: factoryIdentityClientId
  TASK_HUB_NAME: taskHubName
  PIPELINES_DIR: 'pipelines'
  ENVIRONMENTS_FILE: 'environments.yaml'
  ARM_ENDPOINT: environment().resourceManager
  AZURE_AUTHORITY_HOST: environment().authentication.loginEndpoint
  ARM_TOKEN_SCOPE: '${environment().resourceManager}.default'
  ARM_POLL_INTERVAL_MS: '2000'
  AZURE_CREDENTIALS: string(credentials)
  AZURE_CLIENT_ID: factoryIdentityClientId
  FACTORY_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/factory-client-secret/)'
  FACTORY_CLIENT_CERTIFICATE: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/factory-client-certificate/)'
  APPROVAL_REQUESTS_QUEUE: queueNames.requests
  APPROVAL_DECISIONS_QUEUE: queueNames.decisions
  APPROVAL_REJECTS_QUEUE: queueNames.rejects
  APPROVAL_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/approval-signing-key/)'
  // Rotation (docs/approvals-integration.md): read only while the overlap end below is set.
  APPROVAL_SIGNING_KEY_PREVIOUS: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/approval-signing-key-previous/)'
  APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: approvalSigningKeyPreviousUntil
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespaceHost
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: factoryIdentityClientId
  PATCH_CADENCE_SCHEDULE: '0 0 * * * *'
  RETENTION_SCHEDULE: '0 30 3 * * *'
  BUILD_SLOTS_PER_SUBSCRIPTION_REGION: '4'
  // API abuse limits and identity (docs/security.md); empty host name = WEBSITE_HOSTNAME.
  API_PUBLIC_HOST_NAME: ''
  API_EASY_AUTH: 'false'
  API_RATE_LIMIT_PER_MINUTE: '30'
  API_RATE_LIMIT_BURST: '10'
  MAX_QUEUED_BUILDS_PER_PIPELINE: '5'
  MAX_QUEUED_BUILDS_PER_BUILD_SLOT: '20'
  // The release drain switch (docs/runbook.md "Release"): set to 'true' in the portal while draining.
  FACTORY_DRAINING: 'false'
  ENG_TENANT_ID: engTenantId
  ENG_SUBSCRIPTION_ID: engSubscriptionId
  TEST_TENANT_ID: stageTenants.testTenantId
  TEST_SUBSCRIPTION_ID: stageTenants.testSubscriptionId
  PROD_TENANT_ID: stageTenants.prodTenantId
  PROD_SUBSCRIPTION_ID: stageTenants.prodSubscriptionId
  BUILD_IDENTITY_ID: buildIdentityId
  BUILD_IDENTITY_PRINCIPAL_ID: buildIdentityPrincipalId
  BUILD_STAGING_RESOURCE_GROUP_PREFIX: stagingResourceGroupPrefix
  TEST_SUBNET_ID: testSubnetId
  TEMPLATE_RESOURCE_GROUP: templateResourceGroup
  TEST_VM_RESOURCE_GROUP: testVmResourceGroup
  ENG_GALLERY_RESOURCE_GROUP: engGalleryResourceGroup
  ENG_GALLERY_NAME: engGalleryName
  // infra/tenant/main.bicep's defaults unless onboarding chose others
  TEST_GALLERY_RESOURCE_GROUP: stageTenants.?testGalleryResourceGroup ?? 'rg-images'
  TEST_GALLERY_NAME: stageTenants.?testGalleryName ?? 'gal_test'
  PROD_GALLERY_RESOURCE_GROUP: stageTenants.?prodGalleryResourceGroup ?? 'rg-images'
  PROD_GALLERY_NAME: stageTenants.?prodGalleryName ?? 'gal_prod'
  // docs/notifications.md
  NOTIFICATIONS_TOPIC_ENDPOINT: notificationsTopicEndpoint
  NOTIFICATIONS_CREDENTIAL: 'eng'
  NOTIFICATIONS_WEBHOOK_ATTEMPTS: '4'
  // Only set when enabled: an unresolvable reference would reach the app as its literal text.
  NOTIFICATIONS_WEBHOOK_URL: notificationsWebhook ? '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/notifications-webhook-url/)' : ''
}

// Durable Task Scheduler (durableBackend 'azureManaged'; docs/deploy.md "Durable backend"). host.json
// is one file for both backends and keeps the Azure Storage provider (no type = Azure Storage):
// %SETTING% is resolved only in hubName, not in storageProvider.type, so the choice is made here
// with Functions' documented host.json override (app setting AzureFunctionsJobHost__path__to__setting,
// "Override host.json values"). The connection is identity-only: Endpoint, ManagedIdentity and the
// factory identity's client id ("Configure managed identity for Durable Task Scheduler"), whose
// Durable Task Data Contributor role on the scheduler is in infra/access.json.
// test/infra/durable-backend.test.ts checks these settings and that role.
var durableTaskSchedulerSettings = {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${factoryIdentityClientId}'
}
var allAppSettings = union(appSettings, durableBackend == 'azureManaged' ? durableTaskSchedulerSettings : {})

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${factoryIdentityId}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: factoryIdentityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}deploymentpackage'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: factoryIdentityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: 40
        instanceMemoryMB: 2048
        // Durable Functions on Flex Consumption (Microsoft's recommendation): one always-ready instance
        // for the `durable` group (orchestrators, activities, entities), so a build's next step does not
        // wait for a cold start; host.json polls the task hub queues at most every 10 s to match.
        // test/infra/host-json.test.ts checks both.
        alwaysReady: [{ name: 'durable', instanceCount: 1 }]
      }
      runtime: { name: 'node', version: '22' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [for setting in items(allAppSettings): { name: setting.key, value: setting.value }]
    }
  }
}

resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in storageDataRoles: {
    scope: storage
    name: guid(storage.id, factoryPrincipalId, role)
    properties: {
      principalId: factoryPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

output name string = site.name
output resourceId string = site.id
output url string = 'https://${site.properties.defaultHostName}'
output location string = location
