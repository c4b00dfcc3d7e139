// The notifications topic (docs/notifications.md): CloudEvents 1.0 in, Entra tokens only
// (disableLocalAuth: no access keys or SAS tokens exist to leak). Who may publish is in
// infra/access.json (factory-eventgrid-sender: EventGrid Data Sender on this topic).
@description('Required. Topic name (3-50 letters, digits and -).')
@minLength(3)
@maxLength(50)
param name string
@description('Required. Region.')
param location string
@description('Optional. Tags.')
param tags object = {}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

@description('The topic\'s resource id.')
output id string = topic.id
@description('The topic\'s name.')
output name string = topic.name
@description('The topic\'s location.')
output location string = topic.location
@description('Publish endpoint (NOTIFICATIONS_TOPIC_ENDPOINT).')
output endpoint string = topic.properties.endpoint
