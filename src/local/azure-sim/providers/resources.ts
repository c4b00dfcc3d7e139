/** Microsoft.Resources (subscriptions, resource groups, generic resource list) and Microsoft.Authorization. */
import type { Route, Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';
import { eqi, isObject, str } from '../util';

function rgView(sim: Simulator, id: string): Record<string, unknown> {
  const r = sim.getResource(id);
  if (!r) throw new Error('missing rg');
  return {
    id: r.id,
    name: r.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: r.location,
    tags: { ...r.tags },
    properties: { provisioningState: str(r.properties.provisioningState) ?? 'Succeeded' },
  };
}

function subscription(sim: Simulator, req: ArmRequest): ArmResponse {
  const sub = req.segments[1] ?? '';
  sim.authorize(req.claims, 'Microsoft.Resources/subscriptions/read', `/subscriptions/${sub}`);
  return {
    status: 200,
    body: {
      id: `/subscriptions/${sub}`,
      subscriptionId: sub,
      tenantId: sim.tenantOf(sub),
      displayName: sub,
      state: 'Enabled',
    },
  };
}

function rgScope(req: ArmRequest): { sub: string; rg: string; id: string } {
  const sub = req.segments[1] ?? '';
  const rg = req.segments[3] ?? '';
  return { sub, rg, id: `/subscriptions/${sub}/resourceGroups/${rg}` };
}

function getRg(sim: Simulator, req: ArmRequest): ArmResponse {
  const { sub, rg, id } = rgScope(req);
  sim.authorize(req.claims, 'Microsoft.Resources/subscriptions/resourceGroups/read', id);
  if (!sim.resourceGroup(sub, rg))
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
  return { status: 200, body: rgView(sim, id) };
}

function putRg(sim: Simulator, req: ArmRequest): ArmResponse {
  const { sub, rg, id } = rgScope(req);
  sim.authorize(req.claims, 'Microsoft.Resources/subscriptions/resourceGroups/write', id);
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const existing = sim.resourceGroup(sub, rg);
  if (existing && !eqi(existing.location, location)) {
    throw new ArmError(
      409,
      'InvalidResourceGroupLocation',
      `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`,
    );
  }
  sim.addResourceGroup(
    sub,
    existing?.name ?? rg,
    location,
    isObject(body.tags) ? (body.tags as Record<string, string>) : {},
  );
  return { status: existing ? 200 : 201, body: rgView(sim, id) };
}

function deleteRg(sim: Simulator, req: ArmRequest): ArmResponse {
  const { sub, rg, id } = rgScope(req);
  sim.authorize(req.claims, 'Microsoft.Resources/subscriptions/resourceGroups/delete', id);
  const existing = sim.resourceGroup(sub, rg);
  if (!existing)
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
  // Gone when the operation ends (Azure: Retry-After 15 s; lro.ts).
  const headers = sim.beginOperation({
    subscriptionId: sub,
    namespace: 'Microsoft.Resources',
    location: existing.location,
    kind: 'resourceGroupDelete',
    location202: true,
    apiVersion: req.apiVersion,
    outcome: { onDone: () => sim.deleteResource(existing.id) },
  });
  const { Location, 'Retry-After': retryAfter } = headers;
  return {
    status: 202,
    headers: { Location: Location ?? '', ...(retryAfter === undefined ? {} : { 'Retry-After': retryAfter }) },
  };
}

function listRgs(sim: Simulator, req: ArmRequest): ArmResponse {
  const sub = req.segments[1] ?? '';
  sim.authorize(req.claims, 'Microsoft.Resources/subscriptions/resourceGroups/read', `/subscriptions/${sub}`);
  const value = [...sim.resources.values()]
    .filter((r) => r.type === 'Microsoft.Resources/resourceGroups' && eqi(r.subscriptionId, sub))
    .map((r) => rgView(sim, r.id));
  return { status: 200, body: { value } };
}

/** GET /subscriptions/{s}/resourceGroups/{rg}/resources?$filter=tagName eq 'x' and tagValue eq 'y' */
function listResources(sim: Simulator, req: ArmRequest): ArmResponse {
  const { sub, rg, id } = rgScope(req);
  sim.authorize(req.claims, 'Microsoft.Resources/subscriptions/resourceGroups/resources/read', id);
  if (!sim.resourceGroup(sub, rg))
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
  const filter = req.query.get('$filter') ?? '';
  const tagName = /tagName eq '([^']*)'/i.exec(filter)?.[1];
  const tagValue = /tagValue eq '([^']*)'/i.exec(filter)?.[1];
  const resourceType = /resourceType eq '([^']*)'/i.exec(filter)?.[1];
  const value = sim
    .resourcesIn(id)
    .filter((r) => r.type.split('/').length === 2) // top-level resources only, as ARM lists them
    .filter((r) => resourceType === undefined || eqi(r.type, resourceType))
    .filter(
      (r) =>
        tagName === undefined ||
        Object.entries(r.tags).some(
          ([k, v]) => eqi(k, tagName) && (tagValue === undefined || v === tagValue),
        ),
    )
    .map((r) => ({ id: r.id, name: r.name, type: r.type, location: r.location, tags: { ...r.tags } }));
  return { status: 200, body: { value } };
}

