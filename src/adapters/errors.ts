/**
 * One classifier for everything the Azure SDKs throw (RestError, @azure/identity errors, LRO
 * failures, socket faults): a FactoryError with a stable AzureErrorCode, `retryable`,
 * `retryAfterMs` and an actionable, secret-free message and hint.
 */
import type { AzureErrorCode } from '../ports/azure';
import { FactoryError } from '../shared/errors';
import {
  RUN_STATE_HINT,
  grantCommand,
  isRunStateRefusal,
  namedResource,
  grantScopeFor,
  namesResourceGroup,
  refusalHint,
  suggestRole,
} from './errorHints';

// Part of this module's interface since before the hints moved out.
export { grantCommand, suggestRole };

export interface ErrorContext {
  /** What we were doing, e.g. "create image template". */
  operation: string;
  /** Resource id or name the operation was about. */
  resource?: string;
  /** Who made the call (named in RBAC hints). */
  principal?: { credential: string; principalId: string; displayName: string; tenantId?: string };
  /** Image Builder: the template's user-assigned identity and custom staging group. */
  buildIdentityId?: string;
  stagingResourceGroupId?: string;
  /** Cross-tenant copy: the tenants an auxiliary token was (or should have been) sent for. */
  auxiliaryTenantIds?: string[];
}

// ---------------------------------------------------------------- secret scrubbing

const knownSecrets = new Set<string>();

/** Values that must never appear in a message (client secrets read from settings, …). */
export function registerSecret(value: string): void {
  if (value.length >= 6) knownSecrets.add(value);
}

const SCRUBBERS: [RegExp, string][] = [
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/\b(Bearer|PoP)\s+[A-Za-z0-9\-._~+/]+=*/gi, '$1 [redacted]'],
  [
    /\b(sig|client_secret|client_assertion|assertion|access_token|refresh_token|password|adminPassword|secret)=([^&\s"',;]+)/gi,
    '$1=[redacted]',
  ],
  [
    /("(?:client_secret|client_assertion|access_token|refresh_token|adminPassword|password|secret|token)"\s*:\s*")([^"]*)(")/gi,
    '$1[redacted]$3',
  ],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[redacted-private-key]'],
];

export function scrubSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.split(secret).join('[redacted]');
  for (const [pattern, replacement] of SCRUBBERS) out = out.replace(pattern, replacement);
  return out;
}

// ---------------------------------------------------------------- error shape helpers

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  status?: number;
  details?: unknown;
  errorResponse?: { error?: string; errorDescription?: string };
  response?: {
    status?: number;
    headers?: { get(name: string): string | undefined };
    bodyAsText?: string | null;
  };
  cause?: unknown;
}

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
]);

function asErrorLike(value: unknown): ErrorLike {
  return typeof value === 'object' && value !== null ? value : { message: String(value) };
}

/** ARM's error body: {error: {code, message, details: [...]}} (possibly nested in details). */
interface ArmError {
  code?: string;
  message?: string;
  target?: string;
  details?: ArmError[];
}

function armErrorFromBody(bodyText: string | null | undefined): ArmError | undefined {
  if (bodyText === undefined || bodyText === null || bodyText === '') return undefined;
  try {
    const parsed = JSON.parse(bodyText) as { error?: ArmError } & ArmError;
    return parsed.error ?? (parsed.code !== undefined ? parsed : undefined);
  } catch {
    return undefined;
  }
}

/** All (code, message) pairs of an ARM error tree, outermost first. */
function flatten(error: ArmError | undefined, into: ArmError[] = []): ArmError[] {
  if (error === undefined) return into;
  into.push(error);
  for (const detail of error.details ?? []) flatten(detail, into);
  return into;
}

