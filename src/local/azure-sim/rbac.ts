/** Role definitions (built-ins with their real ids) and ARM-style action matching. */

export interface RoleDefinition {
  id: string; // GUID name
  roleName: string;
  type: 'BuiltInRole' | 'CustomRole';
  description: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
  assignableScopes: string[];
}

export interface RoleAssignment {
  id: string; // full id
  name: string; // GUID
  scope: string;
  roleDefinitionGuid: string;
  principalId: string;
  principalType: 'ServicePrincipal' | 'User' | 'Group';
}

const common = [
  'Microsoft.Authorization/*/read',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
  'Microsoft.Resources/deployments/*',
  'Microsoft.Support/*',
  'Microsoft.Insights/alertRules/*',
];

function builtIn(
  id: string,
  roleName: string,
  description: string,
  actions: string[],
  notActions: string[] = [],
  dataActions: string[] = [],
): RoleDefinition {
  return {
    id,
    roleName,
    type: 'BuiltInRole',
    description,
    actions,
    notActions,
    dataActions,
    notDataActions: [],
    assignableScopes: ['/'],
  };
}

export const BUILT_IN_ROLES: RoleDefinition[] = [
  builtIn(
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'Owner',
    'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    ['*'],
  ),
  builtIn(
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    'Contributor',
    'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.',
    ['*'],
    [
      'Microsoft.Authorization/*/Delete',
      'Microsoft.Authorization/*/Write',
      'Microsoft.Authorization/elevateAccess/Action',
      'Microsoft.Blueprint/blueprintAssignments/write',
      'Microsoft.Blueprint/blueprintAssignments/delete',
      'Microsoft.Compute/galleries/share/action',
      'Microsoft.Purview/consents/write',
      'Microsoft.Purview/consents/delete',
      'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
      'Microsoft.Subscription/cancel/action',
      'Microsoft.Subscription/enable/action',
    ],
  ),
  builtIn(
    'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    'Reader',
    'View all resources, but does not allow you to make any changes.',
    ['*/read'],
  ),
  builtIn(
    '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    'User Access Administrator',
    'Lets you manage user access to Azure resources.',
    ['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'],
  ),
  builtIn(
    '4d97b98b-1d4f-4787-a291-c67834d212e7',
    'Network Contributor',
    'Lets you manage networks, but not access to them.',
    [
      'Microsoft.Authorization/*/read',
      'Microsoft.Insights/alertRules/*',
      'Microsoft.Network/*',
      'Microsoft.ResourceHealth/availabilityStatuses/read',
      'Microsoft.Resources/deployments/*',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      'Microsoft.Support/*',
    ],
  ),
  builtIn(
    'f1a07417-d97a-45cb-824c-7a7467783830',
    'Managed Identity Operator',
    'Read and Assign User Assigned Identity',
    [
      'Microsoft.ManagedIdentity/userAssignedIdentities/*/read',
      'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action',
      ...common,
    ],
  ),
  builtIn(
    'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59',
    'Managed Identity Contributor',
    'Create, Read, Update, and Delete User Assigned Identity',
    [
      'Microsoft.ManagedIdentity/userAssignedIdentities/read',
      'Microsoft.ManagedIdentity/userAssignedIdentities/write',
      'Microsoft.ManagedIdentity/userAssignedIdentities/delete',
      ...common,
    ],
  ),
  builtIn(
    '1ef6a3be-d0ac-425d-8c01-acb62866290b',
    'Compute Gallery Sharing Admin',
    'This role allows user to share gallery to another subscription/tenant or share it to the public.',
    [
      'Microsoft.Compute/galleries/share/action',
      'Microsoft.Compute/galleries/read',
      'Microsoft.Compute/galleries/images/read',
      'Microsoft.Compute/galleries/images/versions/read',
      ...common,
    ],
  ),
  builtIn(
    '9980e02c-c2be-4d73-94e8-173b1dc7cf3c',
    'Virtual Machine Contributor',
    'Create and manage virtual machines, manage disks, install and run software, reset password of the root user of the virtual machine using VM extensions, and connect to the virtual machine using RDP and SSH.',
    [
      'Microsoft.Compute/*',
      'Microsoft.Network/networkInterfaces/*',
      'Microsoft.Network/virtualNetworks/read',
      'Microsoft.Network/virtualNetworks/subnets/join/action',
      'Microsoft.Network/networkSecurityGroups/read',
      'Microsoft.Network/networkSecurityGroups/join/action',
      'Microsoft.Storage/storageAccounts/read',
      'Microsoft.Storage/storageAccounts/listKeys/action',
      ...common,
    ],
  ),
  builtIn(
    '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
    'Storage Blob Data Reader',
    'Read and list Azure Storage containers and blobs.',
    [
      'Microsoft.Storage/storageAccounts/blobServices/containers/read',
      'Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action',
    ],
    [],
    ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'],
  ),
  // Built-in role "EventGrid Data Sender" (id as in Azure/azure-sdk-for-net#22587's test resources).
  builtIn(
    'd5a91429-5739-47e2-a06b-3470a27159e7',
    'EventGrid Data Sender',
    'Allows send access to event grid events.',
    [],
    [],
    ['Microsoft.EventGrid/events/send/action'],
  ),
  // Built-in role "Durable Task Data Contributor": id from learn.microsoft.com "Azure built-in roles"
  // (Integration), data actions as its role definition lists them (Microsoft.DurableTask/*).
  builtIn(
    '0ad04412-c4d5-4796-b79c-f76d14c8d402',
    'Durable Task Data Contributor',
    'Durable Task role for all data access operations.',
    [],
    [],
    ['Microsoft.DurableTask/*'],
  ),
];

/** ARM wildcard match, case-insensitive; '*' matches any run of characters. */
export function actionMatches(pattern: string, action: string): boolean {
  // ARM treats "a/*/b" as also matching "a/b" (e.g. userAssignedIdentities/*/assign/action).
  const normalized = pattern.toLowerCase();
  const variants = [normalized, normalized.replace(/\/\*\//g, '/')];
  return variants.some((v) => {
    const source = v
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*');
    return new RegExp('^' + source + '$').test(action.toLowerCase());
  });
}

export function roleAllows(role: RoleDefinition, action: string, data = false): boolean {
  const allow = data ? role.dataActions : role.actions;
  const deny = data ? role.notDataActions : role.notActions;
  return allow.some((p) => actionMatches(p, action)) && !deny.some((p) => actionMatches(p, action));
}

/** True when `parent` is `child` or one of its ancestor scopes (segment aware, case-insensitive). */
export function scopeCovers(parent: string, child: string): boolean {
  const p = parent.replace(/\/+$/, '').toLowerCase();
  const c = child.replace(/\/+$/, '').toLowerCase();
  if (p === '' || p === '/') return true;
  return c === p || c.startsWith(p + '/');
}
