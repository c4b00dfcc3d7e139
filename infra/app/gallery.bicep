import { imageDefinitionType } from '../types.bicep'

@description('Required. ENG compute gallery name (letters, digits, _ and .).')
param name string
@description('Required. Region.')
param location string
@description('Optional. Tags.')
param tags object = {}

@description('Optional. Image definitions (Gen2, TrustedLaunch); default: the example pipelines.')
param images imageDefinitionType[] = [
  { name: 'ubuntu-2204-base', osType: 'Linux', publisher: 'Contoso', offer: 'ubuntu-base', sku: '22.04-gen2' }
  { name: 'windows-2022-base', osType: 'Windows', publisher: 'Contoso', offer: 'windows-base', sku: '2022-gen2' }
]

resource gallery 'Microsoft.Compute/galleries@2023-07-03' = {
  name: name
  location: location
  tags: tags
  properties: { description: 'Image Factory ENG gallery' }
}

resource definitions 'Microsoft.Compute/galleries/images@2023-07-03' = [
  for image in images: {
    parent: gallery
    name: image.name
    location: location
    tags: tags
    properties: {
      osType: image.osType
      osState: 'Generalized'
      hyperVGeneration: 'V2'
      identifier: { publisher: image.publisher, offer: image.offer, sku: image.sku }
      features: [{ name: 'SecurityType', value: 'TrustedLaunch' }]
    }
  }
]

output id string = gallery.id
output name string = gallery.name
output location string = location