function retryAfterMs(headers: { get(name: string): string | undefined } | undefined): number | undefined {
  if (headers === undefined) return undefined;
  const ms = headers.get('retry-after-ms') ?? headers.get('x-ms-retry-after-ms');
  if (ms !== undefined && /^\d+$/.test(ms.trim())) return Number(ms.trim());
  const value = headers.get('retry-after');
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value.trim()) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function findConnectionCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const like = error as ErrorLike;
  if (typeof like.code === 'string' && CONNECTION_CODES.has(like.code)) return like.code;
  if (like.name === 'AbortError' || like.name === 'TimeoutError') return like.name;
  if (typeof like.message === 'string') {
    const match =
      /\b(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|network_error|Network unreachable)\b/.exec(
        like.message,
      );
    if (match?.[1] !== undefined)
      return match[1] === 'socket hang up'
        ? 'ECONNRESET'
        : match[1].startsWith('ECONN') || match[1].startsWith('E')
          ? match[1]
          : 'ENETUNREACH';
  }
  return findConnectionCode(like.cause, depth + 1);
}

function where(context: ErrorContext): string {
  return context.resource === undefined ? context.operation : `${context.operation} (${context.resource})`;
}

// ---------------------------------------------------------------- hints

function authorizationHint(
  text: string,
  context: ErrorContext,
): { hint: string; details: Record<string, unknown> } {
  const action = /action '([^']+)'/i.exec(text)?.[1];
  const scope = /scope '([^']+)'/i.exec(text)?.[1] ?? context.resource ?? '<scope>';
  const objectId =
    /object id '([^']+)'/i.exec(text)?.[1] ?? context.principal?.principalId ?? '<principal object id>';
  const role = suggestRole(action);
  const who =
    context.principal === undefined
      ? objectId
      : `${context.principal.displayName} (credential "${context.principal.credential}", object id ${objectId})`;
  return {
    hint: `grant ${role} to ${who} on ${scope}: ${grantCommand({ principalId: objectId, role, scope })}`,
    details: { action, scope, principalId: objectId, role },
  };
}

// ---------------------------------------------------------------- classifier

function make(
  code: AzureErrorCode,
  message: string,
  options: { retryable: boolean; retryAfterMs?: number; hint?: string; details?: Record<string, unknown> },
): FactoryError {
  return new FactoryError(code, scrubSecrets(message), {
    retryable: options.retryable,
    ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
    ...(options.hint === undefined ? {} : { hint: scrubSecrets(options.hint) }),
    details: JSON.parse(scrubSecrets(JSON.stringify(options.details ?? {}))) as Record<string, unknown>,
    // The original error is not kept as `cause`: it may carry request headers (tokens).
  });
}

const STAGING_UNAUTHORIZED = /check the user assigned identity has the correct permissions/i;
/*
 * LinkedAuthorizationFailed comes in two forms, told apart by the message:
 * - same tenant, a right missing on the linked scope ("The client '<id>' with object id '<id>' has
 *   permission to perform action 'A' on scope 'S'; however, it does not have permission to perform
 *   action(s) 'B' on the linked scope(s) 'L' (respectively) or the linked scope(s) are invalid."):
 *   Azure/aad-pod-identity#613, kubernetes-sigs/cloud-provider-azure#1999;
 * - linked scope in another tenant ("The client has permission to perform action 'A' on scope 'S',
 *   however the current tenant 'T' is not authorized to access linked subscription 'U'."):
 *   MicrosoftDocs/azure-docs#68563, Azure/azure-cli#30976, Azure/OpenShift#41.
 */
