/**
 * ImageUsagePort over @azure/arm-resourcegraph 5 (POST /providers/Microsoft.ResourceGraph/resources,
 * api-version 2024-04-01): which VMs and scale sets reference given gallery image versions.
 */
import type { ImageUsagePort } from '../ports/azure';
import { FactoryError } from '../shared/errors';
import type { ClientFactory } from './clients';
import { azureCall } from './errors';

/** Ids per query: keeps the KQL well under Resource Graph's query length limit. */
const IDS_PER_QUERY = 50;
/** Rows per page; Resource Graph allows up to 1000. */
const PAGE = 1000;
const VERSION_ID =
  /^\/subscriptions\/[^/']+\/resourceGroups\/[^/']+\/providers\/Microsoft\.Compute\/galleries\/[^/']+\/images\/[^/']+\/versions\/[^/']+$/i;

/**
 * The one query shape the simulator models (src/local/azure-sim/providers/resourcegraph.ts): change
 * both together. A VM keeps its image under storageProfile, a scale set under virtualMachineProfile;
 * ids compare case-insensitively (ARM ids are case-insensitive).
 */
export function imageUsageQuery(versionIds: string[]): string {
  return [
    'Resources',
    "| where type =~ 'microsoft.compute/virtualmachines' or type =~ 'microsoft.compute/virtualmachinescalesets'",
    '| extend imageId = tolower(tostring(coalesce(properties.storageProfile.imageReference.id, properties.virtualMachineProfile.storageProfile.imageReference.id)))',
    `| where imageId in~ (${versionIds.map((id) => `'${id.toLowerCase()}'`).join(', ')})`,
    '| project id, type, imageId',
  ].join('\n');
}

export class ImageUsageAdapter implements ImageUsagePort {
  constructor(private readonly clients: ClientFactory) {}

  async usersOf(args: { subscriptionIds: string[]; versionIds: string[] }): Promise<Map<string, string[]>> {
    const bad = args.versionIds.filter((id) => !VERSION_ID.test(id));
    if (bad.length > 0)
      throw new FactoryError(
        'InvalidImageVersionId',
        `Not gallery image version ids: ${bad.map((id) => `'${id}'`).join(', ')}`,
      );
    const out = new Map<string, string[]>();
    if (args.versionIds.length === 0 || args.subscriptionIds.length === 0) return out;
    const client = this.clients.resourceGraph();
    for (let i = 0; i < args.versionIds.length; i += IDS_PER_QUERY) {
      const query = imageUsageQuery(args.versionIds.slice(i, i + IDS_PER_QUERY));
      let skipToken: string | undefined;
      do {
        const page = await azureCall(
          {
            operation: 'query Azure Resource Graph for VMs and scale sets using image versions',
            principal: this.clients.runtime.store.principal(this.clients.credentialName),
          },
          () =>
            client.resources({
              subscriptions: args.subscriptionIds,
              query,
              options: { top: PAGE, resultFormat: 'objectArray', ...(skipToken ? { skipToken } : {}) },
            }),
        );
        const rows = Array.isArray(page.data) ? (page.data as unknown[]) : [];
        for (const row of rows) {
          const { id, imageId } = (row ?? {}) as { id?: unknown; imageId?: unknown };
          if (typeof id !== 'string' || typeof imageId !== 'string') continue;
          const users = out.get(imageId) ?? [];
          users.push(id);
          out.set(imageId, users);
        }
        skipToken = page.skipToken;
      } while (skipToken !== undefined);
    }
    return out;
  }
}
