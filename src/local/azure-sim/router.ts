/**
 * Routing of every HTTPS request the simulator receives: Entra paths to entra.ts, storage accounts
 * to blob.ts, the rest to ARM. For ARM it owns what every call shares: the operation key, the
 * request log and counts, injected faults, the subscription/tenant check, operation resources,
 * provider registration, the api-version check, the route table, and the headers ARM adds.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimRequestRecord } from './api';
import { apiVersionsFor } from './api-versions';
import { authenticate, auxiliaryClaims } from './arm-auth';
import { blobOperation, blobRequest } from './blob';
import { reportArmExchange } from './contract';
import { entraRequest } from './entra';
import { operationRequest } from './operations';
import type { Simulator } from './sim';
import { ArmError, type ArmRequest, type ArmResponse } from './types';
import { idSegments, isObject, redact, str, eqi } from './util';

export type Handler = (sim: Simulator, req: ArmRequest) => ArmResponse | Promise<ArmResponse>;

export interface Route {
  /** Canonical lower-case type the route serves, e.g. "microsoft.compute/galleries/images". */
  type: string;
  /** get/put/patch/delete on an item, list on a collection, or an action name (POST). */
  verb: 'get' | 'put' | 'patch' | 'delete' | 'list' | `action:${string}`;
  handler: Handler;
}

/**
 * A data plane served on the simulator's HTTPS endpoint by path (like Blob): answers and returns
 * true when the request is its own (e.g. Event Grid's `/{topic}/api/events`, eventgrid.ts).
 */
export type DataPlane = (
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
  raw: string,
) => boolean;

export async function dispatch(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = sim.newGuid();
  res.setHeader('x-ms-request-id', requestId);
  res.setHeader('x-ms-correlation-request-id', requestId);
  try {
    const raw = await readBody(req);
    // ARM tolerates '//subscriptions/…' (SDKs join a leading-slash scope); never parse it as a host.
    const url = new URL(sim.armEndpoint + '/' + (req.url ?? '/').replace(/^\/+/, ''));
    const segments = idSegments(url.pathname).map(decodeURIComponent);
    const first = segments[0]?.toLowerCase();
    if (
      segments[1]?.toLowerCase() === 'oauth2' ||
      segments[1]?.toLowerCase() === 'v2.0' ||
      segments[1]?.toLowerCase() === 'discovery'
    ) {
      const operation = req.method === 'POST' ? 'POST oauth2/token' : undefined;
      if (operation !== undefined && (await transportFault(sim, req, res, operation))) return;
      return entraRequest(sim, req, res, segments, raw);
    }
    if (sim.dataPlanes.some((plane) => plane(sim, req, res, segments, raw))) return;
    if (
      first !== 'subscriptions' &&
      first !== 'providers' &&
      first !== undefined &&
      isStorageAccount(sim, first)
    ) {
      if (await transportFault(sim, req, res, blobOperation(req, url, segments))) return;
      return blobRequest(sim, req, res, url, segments);
    }
    await armRequest(sim, req, res, url, segments, raw);
  } catch (e) {
    if (!res.headersSent)
      sendJson(res, 500, {
        error: {
          code: 'InternalServerError',
          message: `Simulator error: ${e instanceof Error ? e.message : String(e)}`,
        },
      });
  }
}

function isStorageAccount(sim: Simulator, name: string): boolean {
  return [...sim.resources.values()].some(
    (r) => r.type === 'Microsoft.Storage/storageAccounts' && r.name.toLowerCase() === name,
  );
}

/** The operation key ("PUT Microsoft.Compute/galleries/images"), canonical type, verb and namespace of a call. */
export function operationKey(
  method: string,
  segments: string[],
): { key: string; type: string; verb: Route['verb']; namespace: string } {
  const lower = segments.map((s) => s.toLowerCase());
  const provIdx = lower.lastIndexOf('providers');
  // The providers API of a subscription: /subscriptions/{s}/providers/{ns}[/register|/unregister]
  if (
    provIdx === 2 &&
    lower[0] === 'subscriptions' &&
    (lower.length === 4 ||
      (lower.length === 5 && method === 'POST' && (lower[4] === 'register' || lower[4] === 'unregister')))
  ) {
    const action = lower[4];
    return {
      key:
        action === undefined
          ? `${method} Microsoft.Resources/providers`
          : `POST Microsoft.Resources/providers/${action}`,
      type: 'microsoft.resources/providers',
      verb: action === undefined ? (method.toLowerCase() as Route['verb']) : `action:${action}`,
      namespace: 'Microsoft.Resources',
    };
  }
  if (provIdx < 0) {
    // subscriptions/{s}[/resourceGroups[/{rg}[/resources]]]
    if (lower.length <= 2)
      return {
        key: `${method} Microsoft.Resources/subscriptions`,
        type: 'microsoft.resources/subscriptions',
        verb: 'get',
        namespace: 'Microsoft.Resources',
      };
    if (lower[4] === 'resources')
      return {
        key: `GET Microsoft.Resources/resources`,
        type: 'microsoft.resources/resources',
        verb: 'list',
        namespace: 'Microsoft.Resources',
      };
    const verb = lower.length === 3 ? 'list' : (method.toLowerCase() as Route['verb']);
    return {
      key: `${method} Microsoft.Resources/resourceGroups`,
      type: 'microsoft.resources/resourcegroups',
      verb,
      namespace: 'Microsoft.Resources',
    };
  }
  const ns = segments[provIdx + 1] ?? '';
  const rest = segments.slice(provIdx + 2);
  const types: string[] = [];
  for (let i = 0; i < rest.length; i += 2) types.push(rest[i] ?? '');
  let verb: Route['verb'];
  let typeParts = types;
  if (rest.length % 2 === 1) {
    if (method === 'POST') {
      const action = types[types.length - 1] ?? '';
      typeParts = types.slice(0, -1);
      verb = `action:${action.toLowerCase()}`;
      // A provider-level action (POST /providers/Microsoft.ResourceGraph/resources): the type is the namespace.
      if (typeParts.length === 0)
        return { key: `POST ${ns}/${action}`, type: ns.toLowerCase(), verb, namespace: ns };
      return {
        key: `POST ${ns}/${typeParts.join('/')}/${action}`,
        type: `${ns}/${typeParts.join('/')}`.toLowerCase(),
        verb,
        namespace: ns,
      };
    }
    verb = 'list';
  } else {
    verb = method.toLowerCase() as Route['verb'];
  }
  return {
    key: `${method} ${ns}/${typeParts.join('/')}`,
    type: `${ns}/${typeParts.join('/')}`.toLowerCase(),
    verb,
    namespace: ns,
  };
}

