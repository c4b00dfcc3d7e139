/**
 * The HTTP API's logic, as plain functions over a small client interface (the durable client in
 * production): start, list, inspect and cancel builds, list pipelines, revoke versions. Bad input
 * gets an application/problem+json answer naming the offending fields, and starts nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  BUILD_ORCHESTRATION,
  CANCEL_EVENT,
  REVOKE_ORCHESTRATION,
  type BuildCustomStatus,
  type StageStatus,
} from '../domain/build-status';
import { statusPage } from './status-page';
import { DEFAULT_API_POLICY, oneStartAtATime, publicBaseUrl, queueCapProblem, type ApiPolicy } from './abuse';
import { callerOf } from './caller';
import { isApiInstanceId } from './instance-id';
import { problem } from './problem';
import { newNonce, pageSecurityHeaders } from './security-headers';
import { fleetPage } from './pages/fleet-page';
import { revocationId, revocationUri, revocationView } from './revocations';
import { bounded } from '../shared/text';
import { compareVersions } from '../shared/orchestration-version';
import { formatPath, type DefinitionProblem, type PipelineDefinition } from '../domain/pipeline/definition';
import {
  applyOverrides,
  definitionDigest,
  startOverridesSchema,
  type BuildInput,
} from '../domain/pipeline/admission';
import type { Environments } from '../domain/pipeline/environments';

export interface InstanceView {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  customStatus: unknown;
  output: unknown;
  input: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

/** What the API needs from the durable client. */
export interface BuildsClient {
  startNew(name: string, instanceId: string, input: unknown): Promise<void>;
  getStatus(instanceId: string): Promise<InstanceView | undefined>;
  list(runtimeStatus?: string[]): Promise<InstanceView[]>;
  raiseEvent(instanceId: string, name: string, data: unknown): Promise<void>;
  /** The standard Durable check-status links for an instance. */
  statusLinks(instanceId: string): Record<string, string>;
}

export interface ApiRequest {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  params: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body: string;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  jsonBody?: unknown;
  body?: string;
}

export interface Pipelines {
  valid: Map<string, PipelineDefinition>;
  invalid: { file: string; problems: DefinitionProblem[] }[];
  /** The target environments the pipelines were checked against. */
  environments?: Environments;
}

export { problem };
import { buildView, replicationWaits, TERMINAL } from './build-view';
export { buildView };

export const MAX_BODY_BYTES = 64 * 1024;

/** Reads a JSON body: content type, size and syntax checked; then the schema, every error by path. */
function readBody<T>(request: ApiRequest, schema: z.ZodType<T>): { value: T } | { error: ApiResponse } {
  if (Buffer.byteLength(request.body) > MAX_BODY_BYTES) {
    return { error: problem(413, 'Payload Too Large', `The body is larger than ${MAX_BODY_BYTES} bytes.`) };
  }
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    return {
      error: problem(415, 'Unsupported Media Type', 'Send the body as application/json.', [
        { path: '(header) content-type', message: `is '${bounded(type)}'` },
      ]),
    };
  }
  let parsed: unknown;
  try {
    parsed = request.body.trim() === '' ? {} : JSON.parse(request.body);
  } catch (error) {
    return {
      error: problem(400, 'Malformed JSON', `The body is not valid JSON: ${(error as Error).message}`),
    };
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    // An unknown field is named by its own path (`overrides.vmSize`), not by the object holding it.
    const errors = result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            path: formatPath([...issue.path, bounded(key)]),
            message: 'is not a field of this request',
          }))
        : [{ path: formatPath(issue.path) || '(body)', message: issue.message }],
    );
    return { error: problem(400, 'Invalid Request', 'The request body has invalid fields.', errors) };
  }
  return { value: result.data };
}

/**
 * Free text a caller writes (reasons): one line of printable text. It is shown in the console, the
 * logs and the status page, where a CR/LF or ANSI sequence could forge a line (issue 14).
 */
const freeText = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/, 'must be one line without control characters');

const startSchema = z
  .object({
    pipeline: z.string().min(1).max(64),
    reason: freeText(500).optional(),
    overrides: startOverridesSchema.optional(),
  })
  .strict();

type StartOverrides = NonNullable<z.infer<typeof startSchema>['overrides']>;

