import { queueNamesType } from '../types.bicep'

@description('Required. Service Bus namespace name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Tags.')
param tags object = {}
@description('Required. Queue names: requests (factory → on-prem), decisions (on-prem → factory), rejects (refused decisions).')
param queueNames queueNamesType
@description('Required. Principal id of the factory identity.')
param factoryPrincipalId string
@description('Optional. Principal id of the on-prem release-management integration.')
param onPremPrincipalId string = ''

@description('Optional. Deliveries before a message goes to the dead-letter queue.')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int = 5
@description('Optional. Message time to live (ISO 8601); expired messages are dead-lettered, never dropped.')
param messageTimeToLive string = 'P14D'

@description('Optional. How long a message id is remembered for duplicate detection (ISO 8601, 20 s to 7 days).')
param duplicateDetectionWindow string = 'P1D'

var dataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39' // Azure Service Bus Data Sender
var dataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // Azure Service Bus Data Receiver

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: { disableLocalAuth: true, minimumTlsVersion: '1.2' }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queue in items(queueNames): {
    parent: namespace
    name: queue.value
    properties: {
      maxDeliveryCount: maxDeliveryCount
      deadLetteringOnMessageExpiration: true
      lockDuration: 'PT1M'
      defaultMessageTimeToLive: messageTimeToLive
      // A request sent again after a host crash (same message id) reaches release management once;
      // so does a decision on-prem re-sends. Fixed at creation: an existing queue must be recreated.
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    }
  }
]

resource requestsQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: namespace
  name: queueNames.requests
}
resource decisionsQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: namespace
  name: queueNames.decisions
}
resource rejectsQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: namespace
  name: queueNames.rejects
}

// The factory sends requests and rejects, and receives decisions: nothing more.
resource factorySendsRequests 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: requestsQueue
  name: guid(requestsQueue.id, factoryPrincipalId, dataSender)
  properties: { principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender) }
  dependsOn: [queues]
}
resource factorySendsRejects 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: rejectsQueue
  name: guid(rejectsQueue.id, factoryPrincipalId, dataSender)
  properties: { principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender) }
  dependsOn: [queues]
}
resource factoryReceivesDecisions 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: decisionsQueue
  name: guid(decisionsQueue.id, factoryPrincipalId, dataReceiver)
  properties: { principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataReceiver) }
  dependsOn: [queues]
}

// On-prem: the opposite rights.
resource onPremReceivesRequests 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(onPremPrincipalId)) {
  scope: requestsQueue
  name: guid(requestsQueue.id, onPremPrincipalId, dataReceiver)
  properties: { principalId: onPremPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataReceiver) }
  dependsOn: [queues]
}
resource onPremSendsDecisions 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(onPremPrincipalId)) {
  scope: decisionsQueue
  name: guid(decisionsQueue.id, onPremPrincipalId, dataSender)
  properties: { principalId: onPremPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender) }
  dependsOn: [queues]
}

output host string = '${namespace.name}.servicebus.windows.net'
output resourceId string = namespace.id
output name string = namespace.name
output location string = location
