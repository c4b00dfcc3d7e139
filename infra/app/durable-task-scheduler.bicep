// The Durable Task Scheduler: the managed storage provider Microsoft recommends for Durable Functions
// (its own dashboard, no queue polling). One scheduler, one task hub named like host.json's hubName
// (%TASK_HUB_NAME%). Types, properties and api-version from Azure/bicep-types-az
// generated/durabletask/microsoft.durabletask/2025-11-01/types.md: schedulers needs location,
// properties.sku.name ('Consumption' | 'Dedicated') and properties.ipAllowlist (required); names match
// ^[a-zA-Z0-9-]{3,64}$; properties.endpoint and taskHubs' properties.dashboardUrl are read-only.
// Who may use it is in infra/access.json (factory-durable-task-data-contributor).
@description('Required. Scheduler name (3-64 letters, digits and -).')
@minLength(3)
@maxLength(64)
param name string
@description('Required. Task hub name: the value of TASK_HUB_NAME, which host.json uses as hubName (3-64 letters, digits and -).')
@minLength(3)
@maxLength(64)
param taskHubName string
@description('Required. Region (the function app\'s, to keep orchestration latency low).')
param location string
@description('Optional. Tags.')
param tags object = {}
@description('Optional. Billing SKU: Consumption (pay per action) or Dedicated (capacity units).')
param skuName 'Consumption' | 'Dedicated' = 'Consumption'
@description('Optional. Addresses allowed to reach the scheduler (IPv4, IPv6 or CIDR). Must not be empty: an empty list denies every call (403). Default: any address; access is still Entra-only.')
@minLength(1)
param ipAllowlist string[] = ['0.0.0.0/0']

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: { name: skuName }
    ipAllowlist: ipAllowlist
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

@description('The scheduler\'s resource id (scope of the Durable Task Data Contributor assignment).')
output id string = scheduler.id
@description('The scheduler\'s name.')
output name string = scheduler.name
@description('The scheduler\'s location.')
output location string = scheduler.location
@description('The scheduler endpoint (Endpoint= of DURABLE_TASK_SCHEDULER_CONNECTION_STRING).')
output endpoint string = scheduler.properties.endpoint
@description('The task hub\'s name.')
output taskHubName string = taskHub.name
@description('The task hub\'s dashboard URL (docs/runbook.md "Durable Task Scheduler dashboard").')
output dashboardUrl string = taskHub.properties.dashboardUrl
