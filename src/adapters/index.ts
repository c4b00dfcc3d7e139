/** Builds the Azure ports (one adapter per port) from the checked settings. */
import type { AppConfig } from '../config';
import type {
  AccessCheckPort,
  AzurePorts,
  CredentialName,
  GalleryPort,
  ImageBuilderPort,
  ImageUsagePort,
  NetworkPort,
  PlatformImagePort,
  PrincipalInfo,
  ResourceProviderPort,
  TestVmPort,
} from '../ports/azure';
import { AccessAdapter } from './access';
import { ClientFactory, type AdapterRuntime } from './clients';
import { CredentialStore } from './credentials';
import { GalleryAdapter, PlatformImageAdapter } from './galleries';
import { ImageBuilderAdapter } from './imageBuilder';
import { NetworkAdapter } from './network';
import { ResourceProviderAdapter } from './providers';
import { ImageUsageAdapter } from './resourceGraph';
import { TestVmAdapter } from './testVms';

export interface AzurePortsOptions {
  log?: (line: string) => void;
  /** Where secretSetting / certificateSetting / IDENTITY_ENDPOINT are read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Poll interval of the short LROs the adapters await (default 2000 ms). */
  updateIntervalInMs?: number;
  /** How long one request to ARM or Blob storage may take (default ARM_REQUEST_TIMEOUT_MS, 2 minutes). */
  requestTimeoutMs?: number;
}

export function createAzurePorts(config: AppConfig, options: AzurePortsOptions = {}): AzurePorts {
  const updateIntervalInMs = options.updateIntervalInMs ?? 2000;
  const runtime: AdapterRuntime = {
    store: new CredentialStore(config, {
      ...(options.env === undefined ? {} : { env: options.env }),
      transientRetryDelayMs: updateIntervalInMs,
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    }),
    updateIntervalInMs,
    log: options.log ?? ((): void => undefined),
  };
  const factories = new Map<string, ClientFactory>();
  const factory = (credential: CredentialName, auxiliaryTenantIds: string[] = []): ClientFactory => {
    runtime.store.profile(credential); // unknown profile → InvalidConfig now, not at first call
    const tenants = [...new Set(auxiliaryTenantIds)].sort();
    const key = `${credential}\u0000${tenants.join(',')}`;
    let found = factories.get(key);
    if (found === undefined) {
      found = new ClientFactory(runtime, credential, tenants);
      factories.set(key, found);
    }
    return found;
  };
  return {
    imageBuilder: (credential): ImageBuilderPort => new ImageBuilderAdapter(factory(credential)),
    galleries: (credential, galleryOptions): GalleryPort =>
      new GalleryAdapter(factory(credential, galleryOptions?.auxiliaryTenantIds)),
    platformImages: (credential): PlatformImagePort => new PlatformImageAdapter(factory(credential)),
    testVms: (credential): TestVmPort => new TestVmAdapter(factory(credential)),
    access: (credential): AccessCheckPort => new AccessAdapter(factory(credential)),
    network: (credential): NetworkPort => new NetworkAdapter(factory(credential)),
    resourceProviders: (credential): ResourceProviderPort => new ResourceProviderAdapter(factory(credential)),
    imageUsage: (credential): ImageUsagePort => new ImageUsageAdapter(factory(credential)),
    principal: (credential): PrincipalInfo => runtime.store.principal(credential),
  };
}

export { CredentialStore } from './credentials';
export { classifyAzureError, scrubSecrets } from './errors';
