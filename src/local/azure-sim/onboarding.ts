/**
 * The documented human steps, as code the simulated world runs, so tests see exactly what a person
 * following the docs would grant and nothing more:
 *   - infra/scripts/create-multitenant-app.sh (docs/deploy.md): the multi-tenant app, its service
 *     principal in ENG, and a federated credential trusting the factory's managed identity;
 *   - docs/onboarding-a-tenant.md per TEST/PROD tenant: admin consent (the app's service principal
 *     there), `az group create -n rg-images`, and infra/tenant/main.bicep (gallery + the `stage`
 *     deployment of infra/access.json).
 * - Resource providers: infra/scripts/register-providers.sh (azd preprovision hook; TEST/PROD onboarding).
 */
import type { AzureSimulator } from './api';
import { deployAccess, type AccessDescription, type DeployedAccess } from './access';
import { registeredProviders } from '../../domain/resource-providers';

export interface MultiTenantApp {
  appId: string;
  displayName: string;
  /** The app's service principal in the home (ENG) tenant, created by `az ad sp create`. */
  engPrincipalId: string;
  federatedCredential: { issuer: string; subject: string };
}

/**
 * infra/scripts/create-multitenant-app.sh. The script creates only the federated credential; the
 * secret and certificate are test-only extras so tests can exercise the clientSecret and
 * clientCertificate profile kinds that docs/onboarding-a-tenant.md offers as alternatives.
 */
export function createMultiTenantApp(
  sim: AzureSimulator,
  args: {
    appId: string;
    displayName: string;
    homeTenantId: string;
    factoryIdentityPrincipalId: string;
    testOnlySecret: string;
    testOnlyCertificatePem: string;
  },
): MultiTenantApp {
  const federatedCredential = {
    issuer: `${sim.authorityHost}/${args.homeTenantId}/v2.0`,
    subject: args.factoryIdentityPrincipalId,
  };
  sim.addAppRegistration({
    appId: args.appId,
    displayName: args.displayName,
    homeTenantId: args.homeTenantId,
    secrets: [args.testOnlySecret],
    certificates: [args.testOnlyCertificatePem],
    federated: [federatedCredential],
  });
  const engPrincipalId = sim.addServicePrincipal(args.homeTenantId, args.appId);
  return { appId: args.appId, displayName: args.displayName, engPrincipalId, federatedCredential };
}

export interface OnboardedStage {
  factoryPrincipalId: string;
  galleryResourceGroup: string;
  galleryName: string;
  galleryId: string;
  access: DeployedAccess;
}

/** docs/onboarding-a-tenant.md steps 1–2 for one TEST or PROD tenant. */
export function onboardStageTenant(
  sim: AzureSimulator,
  access: AccessDescription,
  args: {
    tenantId: string;
    subscriptionId: string;
    appId: string;
    stageName: 'TEST' | 'PROD';
    environmentName: string;
    location: string;
  },
): OnboardedStage {
  // 1. admin consent creates the app's service principal in this tenant
  const factoryPrincipalId = sim.addServicePrincipal(args.tenantId, args.appId);
  // 2. az group create -n rg-images; az deployment group create … infra/tenant/main.bicep
  const galleryResourceGroup = 'rg-images';
  const groupId = sim.addResourceGroup(args.subscriptionId, galleryResourceGroup, args.location);
  const galleryName = `gal_${args.stageName.toLowerCase()}`; // the template's default
  const galleryId = sim.addGallery({
    subscriptionId: args.subscriptionId,
    resourceGroup: galleryResourceGroup,
    name: galleryName,
    location: args.location,
  });
  const deployed = deployAccess(sim, access, 'stage', {
    roleNameSuffix: ` (${args.environmentName} ${args.stageName})`,
    assignableScope: groupId,
    principals: { factoryAppStage: factoryPrincipalId },
    scopes: {
      stageSubscription: `/subscriptions/${args.subscriptionId}`,
      stageGroup: groupId,
      stageGallery: galleryId,
    },
  });
  return { factoryPrincipalId, galleryResourceGroup, galleryName, galleryId, access: deployed };
}

/**
 * Onboarding step, as code: the resource providers a human registers before first use — ENG by the
 * azd preprovision hook, TEST/PROD during onboarding (docs/onboarding-a-tenant.md), both with
 * infra/scripts/register-providers.sh, whose `--wait` returns once each is Registered. Exactly
 * infra/providers.json's list; nothing else is registered (Azure's defaults aside).
 */
export function registerProviders(sim: AzureSimulator, subscriptionId: string, kind: 'eng' | 'stage'): void {
  for (const namespace of registeredProviders(kind)) sim.registerProvider(subscriptionId, namespace);
}