async function armRequest(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  segments: string[],
  raw: string,
): Promise<void> {
  const method = req.method ?? 'GET';
  const apiVersion = url.searchParams.get('api-version') ?? undefined;
  const { key, type, verb, namespace } = operationKey(method, segments);
  let body: unknown = undefined;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const record: SimRequestRecord = {
    method,
    path: url.pathname,
    apiVersion,
    operation: key,
    status: 0,
    body: redact(body),
    hadAuxiliaryHeader: req.headers['x-ms-authorization-auxiliary'] !== undefined,
  };
  sim.count(key);
  sim.log.push(record);
  sim.onRequest?.({ method, path: url.pathname, operation: key });
  const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
    record.status = status;
    reportArmExchange({
      method,
      type,
      verb,
      path: url.pathname,
      apiVersion,
      requestBody: body,
      status,
      responseBody: payload,
    });
    for (const [k, v] of Object.entries({
      ...armHeaders(sim, method, segments, status, payload),
      ...headers,
    }))
      res.setHeader(k, v);
    if (payload === undefined) {
      res.writeHead(status);
      res.end();
    } else sendJson(res, status, payload);
  };
  // faults
  const fault = pickFault(sim, key);
  if (fault === 'reset') {
    record.status = -1;
    req.socket.destroy();
    return;
  }
  if (fault === 'slow') await new Promise((r) => setTimeout(r, sim.faultPlan?.slowMs ?? 50));
  if (fault === 'stall') stallAfterHeaders(res);
  if (fault === '429')
    return send(
      429,
      {
        error: {
          code: 'TooManyRequests',
          // ARM's body for a throttled request (Azure/migAz#57); the wait is in Retry-After.
          message: 'The request is being throttled.',
        },
      },
      { 'Retry-After': String(sim.faultPlan?.retryAfterSeconds ?? 1) },
    );
  if (fault === '500')
    return send(500, {
      error: {
        code: 'InternalServerError',
        // ARM's text (openshift/openshift-azure#1506).
        message:
          `Encountered internal server error. Diagnostic information: timestamp '${new Date(sim.clock.now()).toISOString().replace(/[-:]|\.\d+/g, '')}', ` +
          `subscription id '${/\/subscriptions\/([^/]+)/i.exec(url.pathname)?.[1] ?? ''}', tracking id '${sim.newGuid()}', ` +
          `request correlation id '${sim.newGuid()}'.`,
      },
    });
  if (fault === '503')
    return send(
      503,
      {
        error: {
          code: 'ServiceUnavailable',
          message: 'The service is currently unavailable. Please try again later.',
        },
      },
      { 'Retry-After': String(sim.faultPlan?.retryAfterSeconds ?? 1) },
    );
  try {
    sim.tick();
    const claims = authenticate(sim, req);
    const auxiliary = auxiliaryClaims(sim, req);
    const armReq: ArmRequest = {
      method,
      path: url.pathname,
      segments,
      query: url.searchParams,
      apiVersion,
      body,
      headers: req.headers,
      claims,
      auxiliary,
      operation: key,
    };
    // subscription + tenant
    const sub = segments[0]?.toLowerCase() === 'subscriptions' ? segments[1] : undefined;
    if (sub !== undefined) {
      const subTenant = sim.subscriptionTenant.get(sub.toLowerCase());
      if (!subTenant)
        throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
      if (!eqi(subTenant, claims.tid)) {
        throw new ArmError(
          401,
          'InvalidAuthenticationTokenTenant',
          `The access token is from the wrong issuer 'https://sts.windows.net/${claims.tid}/'. It must match the tenant 'https://sts.windows.net/${subTenant}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${subTenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`,
          {
            'WWW-Authenticate': `Bearer authorization_uri="https://login.windows.net/${subTenant}", error="invalid_token", error_description="The access token is from the wrong issuer."`,
          },
        );
      }
    }
    const opResponse = operationRequest(sim, armReq);
    if (opResponse) return send(opResponse.status, opResponse.body, opResponse.headers);
    // a namespace the subscription has not registered: 409 MissingSubscriptionRegistration
    if (sub !== undefined) sim.providerRegistry.assertRegistered(sub, namespace);
    // api-version
    const supported = apiVersionsFor(type);
    if (apiVersion === undefined) {
      throw new ArmError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    if (!supported.includes(apiVersion)) {
      throw new ArmError(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(',')}'.`,
      );
    }
    const route = sim.routes.find((r) => r.type === type && r.verb === verb);
    if (!route) {
      if (supported.length === 0 || verb.startsWith('action:'))
        throw new ArmError(
          404,
          'NoRegisteredProviderFound',
          // The ARM troubleshooting doc's text ("Resolve errors for resource provider registration")
          `No registered resource provider found for location '${str((body as Record<string, unknown> | undefined)?.location) ?? ''}' and API version '${apiVersion}' for type '${type.split('/').slice(1).join('/')}'.`,
        );
      throw new ArmError(
        405,
        'MethodNotAllowed',
        `The operation '${key}' is not supported by the simulator.`,
      );
    }
    const out = await route.handler(sim, armReq);
    send(out.status, out.body, out.headers);
  } catch (e) {
    if (e instanceof ArmError) {
      send(
        e.status,
        { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } },
        e.headers,
      );
      return;
    }
    throw e;
  }
}