/** The served definition with the overrides applied (admission.ts); 422 with paths otherwise. */
function withOverrides(
  definition: PipelineDefinition,
  overrides: StartOverrides | undefined,
): { pipeline: PipelineDefinition } | { error: ApiResponse } {
  const applied = applyOverrides(definition, overrides);
  if ('pipeline' in applied) return applied;
  return {
    error: problem(
      422,
      'Invalid Overrides',
      `The overrides do not fit pipeline '${definition.name}'.`,
      applied.errors,
    ),
  };
}

const cancelSchema = z.object({ reason: freeText(500).min(1, 'a reason is required') }).strict();
const revokeSchema = z.object({ reason: freeText(500).min(1, 'a reason is required') }).strict();

/**
 * This API's own links for a build (the caller adds its key, as `code` or x-functions-key), built
 * from the configured host name: a forged Host header or absolute request target cannot make an
 * answer point a reader (and their key) elsewhere. No host configured: relative links.
 */
export function buildLinks(policy: ApiPolicy, id: string): { buildUri: string; viewUri: string } {
  const base = `${publicBaseUrl(policy)}/api/builds/${encodeURIComponent(id)}`;
  return { buildUri: base, viewUri: `${base}/view` };
}

const requester = (request: ApiRequest, policy: ApiPolicy) => callerOf(request, policy.trustEasyAuth).audit;
const BAD_ID = {
  path: '(route) id',
  message: "must be 1..100 letters, digits, ., _, :, -, starting with a letter or digit, without '..'",
};

/** How long a client is told to wait while the factory drains (a release takes minutes). */
export const DRAIN_RETRY_AFTER_SECONDS = 600;

/** The operator's drain switch (app setting FACTORY_DRAINING): no new builds, in-flight ones go on. */
export interface DrainState {
  draining: boolean;
}

export function drainingProblem(): ApiResponse {
  const refused = problem(
    503,
    'Factory Draining',
    'The factory is draining for a release (FACTORY_DRAINING=true): builds in flight continue, ' +
      'new builds are not accepted. Retry after the release.',
  );
  return { ...refused, headers: { ...refused.headers, 'retry-after': String(DRAIN_RETRY_AFTER_SECONDS) } };
}

