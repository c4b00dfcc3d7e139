/**
 * The app settings that make Image Factory talk to a simulated Azure seeded with the standard world.
 * As infra/app/function.bicep sets them, "eng" is the factory's managed identity (kind
 * managedIdentity; infra/access.json grants it the ENG roles). TEST and PROD are the multi-tenant app
 * with two different auth methods: test → clientCertificate, prod → workloadIdentity (the managed
 * identity's token as federated assertion). "factory" is the managed identity again (its old name),
 * and "engApp" the app's service principal in ENG with a client secret (test-only: it holds only
 * Reader on the ENG gallery, the auxiliary-token side of an ENG → TEST copy).
 * Writes the simulator's CA certificate to `options.caFile` (or a temp file) so AZURE_CA_CERT_FILE
 * can point at it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CredentialProfile } from '../config/azure';
import type { AzureSimulator } from './azure-sim/api';
import type { StandardWorld } from './azure-sim/world';

export const WORLD_SECRET_SETTING = 'FACTORY_CLIENT_SECRET';
export const WORLD_CERTIFICATE_SETTING = 'FACTORY_CLIENT_CERTIFICATE';

export function settingsForWorld(
  sim: AzureSimulator,
  world: StandardWorld,
  options?: { caFile: string },
): Record<string, string> {
  const caFile = options?.caFile ?? join(mkdtempSync(join(tmpdir(), 'image-factory-sim-')), 'ca.pem');
  writeFileSync(caFile, sim.ca, { mode: 0o600 });
  const app = world.factoryApp;
  const credentials: Record<string, CredentialProfile> = {
    eng: {
      tenantId: world.factoryIdentity.tenantId,
      kind: 'managedIdentity',
      clientId: world.factoryIdentity.clientId,
      principalId: world.factoryIdentity.principalId,
      displayName: 'factory managed identity (ENG)',
    },
    engApp: {
      tenantId: world.eng.tenantId,
      kind: 'clientSecret',
      clientId: app.appId,
      principalId: world.eng.factoryPrincipalId,
      displayName: `${app.displayName} (${world.eng.displayName})`,
      secretSetting: WORLD_SECRET_SETTING,
    },
    test: {
      tenantId: world.test.tenantId,
      kind: 'clientCertificate',
      clientId: app.appId,
      principalId: world.test.factoryPrincipalId,
      displayName: `${app.displayName} (${world.test.displayName})`,
      certificateSetting: WORLD_CERTIFICATE_SETTING,
    },
    prod: {
      tenantId: world.prod.tenantId,
      kind: 'workloadIdentity',
      clientId: app.appId,
      principalId: world.prod.factoryPrincipalId,
      displayName: `${app.displayName} (${world.prod.displayName})`,
      managedIdentityClientId: world.factoryIdentity.clientId,
    },
    factory: {
      tenantId: world.factoryIdentity.tenantId,
      kind: 'managedIdentity',
      clientId: world.factoryIdentity.clientId,
      principalId: world.factoryIdentity.principalId,
      displayName: `${world.factoryIdentity.id.split('/').pop() ?? ''} (managed identity)`,
    },
  };
  return {
    ARM_ENDPOINT: sim.armEndpoint,
    AZURE_AUTHORITY_HOST: sim.authorityHost,
    AZURE_CA_CERT_FILE: caFile,
    AZURE_CREDENTIALS: JSON.stringify(credentials),
    [WORLD_SECRET_SETTING]: app.clientSecret,
    [WORLD_CERTIFICATE_SETTING]: app.certificateWithKeyPem,
    IDENTITY_ENDPOINT: sim.managedIdentityEndpoint.url,
    IDENTITY_HEADER: sim.managedIdentityEndpoint.header,
    // main.bicep output NOTIFICATIONS_TOPIC_ENDPOINT (function.bicep sets it; eng publishes)
    NOTIFICATIONS_TOPIC_ENDPOINT: world.notificationsTopic.endpoint,
  };
}

/**
 * Settings the example pipelines refer to as ${NAME}: the simulated world's tenants, subscriptions,
 * resource groups, galleries, build identity and subnets. In Azure the same names are app settings
 * (infra/app/function.bicep).
 */
export function pipelineSettingsForWorld(world: StandardWorld): Record<string, string> {
  return {
    TEMPLATE_RESOURCE_GROUP: world.templateResourceGroup,
    TEST_VM_RESOURCE_GROUP: world.testVm.resourceGroup,
    ENG_GALLERY_RESOURCE_GROUP: world.eng.galleryResourceGroup,
    ENG_GALLERY_NAME: world.eng.galleryName,
    TEST_GALLERY_RESOURCE_GROUP: world.test.galleryResourceGroup,
    TEST_GALLERY_NAME: world.test.galleryName,
    PROD_GALLERY_RESOURCE_GROUP: world.prod.galleryResourceGroup,
    PROD_GALLERY_NAME: world.prod.galleryName,
    ENG_TENANT_ID: world.eng.tenantId,
    ENG_SUBSCRIPTION_ID: world.eng.subscriptionId,
    TEST_TENANT_ID: world.test.tenantId,
    TEST_SUBSCRIPTION_ID: world.test.subscriptionId,
    PROD_TENANT_ID: world.prod.tenantId,
    PROD_SUBSCRIPTION_ID: world.prod.subscriptionId,
    BUILD_IDENTITY_ID: world.buildIdentity.id,
    BUILD_IDENTITY_PRINCIPAL_ID: world.buildIdentity.principalId,
    BUILD_STAGING_RESOURCE_GROUP_PREFIX: world.staging.resourceGroupPrefix,
    TEST_SUBNET_ID: world.testVm.subnetId,
  };
}
