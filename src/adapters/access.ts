/** AccessCheckPort over @azure/arm-authorization (role assignments/definitions) and @azure/arm-resources. */
import type { AccessCheckPort, RoleGrant } from '../ports/azure';
import type { ClientFactory } from './clients';
import { parseResourceId, segment } from './clients';
import { azureCall, orUndefined, type ErrorContext } from './errors';

/** api-versions per resource type for generic reads (getById needs one): the ones the typed SDK clients pin. */
const API_VERSIONS: Record<string, string> = {
  'microsoft.compute/galleries': '2025-12-03',
  'microsoft.compute/galleries/images': '2025-12-03',
  'microsoft.compute/galleries/images/versions': '2025-12-03',
  'microsoft.compute/images': '2026-04-01',
  'microsoft.compute/virtualmachines': '2026-04-01',
  'microsoft.compute/disks': '2026-03-02',
  'microsoft.network/virtualnetworks': '2026-01-01',
  'microsoft.network/networkinterfaces': '2026-01-01',
  'microsoft.network/networksecuritygroups': '2026-01-01',
  'microsoft.managedidentity/userassignedidentities': '2023-01-31',
  'microsoft.storage/storageaccounts': '2023-05-01',
  'microsoft.virtualmachineimages/imagetemplates': '2025-10-01',
};

function isUnder(scope: string, parent: string): boolean {
  const a = scope.toLowerCase().replace(/\/+$/, '');
  const p = parent.toLowerCase().replace(/\/+$/, '');
  return p === '/' || a === p || a.startsWith(`${p}/`);
}

// ARM action patterns: case-insensitive; '*' matches any run of characters, and a '/*/' segment
// may also match no segment at all (Managed Identity Operator's
// 'userAssignedIdentities/*/assign/action' covers 'userAssignedIdentities/assign/action').
export function actionMatches(pattern: string, action: string): boolean {
  const escape = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const source = pattern
    .split('/*/')
    .map((part) => part.split('*').map(escape).join('.*'))
    .join('(?:/.*)?/');
  return new RegExp(`^${source}$`, 'i').test(action);
}

/**
 * A role definition read at the scope being checked rather than by its id (which is
 * subscription-scoped): roleDefinitions/read is then needed only where the principal already reads,
 * e.g. a TEST/PROD gallery where infra grants the app's service principal Reader and nothing above.
 */
async function readRoleDefinition(
  authorization: ReturnType<ClientFactory['authorization']>,
  scope: string,
  roleDefinitionId: string,
): Promise<Awaited<ReturnType<ReturnType<ClientFactory['authorization']>['roleDefinitions']['get']>>> {
  return authorization.roleDefinitions.get(scope, roleDefinitionId.split('/').pop() ?? roleDefinitionId);
}

export class AccessAdapter implements AccessCheckPort {
  constructor(private readonly clients: ClientFactory) {}

  private context(operation: string, resource: string): ErrorContext {
    return {
      operation,
      resource,
      principal: this.clients.runtime.store.principal(this.clients.credentialName),
    };
  }

  async listRoleGrants(principalId: string, scope: string): Promise<RoleGrant[]> {
    const subscriptionId = parseResourceId(scope).subscriptionId;
    const authorization = this.clients.authorization(subscriptionId);
    return azureCall(this.context(`list role assignments of ${principalId}`, scope), async () => {
      const grants: RoleGrant[] = [];
      const roleNames = new Map<string, string>();
      for await (const assignment of authorization.roleAssignments.listForScope(scope, {
        filter: `assignedTo('${principalId}')`,
      })) {
        if (assignment.principalId?.toLowerCase() !== principalId.toLowerCase()) continue;
        if (
          assignment.scope === undefined ||
          assignment.roleDefinitionId === undefined ||
          !isUnder(scope, assignment.scope)
        )
          continue;
        let roleName = roleNames.get(assignment.roleDefinitionId.toLowerCase());
        if (roleName === undefined) {
          const definition = await readRoleDefinition(authorization, scope, assignment.roleDefinitionId);
          roleName = definition.roleName ?? assignment.roleDefinitionId;
          roleNames.set(assignment.roleDefinitionId.toLowerCase(), roleName);
        }
        grants.push({ roleDefinitionId: assignment.roleDefinitionId, roleName, scope: assignment.scope });
      }
      return grants;
    });
  }

  async missingActions(principalId: string, scope: string, actions: string[]): Promise<string[]> {
    const grants = await this.listRoleGrants(principalId, scope);
    const authorization = this.clients.authorization(parseResourceId(scope).subscriptionId);
    const permissions = await azureCall(this.context('read role definitions', scope), async () => {
      const result: { actions: string[]; notActions: string[] }[] = [];
      for (const grant of grants) {
        const definition = await readRoleDefinition(authorization, scope, grant.roleDefinitionId);
        for (const permission of definition.permissions ?? []) {
          result.push({ actions: permission.actions ?? [], notActions: permission.notActions ?? [] });
        }
      }
      return result;
    });
    return actions.filter(
      (action) =>
        !permissions.some(
          (permission) =>
            permission.actions.some((pattern) => actionMatches(pattern, action)) &&
            !permission.notActions.some((pattern) => actionMatches(pattern, action)),
        ),
    );
  }

  async getResource(resourceId: string): Promise<{ id: string; location: string } | undefined> {
    const parsed = parseResourceId(resourceId);
    const resources = this.clients.resources(parsed.subscriptionId);
    const context = this.context('read resource', resourceId);
    if (parsed.provider === undefined) {
      if (parsed.resourceGroup === undefined) {
        return { id: `/subscriptions/${parsed.subscriptionId}`, location: '' };
      }
      const group = await orUndefined(context, () =>
        resources.resourceGroups.get(parsed.resourceGroup ?? ''),
      );
      return group === undefined ? undefined : { id: group.id ?? resourceId, location: group.location };
    }
    const types = parsed.segments.filter((_, index) => index % 2 === 0);
    const type = `${parsed.provider}/${types.join('/')}`.toLowerCase();
    // A subnet has no location of its own: it is in its VNET's region.
    if (type === 'microsoft.network/virtualnetworks/subnets') {
      const vnetName = segment(parsed, 'virtualNetworks') ?? '';
      const subnetName = segment(parsed, 'subnets') ?? '';
      const network = this.clients.network(parsed.subscriptionId);
      const subnet = await orUndefined(context, () =>
        network.subnets.get(parsed.resourceGroup ?? '', vnetName, subnetName),
      );
      if (subnet === undefined) return undefined;
      const vnet = await orUndefined(context, () =>
        network.virtualNetworks.get(parsed.resourceGroup ?? '', vnetName),
      );
      return vnet === undefined ? undefined : { id: subnet.id ?? resourceId, location: vnet.location ?? '' };
    }
    const apiVersion = API_VERSIONS[type] ?? '2021-04-01';
    const resource = await orUndefined(context, () => resources.resources.getById(resourceId, apiVersion));
    return resource === undefined
      ? undefined
      : { id: resource.id ?? resourceId, location: resource.location ?? '' };
  }
}
