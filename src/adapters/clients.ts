/** SDK clients per (credential profile, subscription, auxiliary tenants), built once and reused. */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ImageBuilderClient } from '@azure/arm-imagebuilder';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { CredentialName } from '../ports/azure';
import type { CredentialStore } from './credentials';

export interface AdapterRuntime {
  store: CredentialStore;
  /** Poll interval for the short LROs we await (create template/NIC/VM, deletes). */
  updateIntervalInMs: number;
  log: (line: string) => void;
}

export class ClientFactory {
  private readonly cache = new Map<string, unknown>();

  constructor(
    readonly runtime: AdapterRuntime,
    readonly credentialName: CredentialName,
    readonly auxiliaryTenantIds: string[] = [],
  ) {}

  private cached<T>(kind: string, subscriptionId: string, build: () => T): T {
    const key = `${kind}\u0000${subscriptionId}`;
    let client = this.cache.get(key) as T | undefined;
    if (client === undefined) {
      client = build();
      this.cache.set(key, client);
    }
    return client;
  }

  private options(): ReturnType<CredentialStore['clientOptions']> {
    return this.runtime.store.clientOptions(this.credentialName, this.auxiliaryTenantIds);
  }

  private get credential(): ReturnType<CredentialStore['credential']> {
    return this.runtime.store.credential(this.credentialName);
  }

  imageBuilder(subscriptionId: string): ImageBuilderClient {
    return this.cached(
      'aib',
      subscriptionId,
      () => new ImageBuilderClient(this.credential, subscriptionId, this.options()),
    );
  }

  compute(subscriptionId: string): ComputeManagementClient {
    return this.cached(
      'compute',
      subscriptionId,
      () => new ComputeManagementClient(this.credential, subscriptionId, this.options()),
    );
  }

  network(subscriptionId: string): NetworkManagementClient {
    return this.cached(
      'network',
      subscriptionId,
      () => new NetworkManagementClient(this.credential, subscriptionId, this.options()),
    );
  }

  resources(subscriptionId: string): ResourceManagementClient {
    return this.cached(
      'resources',
      subscriptionId,
      () => new ResourceManagementClient(this.credential, subscriptionId, this.options()),
    );
  }

  /** Resource Graph is tenant-level: one client per factory (the subscriptions go in each query). */
  resourceGraph(): ResourceGraphClient {
    return this.cached('resourcegraph', '', () => new ResourceGraphClient(this.credential, this.options()));
  }

  authorization(subscriptionId: string): AuthorizationManagementClient {
    return this.cached(
      'authorization',
      subscriptionId,
      () => new AuthorizationManagementClient(this.credential, subscriptionId, this.options()),
    );
  }
}

/** Parses an ARM resource id into its subscription, group and name/type segments. */
export function parseResourceId(id: string): {
  subscriptionId: string;
  resourceGroup?: string;
  provider?: string;
  /** [type, name, type, name, …] after the provider namespace. */
  segments: string[];
} {
  const parts = id.split('/').filter((part) => part !== '');
  const lower = parts.map((part) => part.toLowerCase());
  const subIndex = lower.indexOf('subscriptions');
  const subscriptionId = subIndex >= 0 ? parts[subIndex + 1] : undefined;
  if (subscriptionId === undefined) throw new Error(`not an ARM resource id: ${id}`);
  const rgIndex = lower.indexOf('resourcegroups');
  const resourceGroup = rgIndex >= 0 ? parts[rgIndex + 1] : undefined;
  const providerIndex = lower.indexOf('providers');
  const provider = providerIndex >= 0 ? parts[providerIndex + 1] : undefined;
  const segments = providerIndex >= 0 ? parts.slice(providerIndex + 2) : [];
  return {
    subscriptionId,
    ...(resourceGroup === undefined ? {} : { resourceGroup }),
    ...(provider === undefined ? {} : { provider }),
    segments,
  };
}

/** `value` of the named type in a parsed id (e.g. "galleries" → gallery name). */
export function segment(parsed: { segments: string[] }, type: string): string | undefined {
  for (let i = 0; i + 1 < parsed.segments.length; i += 2) {
    if (parsed.segments[i]?.toLowerCase() === type.toLowerCase()) return parsed.segments[i + 1];
  }
  return undefined;
}