/** GET …/providers/Microsoft.Storage/storageAccounts/{name}: the account with its blob endpoint. */
function getStorageAccount(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = '/' + req.segments.join('/');
  sim.authorize(req.claims, 'Microsoft.Storage/storageAccounts/read', id);
  const r = sim.getResource(id);
  if (!r || r.type !== 'Microsoft.Storage/storageAccounts')
    throw sim.notFound(req.segments, 'Microsoft.Storage/storageAccounts', req.segments[7] ?? '');
  return {
    status: 200,
    body: sim.view(r, { kind: 'StorageV2', sku: { name: 'Standard_LRS', tier: 'Standard' } }),
  };
}

// ---------------------------------------------------------------- Microsoft.Authorization

function scopeOf(req: ArmRequest): string {
  const lower = req.segments.map((s) => s.toLowerCase());
  const idx = lower.lastIndexOf('providers');
  return '/' + req.segments.slice(0, idx).join('/');
}

function assignmentView(
  sim: Simulator,
  a: {
    id: string;
    name: string;
    scope: string;
    roleDefinitionGuid: string;
    principalId: string;
    principalType: string;
  },
): Record<string, unknown> {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1] ?? '';
  return {
    id: a.id,
    name: a.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionGuid}`,
      principalId: a.principalId,
      principalType: a.principalType,
      scope: a.scope,
      condition: null,
      conditionVersion: null,
    },
  };
}

function listAssignments(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  sim.authorize(req.claims, 'Microsoft.Authorization/roleAssignments/read', scope);
  const filter = req.query.get('$filter') ?? '';
  const principal = /principalId\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
  const atScope = /atScope\(\)/i.test(filter);
  const tenant = sim.tenantOf(/^\/subscriptions\/([^/]+)/i.exec(scope)?.[1] ?? '');
  const value = [...sim.roleAssignments.values()]
    .filter((a) => {
      const aSub = /^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1];
      if (aSub && !eqi(sim.subscriptionTenant.get(aSub.toLowerCase()), tenant)) return false;
      const sLower = scope.toLowerCase();
      const aLower = a.scope.toLowerCase();
      const above = sLower === aLower || sLower.startsWith(aLower + '/');
      const below = aLower.startsWith(sLower + '/');
      if (atScope) return above;
      return above || below;
    })
    .filter((a) => principal === undefined || eqi(a.principalId, principal))
    .map((a) => assignmentView(sim, a));
  return { status: 200, body: { value } };
}

function getAssignment(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  sim.authorize(req.claims, 'Microsoft.Authorization/roleAssignments/read', scope);
  const a = sim.roleAssignments.get(req.path.toLowerCase());
  if (!a)
    throw new ArmError(
      404,
      'RoleAssignmentNotFound',
      `The role assignment '${req.segments[req.segments.length - 1] ?? ''}' is not found.`,
    );
  return { status: 200, body: assignmentView(sim, a) };
}

function putAssignment(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  sim.authorize(req.claims, 'Microsoft.Authorization/roleAssignments/write', scope);
  const body = sim.parseBody(req);
  const props = isObject(body.properties) ? body.properties : {};
  const roleDefinitionId = str(props.roleDefinitionId);
  const principalId = str(props.principalId);
  if (!roleDefinitionId || !principalId)
    throw new ArmError(
      400,
      'InvalidRoleAssignmentRequest',
      'The request must contain roleDefinitionId and principalId.',
    );
  const role = sim.findRole(roleDefinitionId);
  if (!role)
    throw new ArmError(
      400,
      'RoleDefinitionDoesNotExist',
      `The specified role definition with ID '${roleDefinitionId.split('/').pop() ?? ''}' does not exist.`,
    );
  const name = req.segments[req.segments.length - 1] ?? sim.newGuid();
  const existingSame = [...sim.roleAssignments.values()].find(
    (a) => eqi(a.scope, scope) && eqi(a.principalId, principalId) && eqi(a.roleDefinitionGuid, role.id),
  );
  if (existingSame && !eqi(existingSame.name, name))
    throw new ArmError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const assignment = {
    id,
    name,
    scope,
    roleDefinitionGuid: role.id,
    principalId,
    principalType: (str(props.principalType) as 'ServicePrincipal' | undefined) ?? 'ServicePrincipal',
  };
  sim.roleAssignments.set(id.toLowerCase(), assignment);
  return { status: 201, body: assignmentView(sim, assignment) };
}

function deleteAssignment(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  sim.authorize(req.claims, 'Microsoft.Authorization/roleAssignments/delete', scope);
  const a = sim.roleAssignments.get(req.path.toLowerCase());
  if (!a) return { status: 204 };
  sim.roleAssignments.delete(req.path.toLowerCase());
  return { status: 200, body: assignmentView(sim, a) };
}

function roleDefinitionView(
  scope: string,
  r: {
    id: string;
    roleName: string;
    type: string;
    description: string;
    actions: string[];
    notActions: string[];
    dataActions: string[];
    notDataActions: string[];
    assignableScopes: string[];
  },
): Record<string, unknown> {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
  return {
    id: `${sub ? `/subscriptions/${sub}` : ''}/providers/Microsoft.Authorization/roleDefinitions/${r.id}`,
    name: r.id,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: r.roleName,
      type: r.type,
      description: r.description,
      assignableScopes: r.assignableScopes,
      permissions: [
        {
          actions: r.actions,
          notActions: r.notActions,
          dataActions: r.dataActions,
          notDataActions: r.notDataActions,
        },
      ],
    },
  };
}

function listRoleDefinitions(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  sim.authorize(req.claims, 'Microsoft.Authorization/roleDefinitions/read', scope);
  const filter = req.query.get('$filter') ?? '';
  const roleName = /roleName\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
  const value = [...sim.roleDefinitions.values()]
    .filter((r) => roleName === undefined || eqi(r.roleName, roleName))
    .map((r) => roleDefinitionView(scope, r));
  return { status: 200, body: { value } };
}

function getRoleDefinition(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  sim.authorize(req.claims, 'Microsoft.Authorization/roleDefinitions/read', scope);
  const r = sim.findRole(req.segments[req.segments.length - 1] ?? '');
  if (!r)
    throw new ArmError(
      404,
      'RoleDefinitionDoesNotExist',
      `The specified role definition with ID '${req.segments[req.segments.length - 1] ?? ''}' does not exist.`,
    );
  return { status: 200, body: roleDefinitionView(scope, r) };
}

/** GET {scope}/providers/Microsoft.Authorization/permissions (api 2015-07-01 / 2022-04-01): what the caller may do. */
function listPermissions(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = scopeOf(req);
  const value = sim.grantsFor(req.claims.oid, scope).map((g) => ({
    actions: g.role.actions,
    notActions: g.role.notActions,
    dataActions: g.role.dataActions,
    notDataActions: g.role.notDataActions,
  }));
  return { status: 200, body: { value } };
}

export const resourceRoutes: Route[] = [
  { type: 'microsoft.resources/subscriptions', verb: 'get', handler: subscription },
  { type: 'microsoft.resources/resourcegroups', verb: 'get', handler: getRg },
  { type: 'microsoft.resources/resourcegroups', verb: 'put', handler: putRg },
  { type: 'microsoft.resources/resourcegroups', verb: 'delete', handler: deleteRg },
  { type: 'microsoft.resources/resourcegroups', verb: 'list', handler: listRgs },
  { type: 'microsoft.resources/resources', verb: 'list', handler: listResources },
  { type: 'microsoft.storage/storageaccounts', verb: 'get', handler: getStorageAccount },
  { type: 'microsoft.authorization/roleassignments', verb: 'list', handler: listAssignments },
  { type: 'microsoft.authorization/roleassignments', verb: 'get', handler: getAssignment },
  { type: 'microsoft.authorization/roleassignments', verb: 'put', handler: putAssignment },
  { type: 'microsoft.authorization/roleassignments', verb: 'delete', handler: deleteAssignment },
  { type: 'microsoft.authorization/roledefinitions', verb: 'list', handler: listRoleDefinitions },
  { type: 'microsoft.authorization/roledefinitions', verb: 'get', handler: getRoleDefinition },
  { type: 'microsoft.authorization/permissions', verb: 'list', handler: listPermissions },
];
