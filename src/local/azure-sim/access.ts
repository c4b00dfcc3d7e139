/**
 * infra/access.json as data, and the code that grants it in a simulated world: the same role
 * definitions and assignments Bicep deploys (infra/app/roles.bicep, infra/tenant/main.bicep), with
 * the symbolic scopes resolved to the world's resources. Nothing else in the world grants ARM access
 * except the documented onboarding steps (./onboarding.ts) and fixtures marked test-only.
 */
import infraAccess from '../../../infra/access.json';
import type { AzureSimulator } from './api';

export type PrincipalKey = 'factory' | 'build' | 'factoryAppEng' | 'factoryAppStage';
export type DeploymentKey = 'eng' | 'stage';

export interface AccessRole {
  roleName: string;
  description: string;
  actions: string[];
  dataActions?: string[];
}

export interface AccessAssignment {
  /** Stable name of the entry (Bicep deployment name, mutation test label). */
  name: string;
  principal: PrincipalKey;
  /** A key of `roles`, or a name in `builtInRoles`. */
  role: string;
  /** A key of `scopes`. */
  scope: string;
  why: string;
}

export interface AccessDeployment {
  roles: Record<string, AccessRole>;
  assignments: AccessAssignment[];
}

export interface AccessDescription {
  principals: Record<PrincipalKey, string>;
  /** scope → parent scope (null at the top). */
  scopes: Record<string, string | null>;
  builtInRoles: Record<string, string>;
  deployments: Record<DeploymentKey, AccessDeployment>;
}

/** A deep copy of infra/access.json (callers such as the mutation test may change it). */
export function loadInfraAccess(): AccessDescription {
  const { $comment: _top, ...rest } = infraAccess as unknown as AccessDescription & { $comment?: string };
  const copy = JSON.parse(JSON.stringify(rest)) as AccessDescription & { scopes: Record<string, unknown> };
  delete copy.scopes.$comment;
  for (const deployment of Object.values(copy.deployments) as (AccessDeployment & { $comment?: string })[])
    delete deployment.$comment;
  return copy;
}

export interface GrantTargets {
  /** Role names get this suffix, as Bicep appends the environment (custom role names are unique per tenant). */
  roleNameSuffix: string;
  /** Where custom roles are assignable (the subscription, or the stage's resource group). */
  assignableScope: string;
  principals: Partial<Record<PrincipalKey, string>>;
  /** Symbolic scope → resource id in the world; a missing one skips its assignments (Bicep's `if`). */
  scopes: Record<string, string | undefined>;
}

export interface Grant {
  deployment: DeploymentKey;
  entry: string;
  principalId: string;
  roleId: string;
  scope: string;
  assignmentId: string;
}

/** One deployment of access.json into a world: what it targets and what it created. */
export interface DeployedAccess {
  deployment: DeploymentKey;
  targets: GrantTargets;
  roleDefinitionIds: string[];
  grants: Grant[];
}

/**
 * Creates a deployment's custom roles and assignments in the simulator, as Bicep would; throws on
 * an entry that names an unknown role, principal kind or scope, so a typo in access.json fails
 * loudly instead of granting nothing.
 */
export function deployAccess(
  sim: AzureSimulator,
  access: AccessDescription,
  deploymentKey: DeploymentKey,
  targets: GrantTargets,
): DeployedAccess {
  const deployment = access.deployments[deploymentKey];
  const roleIds = new Map<string, string>();
  for (const [key, role] of Object.entries(deployment.roles))
    roleIds.set(
      key,
      sim.addRoleDefinition({
        roleName: `${role.roleName}${targets.roleNameSuffix}`,
        description: role.description,
        actions: role.actions,
        dataActions: role.dataActions ?? [],
        assignableScopes: [targets.assignableScope],
      }),
    );
  const grants: Grant[] = [];
  for (const a of deployment.assignments) {
    if (!(a.principal in access.principals))
      throw new Error(`access.json ${a.name}: unknown principal ${a.principal}`);
    if (!(a.scope in access.scopes)) throw new Error(`access.json ${a.name}: unknown scope ${a.scope}`);
    const roleId = roleIds.get(a.role) ?? access.builtInRoles[a.role];
    if (roleId === undefined) throw new Error(`access.json ${a.name}: unknown role ${a.role}`);
    const principalId = targets.principals[a.principal];
    const scope = targets.scopes[a.scope];
    if (principalId === undefined || scope === undefined) continue;
    const assignmentId = sim.assignRole({ principalId, role: roleId, scope });
    grants.push({ deployment: deploymentKey, entry: a.name, principalId, roleId, scope, assignmentId });
  }
  return { deployment: deploymentKey, targets, roleDefinitionIds: [...roleIds.values()], grants };
}

/** Removes what deployAccess created (as deleting the deployment's roles and assignments would). */
export function removeAccess(sim: AzureSimulator, deployed: DeployedAccess): void {
  for (const grant of deployed.grants) sim.removeRoleAssignment(grant.assignmentId);
  for (const id of deployed.roleDefinitionIds) sim.removeRoleDefinition(id);
}
