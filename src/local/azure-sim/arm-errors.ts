/**
 * ARM's error answers that every resource provider shares, with ARM's codes and texts (ERRORS.md):
 * AuthorizationFailed, LinkedAuthorizationFailed (missing permission on a linked scope, or a linked
 * subscription of another tenant), ResourceGroupNotFound / ResourceNotFound, InvalidRequestContent.
 * The decisions (may this principal act here? does the group exist?) stay with the Simulator.
 */
import { ArmError, type Claims } from './types';

export function authorizationFailed(claims: Claims, action: string, scope: string): ArmError {
  return new ArmError(
    403,
    'AuthorizationFailed',
    `The client '${claims.oid}' with object id '${claims.oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

export function linkedAuthorizationFailed(
  claims: Claims,
  action: string,
  scope: string,
  linkedActions: string[],
  linkedScopes: string[],
): ArmError {
  return new ArmError(
    403,
    'LinkedAuthorizationFailed',
    `The client '${claims.oid}' with object id '${claims.oid}' has permission to perform action '${action}' on scope '${scope}'; however, it does not have permission to perform action(s) '${linkedActions.join(',')}' on the linked scope(s) '${linkedScopes.join(',')}' (respectively) or the linked scope(s) are invalid.`,
  );
}

/**
 * LinkedAuthorizationFailed when the linked scope is in a subscription of another tenant and no
 * token for that tenant came along (x-ms-authorization-auxiliary): the form public issues show
 * (Azure/azure-cli#30976, MicrosoftDocs/azure-docs#68563, Azure/OpenShift#41).
 */
export function linkedSubscriptionNotAuthorized(
  claims: Claims,
  action: string,
  scope: string,
  linkedScope: string,
): ArmError {
  const linkedSubscription = linkedScope.split('/')[2] ?? '';
  return new ArmError(
    403,
    'LinkedAuthorizationFailed',
    `The client has permission to perform action '${action}' on scope '${scope}', however the current tenant '${claims.tid}' is not authorized to access linked subscription '${linkedSubscription}'.`,
  );
}

/** ResourceGroupNotFound when the group is missing, else ResourceNotFound for the resource. */
export function notFound(rgMissing: boolean, rg: string, typeLabel: string, name: string): ArmError {
  if (rgMissing)
    return new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
  return new ArmError(
    404,
    'ResourceNotFound',
    `The Resource '${typeLabel}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function invalidRequestContent(): ArmError {
  return new ArmError(
    400,
    'InvalidRequestContent',
    'The request content was invalid and could not be deserialized.',
  );
}