export async function startBuild(
  request: ApiRequest,
  client: BuildsClient,
  pipelines: Pipelines,
  policy: ApiPolicy = DEFAULT_API_POLICY,
  drain: DrainState = { draining: false },
): Promise<ApiResponse> {
  // Before anything else: a draining factory starts nothing, whatever the request says.
  if (drain.draining) return drainingProblem();
  const body = readBody(request, startSchema);
  if ('error' in body) return body.error;
  const definition = pipelines.valid.get(body.value.pipeline);
  if (definition === undefined) {
    return problem(404, 'Unknown Pipeline', noSuchPipeline(body.value.pipeline), [
      { path: 'pipeline', message: `must be one of: ${[...pipelines.valid.keys()].join(', ')}` },
    ]);
  }
  const applied = withOverrides(definition, body.value.overrides);
  if ('error' in applied) return applied.error;
  const key = request.headers['idempotency-key'];
  if (key !== undefined && (key.length < 1 || key.length > 200)) {
    return problem(400, 'Invalid Request', 'Idempotency-Key must be 1..200 characters.', [
      { path: '(header) Idempotency-Key', message: 'must be 1..200 characters' },
    ]);
  }
  const fingerprint = createHash('sha256').update(JSON.stringify(body.value)).digest('hex');
  const buildId = key
    ? `${definition.name}-${createHash('sha256').update(`${definition.name}\n${key}`).digest('hex').slice(0, 20)}`
    : `${definition.name}-${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  /** The same key again: the same build (200), unless the body differs (409, nothing started). */
  const replay = (existing: InstanceView): ApiResponse => {
    const input = existing.input as { requestFingerprint?: string } | null;
    if (input?.requestFingerprint !== fingerprint) {
      return problem(
        409,
        'Idempotency Key Reused',
        'This Idempotency-Key was used for a different request.',
        [{ path: '(header) Idempotency-Key', message: 'already used with another body' }],
      );
    }
    const links = client.statusLinks(buildId);
    return {
      status: 200,
      headers: { location: links.statusQueryGetUri ?? '' },
      jsonBody: { id: buildId, ...buildLinks(policy, buildId), ...links },
    };
  };
  if (key) {
    const existing = await client.getStatus(buildId);
    if (existing) return replay(existing);
  }
  // Count and start as one step in this instance, so concurrent requests cannot all see room.
  const refused = await oneStartAtATime(async (): Promise<ApiResponse | undefined> => {
    const full = await queueCapProblem(client, applied.pipeline, pipelines, policy);
    if (full !== undefined) return full;
    try {
      // The name and digest only: the orchestration's first activity loads the served definition
      // again and refuses any other (admission.ts), so the input cannot carry a definition.
      await client.startNew(BUILD_ORCHESTRATION, buildId, {
        buildId,
        pipeline: definition.name,
        definitionDigest: definitionDigest(applied.pipeline),
        ...(body.value.overrides === undefined ? {} : { overrides: body.value.overrides }),
        reason: body.value.reason,
        requestedBy: requester(request, policy),
        requestFingerprint: fingerprint,
      } satisfies BuildInput);
      return undefined;
    } catch (error) {
      // Two requests with the same key at once: the loser finds the winner's build (409 from the host).
      const existing = key ? await client.getStatus(buildId) : undefined;
      if (existing === undefined) throw error;
      return replay(existing);
    }
  });
  if (refused !== undefined) return refused;
  const links = client.statusLinks(buildId);
  return {
    status: 202,
    headers: { location: links.statusQueryGetUri ?? '' },
    jsonBody: { id: buildId, ...buildLinks(policy, buildId), ...links },
  };
}

/**
 * A console page: HTML whose every <script> and <style> carries a fresh nonce, the only ones the
 * CSP lets run. The page holds no data (it reads the JSON API with the caller's key), so its route
 * is anonymous: the link the API returns opens it, and it asks for the key when the API does.
 */
export function htmlPage(render: (nonce: string) => string): ApiResponse {
  const nonce = newNonce();
  return { status: 200, headers: pageSecurityHeaders(nonce), body: render(nonce) };
}

/** GET /api/builds/{id}/view: the build's timeline page (it reads the build itself). */
export function viewBuild(request: ApiRequest): ApiResponse {
  const id = request.params.id ?? '';
  if (!isApiInstanceId(id)) return problem(400, 'Invalid Request', 'Not a build id.', [BAD_ID]);
  return htmlPage((nonce) => statusPage(id, nonce));
}

/** GET /api/fleet/view: the fleet page. */
export const viewFleet = (): ApiResponse => htmlPage(fleetPage);

export async function getBuild(
  request: ApiRequest,
  client: BuildsClient,
  policy: ApiPolicy = DEFAULT_API_POLICY,
): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!isApiInstanceId(id)) return problem(400, 'Invalid Request', 'Not a build id.', [BAD_ID]);
  const status = await client.getStatus(id);
  if (status === undefined || status.name !== BUILD_ORCHESTRATION)
    return problem(404, 'Not Found', `No build '${id}'.`);
  const view = buildView(status);
  await showLiveReplication(view, status, client);
  // A revoked version: the build answer names its revocation (a resource of its own).
  const revocation =
    typeof view.pipeline === 'string' && typeof view.imageVersion === 'string'
      ? await client.getStatus(revocationId(view.pipeline, view.imageVersion))
      : undefined;
  return {
    status: 200,
    jsonBody: {
      ...view,
      revocations:
        revocation?.name === REVOKE_ORCHESTRATION
          ? [
              {
                ...revocationView(revocation),
                revocationUri: revocationUri(policy, revocation.instanceId),
              },
            ]
          : [],
      links: client.statusLinks(id),
    },
  };
}

/**
 * The wait statuses whose last read is still the news: running, between generations, or ended but
 * not yet heard by the build (from 0.7.0 the build hears at the end only, so until its next episode
 * the stage holds no regions of its own). A failed or terminated wait's read is not shown.
 */
const WAIT_READ_SHOWN = new Set(['Running', 'ContinuedAsNew', 'Completed']);

/** A stage whose version replicates shows the progress of its wait's last read (replicationWaits). */
async function showLiveReplication(
  view: Record<string, unknown>,
  status: InstanceView,
  client: BuildsClient,
): Promise<void> {
  const stages = view.stages as StageStatus[];
  for (const { stage, instanceId } of replicationWaits(status)) {
    const wait = await client.getStatus(instanceId);
    const regions = (wait?.customStatus as { regions?: unknown } | null | undefined)?.regions;
    const shown = stages.find((s) => s.name === stage);
    if (shown !== undefined && WAIT_READ_SHOWN.has(wait?.runtimeStatus ?? '') && Array.isArray(regions))
      shown.regions = regions as StageStatus['regions'];
  }
}

/** Names only what could be a pipeline name: a key, a script or a 10k string sent as one is not repeated. */
const noSuchPipeline = (name: string) =>
  PIPELINE_NAME.test(name)
    ? `There is no valid pipeline named '${name}'.`
    : 'There is no valid pipeline by that name (pipeline names are 4-42 lower-case letters, digits and -).';

const LIST_QUERY = new Set(['status', 'pipeline', 'top', 'continuation', 'code']);
const PIPELINE_NAME = /^[a-z][a-z0-9-]{2,40}[a-z0-9]$/;

/** Keyset paging over (createdTime desc, id asc): the token names the last build of the page. */
const encodeContinuation = (view: Record<string, unknown>) =>
  Buffer.from(JSON.stringify([view.createdTime, view.id])).toString('base64url');
function decodeContinuation(token: string): [string, string] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')
      ? (value as [string, string])
      : undefined;
  } catch {
    return undefined;
  }
}
const newestFirst = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(b.createdTime).localeCompare(String(a.createdTime)) || String(a.id).localeCompare(String(b.id));

/**
 * Builds still running per factory version (all builds, not the page): an old version's code paths
 * may be deleted once its count is gone (docs/runbook.md). Builds from before versioning count
 * under "unversioned".
 */
function runningByVersion(views: Record<string, unknown>[]): { factoryVersion: string; running: number }[] {
  const counts = new Map<string, number>();
  for (const view of views) {
    if (TERMINAL.has(String(view.runtimeStatus))) continue;
    const version = typeof view.factoryVersion === 'string' ? view.factoryVersion : 'unversioned';
    counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort(([a], [b]) => compareVersions(a === 'unversioned' ? '' : a, b === 'unversioned' ? '' : b))
    .map(([factoryVersion, running]) => ({ factoryVersion, running }));
}

export async function listBuilds(
  request: ApiRequest,
  client: BuildsClient,
  drain: DrainState = { draining: false },
): Promise<ApiResponse> {
  const errors: { path: string; message: string }[] = [];
  for (const name of Object.keys(request.query))
    if (!LIST_QUERY.has(name))
      errors.push({
        path: `(query) ${name}`,
        message: 'is not a filter; use status, pipeline, top, continuation',
      });
  const statusFilter = request.query.status;
  const allowed = ['running', 'succeeded', 'failed', 'rejected', 'timedOut', 'canceled'];
  if (statusFilter !== undefined && !allowed.includes(statusFilter))
    errors.push({ path: '(query) status', message: `must be one of ${allowed.join(', ')}` });
  const pipeline = request.query.pipeline;
  if (pipeline !== undefined && !PIPELINE_NAME.test(pipeline))
    errors.push({ path: '(query) pipeline', message: 'must be a pipeline name' });
  const top = request.query.top === undefined ? 50 : Number(request.query.top);
  if (!Number.isInteger(top) || top < 1 || top > 500)
    errors.push({ path: '(query) top', message: 'must be 1..500' });
  const after =
    request.query.continuation === undefined ? undefined : decodeContinuation(request.query.continuation);
  if (request.query.continuation !== undefined && after === undefined)
    errors.push({ path: '(query) continuation', message: 'is not a token this API returned' });
  if (errors.length > 0) return problem(400, 'Invalid Request', 'The query has invalid parameters.', errors);

  const all = (await client.list()).filter((i) => i.name === BUILD_ORCHESTRATION).map(buildView);
  const views = all
    .filter((v) => (statusFilter ? v.outcome === statusFilter : true))
    .filter((v) => (pipeline ? v.pipeline === pipeline : true))
    .sort(newestFirst);
  const rest =
    after === undefined
      ? views
      : views.filter((v) => newestFirst(v, { createdTime: after[0], id: after[1] }) > 0);
  const page = rest.slice(0, top);
  const last = page[page.length - 1];
  return {
    status: 200,
    jsonBody: {
      builds: page,
      total: views.length,
      fleet: { draining: drain.draining, runningByVersion: runningByVersion(all) },
      ...(rest.length > page.length && last ? { continuation: encodeContinuation(last) } : {}),
    },
  };
}

export async function cancelBuild(
  request: ApiRequest,
  client: BuildsClient,
  policy: ApiPolicy = DEFAULT_API_POLICY,
): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!isApiInstanceId(id)) return problem(400, 'Invalid Request', 'Not a build id.', [BAD_ID]);
  const body = readBody(request, cancelSchema);
  if ('error' in body) return body.error;
  const status = await client.getStatus(id);
  if (status === undefined || status.name !== BUILD_ORCHESTRATION)
    return problem(404, 'Not Found', `No build '${id}'.`);
  if (TERMINAL.has(status.runtimeStatus))
    return problem(
      409,
      'Already Finished',
      `Build '${id}' is ${status.runtimeStatus}; there is nothing to cancel.`,
    );
  // Decided already (failed, rejected, timed out, canceled) and only cleaning up: nothing to cancel.
  const outcome = (status.customStatus as Partial<BuildCustomStatus> | null)?.outcome;
  if (outcome !== undefined && outcome !== 'running')
    return problem(
      409,
      'Already Finishing',
      `Build '${id}' has ended (${outcome}) and is cleaning up; there is nothing to cancel.`,
    );
  await client.raiseEvent(id, CANCEL_EVENT, {
    reason: body.value.reason,
    requestedBy: requester(request, policy),
  });
  return { status: 202, jsonBody: { id, canceling: true, ...client.statusLinks(id) } };
}

export function listPipelines(pipelines: Pipelines): ApiResponse {
  return {
    status: 200,
    jsonBody: {
      pipelines: [...pipelines.valid.values()].map((p) => ({
        name: p.name,
        description: p.description,
        osType: p.image.osType,
        stages: p.stages.map((s) => s.name),
        cadence: p.cadence,
      })),
      invalid: pipelines.invalid,
    },
  };
}

export function getPipeline(request: ApiRequest, pipelines: Pipelines): ApiResponse {
  const definition = pipelines.valid.get(request.params.name ?? '');
  return definition
    ? { status: 200, jsonBody: definition }
    : problem(404, 'Unknown Pipeline', noSuchPipeline(request.params.name ?? ''));
}

export async function revokeVersion(
  request: ApiRequest,
  client: BuildsClient,
  pipelines: Pipelines,
  policy: ApiPolicy = DEFAULT_API_POLICY,
): Promise<ApiResponse> {
  const definition = pipelines.valid.get(request.params.pipeline ?? '');
  if (definition === undefined)
    return problem(404, 'Unknown Pipeline', noSuchPipeline(request.params.pipeline ?? ''));
  const version = request.params.version ?? '';
  if (!/^\d{1,10}\.\d{1,10}\.\d{1,10}$/.test(version))
    return problem(400, 'Invalid Request', 'Not an image version.', [
      { path: '(route) version', message: 'must be Major.Minor.Patch' },
    ]);
  const body = readBody(request, revokeSchema);
  if ('error' in body) return body.error;
  const instanceId = revocationId(definition.name, version);
  const existing = await client.getStatus(instanceId);
  if (
    existing === undefined ||
    (TERMINAL.has(existing.runtimeStatus) && existing.runtimeStatus !== 'Completed')
  ) {
    await client.startNew(REVOKE_ORCHESTRATION, instanceId, {
      pipeline: definition.name,
      definitionDigest: definitionDigest(definition),
      version,
      reason: body.value.reason,
      requestedBy: requester(request, policy),
    });
  }
  return {
    status: 202,
    headers: { location: revocationUri(policy, instanceId) },
    jsonBody: {
      id: instanceId,
      revocationUri: revocationUri(policy, instanceId),
      ...client.statusLinks(instanceId),
    },
  };
}
