/**
 * Stand-in for the Durable Functions extension's HTTP management API (HttpApiHandler) and for the
 * durable client binding data it injects into `df.input.durableClient()` inputs
 * (BindingHelper.DurableOrchestrationClientToString). Routes, status codes and JSON field names
 * follow the extension's HttpApiHandler; the data comes from the local OrchestrationEngine.
 */
import { randomUUID } from 'node:crypto';
import { isFactoryError } from '../../../shared/errors';
import type { InstanceStatus, OrchestrationEngine, RuntimeStatus } from '../contracts';

export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
export const RPC_PATH = '/durabletask/';
/** The placeholder BindingHelper puts into managementUrls. */
export const INSTANCE_ID_PLACEHOLDER = 'INSTANCEID';

const RUNTIME_STATUSES: RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
];
const TERMINAL: RuntimeStatus[] = ['Completed', 'Failed', 'Canceled', 'Terminated'];

export interface DurableApiOptions {
  engine: OrchestrationEngine;
  taskHubName: string;
  /** The connection name the real host would report (it only appears in URLs). */
  connectionName: string;
  /** System key of the durabletask extension; put into every webhook URL as `code=`. */
  systemKey: string;
}

export interface ApiRequest {
  method: string;
  /** Path below the API base, e.g. 'instances/abc' (no leading slash). */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Origin of the request (http://127.0.0.1:7071); the links it gets back use it. */
  origin: string;
  /** The full URL of this request (for the Location header of 202 status answers). */
  url: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpManagementPayload {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  rewindPostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

/** HttpApiHandler.GetClientResponseLinks. */
export function managementPayload(
  options: DurableApiOptions,
  origin: string,
  instanceId: string,
): HttpManagementPayload {
  const prefix = `${origin}${WEBHOOK_PATH}/instances/${encodeURIComponent(instanceId)}`;
  const suffix = `taskHub=${encodeURIComponent(options.taskHubName)}&connection=${encodeURIComponent(options.connectionName)}&code=${options.systemKey}`;
  return {
    id: instanceId,
    statusQueryGetUri: `${prefix}?${suffix}`,
    sendEventPostUri: `${prefix}/raiseEvent/{eventName}?${suffix}`,
    terminatePostUri: `${prefix}/terminate?reason={text}&${suffix}`,
    rewindPostUri: `${prefix}/rewind?reason={text}&${suffix}`,
    purgeHistoryDeleteUri: `${prefix}?${suffix}`,
    restartPostUri: `${prefix}/restart?${suffix}`,
    suspendPostUri: `${prefix}/suspend?reason={text}&${suffix}`,
    resumePostUri: `${prefix}/resume?reason={text}&${suffix}`,
  };
}

/** The JSON the host injects for a durableClient input (OrchestrationClientInputData). */
export function durableClientBindingData(
  options: DurableApiOptions,
  origin: string,
  rpcBaseUrl: string | undefined,
): Record<string, unknown> {
  const baseUrl = `${origin}${WEBHOOK_PATH}`;
  const query = `code=${options.systemKey}`;
  const creation = `${baseUrl}/orchestrators/{functionName}[/{instanceId}]`;
  // The placeholder is not URL-encoded (it has nothing to encode), exactly as in the host.
  const management = managementPayload(options, origin, INSTANCE_ID_PLACEHOLDER);
  return {
    taskHubName: options.taskHubName,
    creationUrls: {
      createNewInstancePostUri: `${creation}?${query}`,
      createAndWaitOnNewInstancePostUri: `${creation}?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: management,
    baseUrl,
    requiredQueryStringParameters: query,
    ...(rpcBaseUrl === undefined ? {} : { rpcBaseUrl }),
  };
}

/** `DateTime.ToString("s") + "Z"`: seconds precision, no fraction. */
function hostTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 19) + 'Z';
}

/** StatusResponsePayload. */
function statusPayload(status: InstanceStatus, showHistoryOutput: boolean): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    input: status.input ?? null,
    customStatus: status.customStatus ?? null,
    output: status.output ?? null,
    createdTime: hostTime(status.createdTime),
    lastUpdatedTime: hostTime(status.lastUpdatedTime),
  };
  if (status.history !== undefined) {
    payload.historyEvents = showHistoryOutput
      ? status.history
      : status.history.map((event) => {
          const { Result: _result, ...rest } = event;
          return rest;
        });
  }
  return payload;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

function empty(status: number): ApiResponse {
  return { status, headers: {} };
}

function error(status: number, message: string, detail?: string): ApiResponse {
  return json(
    status,
    detail === undefined ? { Message: message } : { Message: message, ExceptionMessage: detail },
  );
}

/** .NET bool.TryParse. */
function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name)?.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

function dateParam(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : new Date(parsed).toISOString();
}

function statusesParam(query: URLSearchParams): RuntimeStatus[] {
  return query
    .getAll('runtimeStatus')
    .flatMap((v) => v.split(','))
    .map((v) => RUNTIME_STATUSES.find((s) => s.toLowerCase() === v.trim().toLowerCase()))
    .filter((s): s is RuntimeStatus => s !== undefined);
}

function header(req: ApiRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

function checkStatusResponse(options: DurableApiOptions, origin: string, instanceId: string): ApiResponse {
  const p = managementPayload(options, origin, instanceId);
  const { rewindPostUri: _rewind, ...body } = p;
  return json(202, body, { Location: p.statusQueryGetUri, 'Retry-After': '10' });
}

async function getInstance(
  options: DurableApiOptions,
  req: ApiRequest,
  instanceId: string,
): Promise<ApiResponse> {
  const showHistory = boolParam(req.query, 'showHistory') ?? false;
  const showHistoryOutput = boolParam(req.query, 'showHistoryOutput') ?? false;
  const showInput = boolParam(req.query, 'showInput') ?? true;
  const failAs500 = boolParam(req.query, 'returnInternalServerErrorOnFailure') ?? false;
  const status = await options.engine.getStatus(instanceId, { showHistory, showInput });
  if (status === undefined) return empty(404);
  const body = statusPayload(status, showHistoryOutput);
  switch (status.runtimeStatus) {
    case 'Running':
    case 'Pending':
    case 'ContinuedAsNew':
    case 'Suspended':
      return json(202, body, { Location: req.url, 'Retry-After': '5' });
    case 'Failed':
      return json(failAs500 ? 500 : 200, body);
    default:
      return json(200, body);
  }
}

async function listInstances(options: DurableApiOptions, req: ApiRequest): Promise<ApiResponse> {
  const statuses = statusesParam(req.query);
  const top = Number.parseInt(req.query.get('top') ?? '', 10);
  const createdTimeFrom = dateParam(req.query, 'createdTimeFrom');
  const createdTimeTo = dateParam(req.query, 'createdTimeTo');
  const prefix = req.query.get('instanceIdPrefix');
  const token = header(req, 'x-ms-continuation-token');
  const result = await options.engine.list({
    ...(statuses.length > 0 ? { runtimeStatus: statuses } : {}),
    ...(createdTimeFrom === undefined ? {} : { createdTimeFrom }),
    ...(createdTimeTo === undefined ? {} : { createdTimeTo }),
    ...(prefix === null ? {} : { instanceIdPrefix: prefix }),
    ...(Number.isFinite(top) && top > 0 ? { top } : {}),
    ...(token === undefined || token === '' ? {} : { continuationToken: token }),
  });
  const showInput = boolParam(req.query, 'showInput') ?? true;
  const body = result.instances.map((s) => statusPayload(showInput ? s : { ...s, input: null }, false));
  // The host always sends the header; an empty value means "no more pages".
  return json(
    200,
    body,
    result.continuationToken ? { 'x-ms-continuation-token': result.continuationToken } : {},
  );
}

async function purgeOne(options: DurableApiOptions, instanceId: string): Promise<ApiResponse> {
  if (instanceId === '')
    return error(
      400,
      'Instance ID provided to the purge instance history request must not be null or empty.',
    );
  const status = await options.engine.getStatus(instanceId);
  if (status === undefined) return empty(404);
  if (!TERMINAL.includes(status.runtimeStatus)) {
    return json(
      412,
      `Only orchestrations in a terminal state can be purged, but the orchestration with instance ID ${instanceId} has status ${status.runtimeStatus}`,
    );
  }
  const deleted = await options.engine.purge(instanceId);
  return json(200, { instancesDeleted: deleted ? 1 : 0 });
}

async function purgeMany(options: DurableApiOptions, req: ApiRequest): Promise<ApiResponse> {
  const from = dateParam(req.query, 'createdTimeFrom');
  if (from === undefined) return json(400, "Please provide value for 'createdTimeFrom' parameter.");
  const to = dateParam(req.query, 'createdTimeTo') ?? new Date(options.engine.clock.now()).toISOString();
  const statuses = statusesParam(req.query);
  let deleted = 0;
  let token: string | undefined;
  const victims: string[] = [];
  do {
    const page = await options.engine.list({
      createdTimeFrom: from,
      createdTimeTo: to,
      ...(statuses.length > 0 ? { runtimeStatus: statuses } : {}),
      ...(token === undefined ? {} : { continuationToken: token }),
    });
    for (const s of page.instances) if (TERMINAL.includes(s.runtimeStatus)) victims.push(s.instanceId);
    token = page.continuationToken;
  } while (token !== undefined);
  for (const id of victims) if (await options.engine.purge(id)) deleted++;
  if (deleted === 0) return empty(404);
  return json(200, { instancesDeleted: deleted });
}

/**
 * DurableClient.StartNewAsync's checks (Azure/azure-functions-durable-extension,
 * ContextImplementations/DurableClient.cs): no leading '@', none of / \ ? # or a control character
 * (.NET char.IsControl), at most 256 characters; the messages are the extension's.
 */
function instanceIdProblem(id: string): string | undefined {
  if (id.startsWith('@')) return 'Orchestration instance ids must not start with @.';
  if (/[/\\?#\u0000-\u001f\u007f-\u009f]/.test(id))
    return 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.';
  if (id.length > 256) return 'Instance ID lengths must not exceed 256 characters.';
  return undefined;
}

async function startOrchestration(
  options: DurableApiOptions,
  req: ApiRequest,
  functionName: string,
  instanceIdFromRoute: string,
): Promise<ApiResponse> {
  let input: unknown;
  const text = req.body.toString('utf8');
  if (req.body.length > 0) {
    const parsed = parseJson(text);
    if (!parsed.ok) return error(400, 'Invalid JSON content', parsed.message);
    input = parsed.value;
  }
  const instanceId = instanceIdFromRoute === '' ? randomUUID().replace(/-/g, '') : instanceIdFromRoute;
  const invalid = instanceIdProblem(instanceId);
  // The extension's StartNewAsync throws ArgumentException; HttpApiHandler answers it with 400.
  if (invalid !== undefined)
    return error(400, 'One or more of the arguments submitted is incorrect', invalid);
  // durable-functions 3.5 `client.startNew(name, { version })` sends it as `?version=` (DurableClient.js);
  // without it the instance gets host.json defaultVersion.
  const version = req.query.get('version') || undefined;
  try {
    await options.engine.startNew(functionName, {
      instanceId,
      ...(input === undefined ? {} : { input }),
      ...(version === undefined ? {} : { version }),
    });
  } catch (e) {
    if (isFactoryError(e, 'InstanceExists')) return error(409, e.message);
    if (isFactoryError(e, 'OrchestratorNotFound')) return error(400, e.message);
    throw e;
  }
  return checkStatusResponse(options, req.origin, instanceId);
}

async function raiseEvent(
  options: DurableApiOptions,
  req: ApiRequest,
  instanceId: string,
  eventName: string,
): Promise<ApiResponse> {
  const status = await options.engine.getStatus(instanceId);
  if (status === undefined) return empty(404);
  if (TERMINAL.includes(status.runtimeStatus)) return empty(410);
  const mediaType = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json')
    return error(400, 'Only application/json request content is supported');
  const text = req.body.toString('utf8');
  let data: unknown = null;
  if (text.trim() !== '') {
    const parsed = parseJson(text);
    // Newtonsoft's ConvertToJToken accepts a bare string that is not JSON as a string value.
    data = parsed.ok ? parsed.value : text;
  }
  try {
    await options.engine.raiseEvent(instanceId, eventName, data);
  } catch (e) {
    if (isFactoryError(e, 'InstanceNotFound')) return empty(404);
    if (isFactoryError(e, 'InstanceCompleted')) return empty(410);
    throw e;
  }
  return empty(202);
}

async function terminate(
  options: DurableApiOptions,
  req: ApiRequest,
  instanceId: string,
): Promise<ApiResponse> {
  const status = await options.engine.getStatus(instanceId);
  if (status === undefined) return empty(404);
  if (TERMINAL.includes(status.runtimeStatus)) return empty(410);
  await options.engine.terminate(instanceId, req.query.get('reason') ?? '');
  return empty(202);
}

/**
 * Handles one request below the API base (HttpApiHandler.HandleRequestAsync). Operations the
 * engine has no notion of (rewind, restart, suspend, resume, entities) answer 501.
 */
export async function handleDurableApi(options: DurableApiOptions, req: ApiRequest): Promise<ApiResponse> {
  const segments = req.path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map(decodeURIComponent);
  const [controller, a = '', b, c, ...rest] = segments;
  const method = req.method.toUpperCase();
  try {
    if (controller === 'orchestrators' && a !== '' && c === undefined) {
      return method === 'POST' ? await startOrchestration(options, req, a, b ?? '') : empty(404);
    }
    if (controller === 'instances' && rest.length === 0) {
      if (b === 'raiseEvent' && c !== undefined && c !== '') {
        return method === 'POST' ? await raiseEvent(options, req, a, c) : empty(404);
      }
      if (c !== undefined) return empty(404);
      if (a === '') {
        if (method === 'GET') return await listInstances(options, req);
        if (method === 'DELETE') return await purgeMany(options, req);
        return empty(404);
      }
      if (b === undefined || b === '') {
        if (method === 'GET') return await getInstance(options, req, a);
        if (method === 'DELETE') return await purgeOne(options, a);
        return empty(404);
      }
      if (method !== 'POST') return empty(404);
      switch (b.toLowerCase()) {
        case 'terminate':
          return await terminate(options, req, a);
        case 'rewind':
        case 'restart':
        case 'suspend':
        case 'resume':
          return error(501, `The local host does not support '${b}'.`);
        default:
          // The extension falls through to 404 for unknown operations.
          return empty(404);
      }
    }
    if (controller === 'entities') return error(501, 'The local host does not support durable entities.');
    return empty(404);
  } catch (e) {
    return error(
      500,
      'Something went wrong while processing your request',
      e instanceof Error ? e.message : String(e),
    );
  }
}