const LINKED_OTHER_TENANT = /current tenant\b.*\bnot authorized to access linked subscription/i;
const LINKED_MISSING_RIGHT =
  /does not have permission to perform action(?:\(s\))? '([^']+)' on the linked scope(?:\(s\))? '([^']+)'/i;
/*
 * Image Builder reports a staging-group conflict (a group used by another template) only as
 * InternalOperationError "Internal error occurred." (troubleshooting guide, "Resource operation
 * finished with a terminal provisioning state of Failed"; MicrosoftDocs/azure-docs#96778).
 */
const INTERNAL_OPERATION_ERROR = 'InternalOperationError';
const CROSS_TENANT_CODES = new Set([
  'invalidauxiliarytoken',
  'auxiliarytokenmissing',
  'missingauxiliarytoken',
]);

/** Turns anything an Azure SDK threw into a FactoryError (FactoryErrors pass through). */
export function classifyAzureError(thrown: unknown, context: ErrorContext): FactoryError {
  if (thrown instanceof FactoryError) return thrown;
  const error = asErrorLike(thrown);
  const name = error.name ?? '';
  const status = error.statusCode ?? error.response?.status ?? error.status;
  const body = armErrorFromBody(error.response?.bodyAsText);
  const chain = flatten(body);
  // Modular clients put ARM's code on the error itself and its details in `details`.
  if (chain.length === 0 && typeof error.code === 'string') {
    chain.push({ code: error.code, message: error.message ?? '' });
    if (typeof error.details === 'object' && error.details !== null) flatten(error.details, chain);
  }
  const armCode =
    chain.find((e) => e.code !== undefined && !/^(DeploymentFailed|ResourceDeploymentFailure)$/.test(e.code))
      ?.code ?? body?.code;
  const allText = [error.message ?? '', ...chain.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`)].join(
    ' | ',
  );
  const armMessage =
    chain.map((e) => e.message).find((m) => m !== undefined && m !== '') ?? error.message ?? String(thrown);
  const summary = `${armCode === undefined ? '' : `${armCode}: `}${armMessage}`;
  const baseDetails: Record<string, unknown> = {
    operation: context.operation,
    ...(context.resource === undefined ? {} : { resource: context.resource }),
    ...(status === undefined ? {} : { status }),
    ...(armCode === undefined ? {} : { armCode }),
  };

  // Identity (token endpoint / managed identity)
  if (
    name === 'AuthenticationRequiredError' ||
    name === 'AuthenticationError' ||
    name === 'CredentialUnavailableError' ||
    /AADSTS\d+/.test(allText)
  ) {
    const aadsts = /AADSTS\d+/.exec(allText)?.[0];
    const connection = findConnectionCode(thrown);
    if (connection !== undefined && aadsts === undefined) {
      return make(
        'ConnectionFault',
        `Failed to ${where(context)}: token endpoint unreachable (${connection})`,
        { retryable: true, details: baseDetails },
      );
    }
    const description = error.errorResponse?.errorDescription ?? error.message ?? '';
    return make(
      'AuthenticationFailed',
      `Failed to ${where(context)}: sign-in refused${aadsts === undefined ? '' : ` (${aadsts})`}: ${description.split('\n')[0] ?? ''}`,
      {
        retryable: false,
        hint:
          aadsts === 'AADSTS700016'
            ? 'The application is not in that tenant: grant admin consent to the multi-tenant app in the tenant named above.'
            : 'Check the credential profile in AZURE_CREDENTIALS (tenantId, clientId, kind) and that its secret/certificate/federated credential is current.',
        details: { ...baseDetails, ...(aadsts === undefined ? {} : { aadsts }), errorName: name },
      },
    );
  }

  // Socket-level faults (no HTTP status)
  if (status === undefined || status === 0) {
    const connection = findConnectionCode(thrown);
    if (connection !== undefined) {
      return make('ConnectionFault', `Failed to ${where(context)}: connection fault (${connection})`, {
        retryable: true,
        details: { ...baseDetails, fault: connection },
      });
    }
    if (
      /long-running operation has failed|operation failed|provisioning state.*failed/i.test(allText) ||
      armCode !== undefined
    ) {
      return classifyFailedOperation(summary, allText, armCode, context, baseDetails);
    }
    return make('ServerError', `Failed to ${where(context)}: ${summary}`, {
      retryable: true,
      details: baseDetails,
    });
  }

  const retryAfter = retryAfterMs(error.response?.headers);

  if (STAGING_UNAUTHORIZED.test(allText))
    return imageBuilderUnauthorized(summary, allText, context, baseDetails);
  if (armCode?.toLowerCase() === 'linkedauthorizationfailed')
    return linkedAuthorization(summary, allText, context, baseDetails);
  if (
    (armCode !== undefined && CROSS_TENANT_CODES.has(armCode.toLowerCase())) ||
    /auxiliary|x-ms-authorization-auxiliary/i.test(allText)
  ) {
    return crossTenant(summary, context, baseDetails);
  }

  if (armCode === 'MissingSubscriptionRegistration')
    return providerNotRegistered(summary, chain, context, baseDetails);

  if (armCode === 'NicReservedForAnotherVm') {
    // A failed VM create keeps its NIC for a while: "…reserved for another Virtual Machine for 180
    // seconds. Please provide another nic(s) or retry after 180 seconds" (taskcluster/taskcluster#7196,
    // cloudfoundry/bosh-azure-cpi-release#366, gardenlinux/gardenlinux#4133). Not for the host's
    // short retries: the orchestration waits the stated time on a durable timer, then tries again.
    const seconds = Number(/retry after (\d+) seconds/i.exec(allText)?.[1] ?? 180);
    return make(
      'NicReservedForAnotherVm',
      `Azure holds the network interface: ${where(context)}: ${summary}`,
      {
        retryable: false,
        retryAfterMs: seconds * 1000,
        hint: `Retry after ${seconds} seconds: a failed VM create keeps its network interface reserved that long.`,
        details: baseDetails,
      },
    );
  }
  if (isRunStateRefusal(armCode, allText))
    return make('Conflict', `Conflict while trying to ${where(context)}: ${summary}`, {
      retryable: false,
      hint: RUN_STATE_HINT,
      details: baseDetails,
    });
  if (status === 429) {
    return make('Throttled', `Throttled while trying to ${where(context)}: ${summary}`, {
      retryable: true,
      retryAfterMs: retryAfter ?? 30_000,
      details: baseDetails,
    });
  }
  if (status >= 500) {
    return make('ServerError', `Azure failed to ${where(context)} (HTTP ${status}): ${summary}`, {
      retryable: true,
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
      details: baseDetails,
    });
  }
  if (status === 401) {
    return make('AuthenticationFailed', `Not authenticated to ${where(context)}: ${summary}`, {
      retryable: false,
      hint: /InvalidAuthenticationTokenTenant/i.test(allText)
        ? `The credential profile${context.principal === undefined ? '' : ` "${context.principal.credential}"`} signs in to a tenant that does not own this subscription: use the profile of the subscription's tenant.`
        : 'The token was refused: check the tenant of the credential profile matches the subscription’s tenant.',
      details: baseDetails,
    });
  }
  if (status === 403) {
    const { hint, details } = authorizationHint(allText, context);
    return make('AuthorizationFailed', `Not authorized to ${where(context)}: ${summary}`, {
      retryable: false,
      hint,
      details: { ...baseDetails, ...details },
    });
  }
  if (status === 404)
    return make('NotFound', `Not found while trying to ${where(context)}: ${summary}`, {
      retryable: false,
      details: baseDetails,
    });
  if (status === 409) {
    const immutable = /Update\/Upgrade of image templates is currently not supported/i.test(allText);
    const hint = immutable
      ? 'Image templates are immutable: use a new template name per run (delete the failed one first).'
      : refusalHint(armCode, allText);
    return make('Conflict', `Conflict while trying to ${where(context)}: ${summary}`, {
      retryable: false,
      ...(hint === undefined ? {} : { hint }),
      details: baseDetails,
    });
  }
  if (status === 400)
    return make('BadRequest', `Azure rejected the request to ${where(context)}: ${summary}`, {
      retryable: false,
      details: baseDetails,
    });
  if (status === 408)
    return make('ConnectionFault', `Timed out trying to ${where(context)}`, {
      retryable: true,
      details: baseDetails,
    });
  return make('BadRequest', `Azure refused to ${where(context)} (HTTP ${status}): ${summary}`, {
    retryable: false,
    details: baseDetails,
  });
}

