/** ResourceProviderPort over @azure/arm-resources (GET /subscriptions/{s}/providers/{ns}). */
import type { ResourceProviderPort } from '../ports/azure';
import type { ClientFactory } from './clients';
import { azureCall } from './errors';

export class ResourceProviderAdapter implements ResourceProviderPort {
  constructor(private readonly clients: ClientFactory) {}

  async registrationState(subscriptionId: string, namespace: string): Promise<string> {
    const resources = this.clients.resources(subscriptionId);
    return azureCall(
      {
        operation: `read the registration of resource provider ${namespace}`,
        resource: `/subscriptions/${subscriptionId}/providers/${namespace}`,
        principal: this.clients.runtime.store.principal(this.clients.credentialName),
      },
      async () => (await resources.providers.get(namespace)).registrationState ?? 'NotRegistered',
    );
  }
}
