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