/**
 * Image Builder's "Not authorized to access the resource: R. Please check the user assigned identity
 * has the correct permissions": about the staging group when R is a resource group, else about a
 * resource the build identity must read or write (a source, the distribution target:
 * MicrosoftDocs/azure-docs#99193).
 */
function imageBuilderUnauthorized(
  summary: string,
  text: string,
  context: ErrorContext,
  details: Record<string, unknown>,
): FactoryError {
  const named = namedResource(text);
  if (named === undefined || namesResourceGroup(text, context.stagingResourceGroupId))
    return stagingUnauthorized(summary, text, context, details);
  const identity = context.buildIdentityId ?? '<build identity resource id>';
  const assignee = `$(az identity show --ids ${identity} --query principalId -o tsv)`;
  const { scope, role, note } = grantScopeFor(named);
  return make(
    'AuthorizationFailed',
    `Image Builder's identity may not use ${named} to ${where(context)}: ${summary}`,
    {
      retryable: false,
      hint:
        `grant the build identity ${identity} the rights the Image Builder permissions doc names on ${scope}${note}: ` +
        grantCommand({ principalId: assignee, role, scope }),
      details: { ...details, scope, role, identity },
    },
  );
}

function stagingUnauthorized(
  summary: string,
  text: string,
  context: ErrorContext,
  details: Record<string, unknown>,
): FactoryError {
  const scope =
    context.stagingResourceGroupId ??
    /resource: (\/subscriptions\/[^\s.]+(?:\.[^\s.]+)*)/i.exec(text)?.[1]?.replace(/\.$/, '') ??
    '<staging resource group id>';
  const identity = context.buildIdentityId ?? '<build identity resource id>';
  const assignee = `$(az identity show --ids ${identity} --query principalId -o tsv)`;
  return make(
    'StagingGroupUnauthorized',
    `Image Builder cannot use the staging resource group while trying to ${where(context)}: ${summary}`,
    {
      retryable: false,
      hint:
        `grant Contributor to the build identity ${identity} on the staging resource group ${scope}: ` +
        `${grantCommand({ principalId: assignee, role: 'Contributor', scope })}. ` +
        'A template that failed this way can be deleted only after the grant; then create it again under a new name.',
      details: { ...details, scope, role: 'Contributor', identity },
    },
  );
}

