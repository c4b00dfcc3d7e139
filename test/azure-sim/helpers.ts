import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from '@azure/identity';
import {
  startAzureSimulator,
  createStandardWorld,
  type AzureSimulator,
  type StandardWorld,
  type SimulatorOptions,
} from '../../src/local/azure-sim';

export interface Env {
  sim: AzureSimulator;
  world: StandardWorld;
  secretCredential(tenantId: string): TokenCredential;
  /** The factory's managed identity, which infra/access.json grants the ENG roles. */
  factoryCredential(): TokenCredential;
  certCredential(tenantId: string): TokenCredential;
  /** Options for SDK clients: endpoint, trust, fast polling, no slow retries. */
  clientOptions(extra?: Record<string, unknown>): {
    endpoint: string;
    tlsOptions: { ca: string };
    retryOptions: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
    [k: string]: unknown;
  };
}

export async function startEnv(options: SimulatorOptions = {}): Promise<Env> {
  const sim = await startAzureSimulator({ seed: 7, ...options });
  const world = createStandardWorld(sim);
  const identityOptions = () => ({
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: sim.ca },
  });
  return {
    sim,
    world,
    secretCredential: (tenantId) =>
      new ClientSecretCredential(
        tenantId,
        world.factoryApp.appId,
        world.factoryApp.clientSecret,
        identityOptions(),
      ),
    factoryCredential: () => ({
      // The managed identity endpoint protocol (IDENTITY_ENDPOINT/IDENTITY_HEADER, api-version
      // 2019-08-01), called directly so the test does not depend on process.env.
      async getToken(scopes: string | string[]) {
        const scope = (Array.isArray(scopes) ? scopes[0] : scopes) ?? 'https://management.azure.com/.default';
        const url = new URL(sim.managedIdentityEndpoint.url);
        url.searchParams.set('api-version', '2019-08-01');
        url.searchParams.set('resource', scope.replace(/\.default$/, ''));
        url.searchParams.set('client_id', world.factoryIdentity.clientId);
        const response = await fetch(url, {
          headers: { 'X-IDENTITY-HEADER': sim.managedIdentityEndpoint.header },
        });
        const body = (await response.json()) as { access_token: string; expires_on: string };
        return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
      },
    }),
    certCredential: (tenantId) =>
      new ClientCertificateCredential(
        tenantId,
        world.factoryApp.appId,
        { certificate: world.factoryApp.certificateWithKeyPem },
        identityOptions(),
      ),
    clientOptions: (extra = {}) => ({
      endpoint: sim.armEndpoint,
      tlsOptions: { ca: sim.ca },
      retryOptions: { maxRetries: 0, retryDelayInMs: 1, maxRetryDelayInMs: 5 },
      ...extra,
    }),
  };
}

export async function errorOf(
  p: Promise<unknown>,
): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { statusCode?: number; code?: string; message?: string };
    return { statusCode: err.statusCode, code: err.code, message: String(err.message) };
  }
  throw new Error('expected the call to fail');
}