/**
 * Headers ARM adds to answers (recorded traffic, issue 13 item 8): `x-ms-ratelimit-remaining-
 * subscription-{reads|writes|deletes}` counting down per subscription and clock hour from ARM's
 * documented per-hour limits (12,000 reads, 1,200 writes, 15,000 deletes), and an `ETag` on a
 * resource body (its value here is a hash of the body: a shape, not Azure's value).
 */
function armHeaders(
  sim: Simulator,
  method: string,
  segments: string[],
  status: number,
  payload: unknown,
): Record<string, string> {
  const out: Record<string, string> = {};
  const sub = segments[0]?.toLowerCase() === 'subscriptions' ? segments[1]?.toLowerCase() : undefined;
  if (sub !== undefined) {
    const kind = method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
    const limit = kind === 'reads' ? 12_000 : kind === 'writes' ? 1_200 : 15_000;
    const key = `${sub}|${kind}|${Math.floor(sim.clock.now() / 3_600_000)}`;
    const used = (sim.rateLimitUse.get(key) ?? 0) + 1;
    sim.rateLimitUse.set(key, used);
    out[`x-ms-ratelimit-remaining-subscription-${kind}`] = String(Math.max(0, limit - used));
  }
  if (status < 300 && isObject(payload) && typeof payload.id === 'string' && method !== 'DELETE')
    out.ETag = `"${createHash('sha1').update(JSON.stringify(payload)).digest('hex').slice(0, 16)}"`;
  return out;
}

/**
 * The faults a connection can have (`slow`: the answer held back; `reset`: the socket destroyed;
 * `stall`: the answer stops partway for good) for
 * a call outside ARM (Entra's token endpoint, the managed-identity endpoint, the Blob data plane),
 * and only when the plan names its operation: their error answers are not ARM's, and a plan without
 * `operations` keeps the sequence of faults the ARM suites were written against. True when the
 * connection was reset.
 */
export async function transportFault(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  operation: string,
): Promise<boolean> {
  if (sim.faultPlan?.operations?.includes(operation) !== true) return false;
  const fault = pickFault(sim, operation);
  if (fault === 'reset') {
    sim.count(operation);
    req.socket.destroy();
    return true;
  }
  if (fault === 'slow') await new Promise((r) => setTimeout(r, sim.faultPlan?.slowMs ?? 50));
  if (fault === 'stall') stallAfterHeaders(res);
  return false;
}

/**
 * The `stall` fault: the answer's status, headers and first half of its body go out, then nothing,
 * until the client gives up or the simulator stops (a connection that died mid-body without
 * closing). Only a client-side limit that covers the body ends the call.
 */
function stallAfterHeaders(res: ServerResponse): void {
  res.end = ((chunk?: unknown) => {
    const body =
      typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.alloc(0);
    res.write(body.subarray(0, Math.floor(body.length / 2)));
    return res;
  }) as ServerResponse['end'];
}

function pickFault(sim: Simulator, operation: string): string | undefined {
  const plan = sim.faultPlan;
  if (!plan || plan.rate <= 0 || plan.kinds.length === 0) return undefined;
  if (plan.operations && !plan.operations.includes(operation)) return undefined;
  const roll = sim.faultRandom();
  const which = sim.faultRandom();
  if (roll >= plan.rate) return undefined;
  return plan.kinds[Math.floor(which * plan.kinds.length)];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