/** 409 MissingSubscriptionRegistration: name the namespace and the command that registers it. */
function providerNotRegistered(
  summary: string,
  chain: ArmError[],
  context: ErrorContext,
  details: Record<string, unknown>,
): FactoryError {
  const namespace =
    chain.find((e) => e.target !== undefined)?.target ??
    chain.map((e) => /namespace '([^']+)'/.exec(e.message ?? '')?.[1]).find((n) => n !== undefined);
  const subscription = /\/subscriptions\/([^/]+)/i.exec(context.resource ?? '')?.[1];
  return make('ProviderNotRegistered', `Cannot ${where(context)}: ${summary}`, {
    retryable: false,
    hint: `register the resource provider (once per subscription): az provider register --namespace ${namespace ?? '<namespace>'}${subscription === undefined ? '' : ` --subscription ${subscription}`}`,
    details: { ...details, ...(namespace === undefined ? {} : { namespace }) },
  });
}

function crossTenant(summary: string, context: ErrorContext, details: Record<string, unknown>): FactoryError {
  const tenants = context.auxiliaryTenantIds ?? [];
  const who =
    context.principal === undefined
      ? 'the app'
      : `app of credential "${context.principal.credential}" (${context.principal.displayName})`;
  return make(
    'CrossTenantTokenMissing',
    `Cross-tenant access refused while trying to ${where(context)}: ${summary}`,
    {
      retryable: false,
      hint:
        tenants.length === 0
          ? `The source is in another tenant: pass its tenant id in auxiliaryTenantIds so an x-ms-authorization-auxiliary token is sent, and make sure ${who} is consented there with Reader on the source gallery.`
          : `Make sure ${who} is consented in tenant(s) ${tenants.join(', ')} and holds Reader on the source gallery image there.`,
      details: { ...details, auxiliaryTenantIds: tenants },
    },
  );
}

