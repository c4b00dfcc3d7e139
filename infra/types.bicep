// User-defined types shared by infra/main.bicep and its modules (compile-time imports, Bicep >= 0.25).

@export()
@description('Names of the approval queues.')
type queueNamesType = {
  @description('Required. Factory → on-prem: approval requests.')
  requests: string
  @description('Required. On-prem → factory: approval decisions.')
  decisions: string
  @description('Required. Factory → on-prem: decisions the factory refused, with the reason.')
  rejects: string
}

@export()
@description('Where Image Builder builds and test VMs run.')
type buildNetworkType = {
  @description('Required. "none": Image Builder makes its own throwaway network and test VMs need testSubnetId; "create": a new VNET with a build and a test subnet; "existing": subnets the network team owns.')
  mode: 'none' | 'create' | 'existing'
  @description('Optional. mode "create": address space (a /22 or larger; the first /24 is the build subnet, the second the test subnet).')
  addressPrefix: string?
  @description('Optional. mode "existing": resource id of the build subnet (same region as the builds, privateLinkServiceNetworkPolicies Disabled, NSG allowing AzureLoadBalancer to 60000-60001).')
  buildSubnetId: string?
  @description('Optional. mode "existing" or "none": resource id of the subnet test VMs join.')
  testSubnetId: string?
}

@export()
@description('TEST and PROD tenants, known after onboarding them (infra/tenant/main.bicep).')
type stageTenantsType = {
  @description('Required. TEST tenant id (empty until onboarded).')
  testTenantId: string
  @description('Required. TEST subscription id.')
  testSubscriptionId: string
  @description('Required. Object id of the multi-tenant app\'s service principal in the TEST tenant (after admin consent).')
  testPrincipalId: string
  @description('Required. PROD tenant id (empty until onboarded).')
  prodTenantId: string
  @description('Required. PROD subscription id.')
  prodSubscriptionId: string
  @description('Required. Object id of the multi-tenant app\'s service principal in the PROD tenant.')
  prodPrincipalId: string
  @description('Optional. Resource group of the TEST gallery (default rg-images, as docs/onboarding-a-tenant.md creates it).')
  testGalleryResourceGroup: string?
  @description('Optional. TEST gallery (default gal_test, infra/tenant/main.bicep\'s default).')
  testGalleryName: string?
  @description('Optional. Resource group of the PROD gallery (default rg-images).')
  prodGalleryResourceGroup: string?
  @description('Optional. PROD gallery (default gal_prod).')
  prodGalleryName: string?
}

@export()
@description('A gallery image definition.')
type imageDefinitionType = {
  @description('Required. Image definition name (the pipeline\'s image).')
  name: string
  @description('Required. OS type.')
  osType: 'Linux' | 'Windows'
  @description('Required. Identifier publisher.')
  publisher: string
  @description('Required. Identifier offer.')
  offer: string
  @description('Required. Identifier SKU.')
  sku: string
}