/** LinkedAuthorizationFailed, classified by what its message says (see LINKED_* above). */
function linkedAuthorization(
  summary: string,
  text: string,
  context: ErrorContext,
  details: Record<string, unknown>,
): FactoryError {
  if (LINKED_OTHER_TENANT.test(text)) return crossTenant(summary, context, details);
  // With an auxiliary token sent, the linked scope is in that tenant: the right is missing for the
  // app's principal there (not for the caller named in the message), so the cross-tenant hint fits.
  if ((context.auxiliaryTenantIds ?? []).length > 0) return crossTenant(summary, context, details);
  const missing = LINKED_MISSING_RIGHT.exec(text);
  const action = missing?.[1]?.split(',')[0]?.trim();
  const scope = missing?.[2]?.split(',')[0]?.trim();
  const objectId =
    /object id '([^']+)'/i.exec(text)?.[1] ?? context.principal?.principalId ?? '<principal object id>';
  const role = suggestRole(action);
  const who =
    context.principal === undefined
      ? objectId
      : `${context.principal.displayName} (credential "${context.principal.credential}", object id ${objectId})`;
  return make('AuthorizationFailed', `Not authorized on a linked resource to ${where(context)}: ${summary}`, {
    retryable: false,
    hint:
      scope === undefined
        ? `grant ${who} the right named in the message on the linked resource`
        : `grant ${role} to ${who} on the linked scope ${scope}: ${grantCommand({ principalId: objectId, role, scope })}`,
    details: { ...details, linked: true, action, scope, principalId: objectId, role },
  });
}

function classifyFailedOperation(
  summary: string,
  text: string,
  armCode: string | undefined,
  context: ErrorContext,
  details: Record<string, unknown>,
): FactoryError {
  if (STAGING_UNAUTHORIZED.test(text)) return imageBuilderUnauthorized(summary, text, context, details);
  if (armCode?.toLowerCase() === 'linkedauthorizationfailed')
    return linkedAuthorization(summary, text, context, details);
  if (armCode !== undefined && CROSS_TENANT_CODES.has(armCode.toLowerCase()))
    return crossTenant(summary, context, details);
  // The SDK's poller puts the operation's code in its message only ("…has failed. <code>. <message>").
  if (
    // …or, read from the failed template itself (provisioningError), only its text.
    (armCode === INTERNAL_OPERATION_ERROR ||
      /\bInternalOperationError\b/.test(text) ||
      /\bInternal error occurred\./.test(text)) &&
    context.stagingResourceGroupId !== undefined
  )
    return make('OperationFailed', `Operation failed: ${where(context)}: ${summary}`, {
      retryable: false,
      hint:
        `Image Builder gives this bare error for missing permissions and for a staging group conflict: ` +
        `${context.stagingResourceGroupId} must be the template's own (not tagged for another template, ` +
        `empty and in the template's region if it exists). Delete the failed template; the next build uses new names.`,
      details: { ...details, scope: context.stagingResourceGroupId },
    });
  if (armCode === 'AuthorizationFailed') {
    const { hint, details: more } = authorizationHint(text, context);
    return make('AuthorizationFailed', `Not authorized to ${where(context)}: ${summary}`, {
      retryable: false,
      hint,
      details: { ...details, ...more },
    });
  }
  const hint = refusalHint(armCode, text);
  return make('OperationFailed', `Operation failed: ${where(context)}: ${summary}`, {
    retryable: false,
    ...(hint === undefined ? {} : { hint }),
    details,
  });
}

/** Runs `fn`, turning whatever it throws into a classified FactoryError. */
export async function azureCall<T>(context: ErrorContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw classifyAzureError(error, context);
  }
}

/** 404 → undefined (for get-or-undefined reads); anything else is classified and thrown. */
export async function orUndefined<T>(context: ErrorContext, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    const classified = classifyAzureError(error, context);
    if (classified.code === 'NotFound') return undefined;
    throw classified;
  }
}
