/**
 * The HTTP API's logic, as plain functions over a small client interface (the durable client in
 * production): start, list, inspect and cancel builds, list pipelines, revoke versions. Bad input
 * gets an application/problem+json answer naming the offending fields, and starts nothing.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  BUILD_ORCHESTRATION,
  CANCEL_EVENT,
  REVOKE_ORCHESTRATION,
  type BuildCustomStatus,
  type StageStatus,
} from '../domain/build-status';
import { statusPage } from './status-page';
import { fleetPage } from './pages/fleet-page';
import { revocationId, revocationUri, revocationView } from './revocations';
import { bounded } from '../shared/text';
import { orchestrationFailureMessage } from '../domain/pipeline/task-failure';
import {
  formatPath,
  validatePipelineDefinition,
  type DefinitionProblem,
  type PipelineDefinition,
} from '../domain/pipeline/definition';

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
}

export const MAX_BODY_BYTES = 64 * 1024;
const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export function problem(
  status: number,
  title: string,
  detail: string,
  errors: { path: string; message: string }[] = [],
): ApiResponse {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    jsonBody: {
      type: `https://image-factory.example/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
      title,
      status,
      detail,
      errors,
    },
  };
}

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

const startSchema = z
  .object({
    pipeline: z.string().min(1).max(64),
    reason: z.string().max(500).optional(),
    overrides: z
      .object({
        /** Build timeout for this run (minutes, 1..960). */
        buildTimeoutMinutes: z.number().int().min(1).max(960).optional(),
        /** Pin the platform source image version for this run ('latest' or Major.Minor.Patch). */
        sourceVersion: z
          .string()
          .regex(/^(latest|\d{1,10}\.\d{1,10}\.\d{1,10})$/, "must be 'latest' or Major.Minor.Patch")
          .optional(),
        /** Promote only up to this stage (e.g. 'ENG' for a build nobody needs to approve). */
        stopAfterStage: z.string().min(1).max(16).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

type StartOverrides = NonNullable<z.infer<typeof startSchema>['overrides']>;

/**
 * The definition this run uses: the served definition with the overrides applied, each checked
 * against that definition, and the result validated again as a whole (422 with paths otherwise).
 */
function applyOverrides(
  definition: PipelineDefinition,
  overrides: StartOverrides | undefined,
): { pipeline: PipelineDefinition } | { error: ApiResponse } {
  if (overrides === undefined) return { pipeline: definition };
  const errors: { path: string; message: string }[] = [];
  let candidate: PipelineDefinition = definition;
  if (overrides.buildTimeoutMinutes !== undefined)
    candidate = {
      ...candidate,
      build: { ...candidate.build, timeoutMinutes: overrides.buildTimeoutMinutes },
    };
  if (overrides.sourceVersion !== undefined) {
    if (candidate.source.type === 'platformImage')
      candidate = { ...candidate, source: { ...candidate.source, version: overrides.sourceVersion } };
    else
      errors.push({
        path: 'overrides.sourceVersion',
        message: `pipeline '${definition.name}' builds from a ${candidate.source.type} source, which has no version to pin`,
      });
  }
  if (overrides.stopAfterStage !== undefined) {
    const index = candidate.stages.findIndex((stage) => stage.name === overrides.stopAfterStage);
    if (index < 0)
      errors.push({
        path: 'overrides.stopAfterStage',
        message: `must be one of the pipeline's stages: ${candidate.stages.map((s) => s.name).join(', ')}`,
      });
    else candidate = { ...candidate, stages: candidate.stages.slice(0, index + 1) };
  }
  if (errors.length === 0) {
    const checked = validatePipelineDefinition(candidate);
    if (checked.ok) return { pipeline: checked.definition };
    errors.push(
      ...checked.problems.map((p) => ({ path: `(resulting definition) ${p.path}`, message: p.message })),
    );
  }
  return {
    error: problem(
      422,
      'Invalid Overrides',
      `The overrides do not fit pipeline '${definition.name}'.`,
      errors,
    ),
  };
}

const cancelSchema = z.object({ reason: z.string().min(1, 'a reason is required').max(500) }).strict();
const revokeSchema = z.object({ reason: z.string().min(1, 'a reason is required').max(500) }).strict();

/** This API's own links for a build (the caller adds its key, as `code` or x-functions-key). */
export function buildLinks(requestUrl: string, id: string): { buildUri: string; viewUri: string } {
  const url = new URL(requestUrl);
  const at = url.pathname.lastIndexOf('/builds');
  const base = `${url.origin}${at < 0 ? '/api' : url.pathname.slice(0, at)}/builds/${encodeURIComponent(id)}`;
  return { buildUri: base, viewUri: `${base}/view` };
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const requester = (request: ApiRequest) => request.headers['x-ms-client-principal-name'] ?? 'anonymous';

/** Outcome when the custom status has none (not published yet) or is stale (terminated, crashed). */
const RUNTIME_OUTCOME: Record<string, string> = {
  Pending: 'running',
  Running: 'running',
  Completed: 'succeeded',
  Failed: 'failed',
  Terminated: 'canceled',
  Canceled: 'canceled',
};

interface StoredBuildInput {
  pipeline?: { name?: string; stages?: { name: string; tenantId: string }[] };
  reason?: string;
  requestedBy?: string;
}

/** First line of an orchestrator's failure output, bounded: no stack traces in API answers. */
function firstLine(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? 'no details');
  return (text.split('\n')[0] ?? '').slice(0, 500);
}

export function buildView(status: InstanceView): Record<string, unknown> {
  const custom = (status.customStatus ?? {}) as Partial<BuildCustomStatus>;
  const input = (status.input ?? {}) as StoredBuildInput;
  // Before the first episode publishes its status, the stages come from the definition it was given.
  const stages: StageStatus[] =
    custom.stages ??
    (input.pipeline?.stages ?? []).map((stage) => ({
      name: stage.name,
      tenantId: stage.tenantId,
      state: 'pending' as const,
    }));
  const finished = TERMINAL.has(status.runtimeStatus);
  // The orchestration's result (tests run, decisions ignored) once it has one; a failed build's
  // output is its error text instead.
  const output =
    status.output !== null && typeof status.output === 'object'
      ? (status.output as { tests?: unknown[]; ignoredDecisions?: unknown[] })
      : undefined;
  const outcome =
    custom.outcome !== undefined && !(custom.outcome === 'running' && finished)
      ? custom.outcome
      : (RUNTIME_OUTCOME[status.runtimeStatus] ?? 'running');
  const failure =
    custom.failure ??
    (status.runtimeStatus === 'Failed'
      ? {
          code: 'OrchestrationFailed',
          message: firstLine(orchestrationFailureMessage(status.output)),
          step: custom.step ?? 'queued',
        }
      : status.runtimeStatus === 'Terminated'
        ? { code: 'Terminated', message: firstLine(status.output), step: custom.step ?? 'queued' }
        : undefined);
  return {
    id: status.instanceId,
    pipeline: custom.pipeline ?? input.pipeline?.name,
    runtimeStatus: status.runtimeStatus,
    outcome,
    step: custom.step ?? (finished ? 'done' : 'queued'),
    currentStage: custom.currentStage,
    message: custom.message,
    reason: input.reason,
    requestedBy: input.requestedBy,
    imageVersion: custom.imageVersion,
    recipeHash: custom.recipeHash,
    sourceImageVersion: custom.sourceImageVersion,
    stages,
    versions: stages
      .filter((s) => s.versionId)
      .map((s) => ({ stage: s.name, tenantId: s.tenantId, id: s.versionId })),
    approvals: stages.filter((s) => s.approval !== undefined).map((s) => ({ stage: s.name, ...s.approval })),
    pendingApproval: custom.pendingApproval,
    failure,
    ledger: custom.ledger,
    timeline: custom.timeline ?? [],
    cleanedUp: custom.cleanedUp ?? [],
    tests: custom.tests ?? output?.tests ?? [],
    ignoredDecisions: output?.ignoredDecisions ?? [],
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
  };
}

export async function startBuild(
  request: ApiRequest,
  client: BuildsClient,
  pipelines: Pipelines,
): Promise<ApiResponse> {
  const body = readBody(request, startSchema);
  if ('error' in body) return body.error;
  const definition = pipelines.valid.get(body.value.pipeline);
  if (definition === undefined) {
    return problem(404, 'Unknown Pipeline', noSuchPipeline(body.value.pipeline), [
      { path: 'pipeline', message: `must be one of: ${[...pipelines.valid.keys()].join(', ')}` },
    ]);
  }
  const applied = applyOverrides(definition, body.value.overrides);
  if ('error' in applied) return applied.error;
  const pipeline = applied.pipeline;
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
      jsonBody: { id: buildId, ...buildLinks(request.url, buildId), ...links },
    };
  };
  if (key) {
    const existing = await client.getStatus(buildId);
    if (existing) return replay(existing);
  }
  try {
    await client.startNew(BUILD_ORCHESTRATION, buildId, {
      buildId,
      pipeline,
      reason: body.value.reason,
      requestedBy: requester(request),
      requestFingerprint: fingerprint,
    });
  } catch (error) {
    // Two requests with the same key at once: the loser finds the winner's build (409 from the host).
    const existing = key ? await client.getStatus(buildId) : undefined;
    if (existing === undefined) throw error;
    return replay(existing);
  }
  const links = client.statusLinks(buildId);
  return {
    status: 202,
    headers: { location: links.statusQueryGetUri ?? '' },
    jsonBody: { id: buildId, ...buildLinks(request.url, buildId), ...links },
  };
}

/**
 * A console page: HTML whose every <script> and <style> carries a fresh nonce, the only ones the
 * CSP lets run. The page holds no data (it reads the JSON API with the caller's key), so its route
 * is anonymous: the link the API returns opens it, and it asks for the key when the API does.
 */
export function htmlPage(render: (nonce: string) => string): ApiResponse {
  const nonce = randomBytes(16).toString('base64');
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    },
    body: render(nonce),
  };
}

/** GET /api/builds/{id}/view: the build's timeline page (it reads the build itself). */
export function viewBuild(request: ApiRequest): ApiResponse {
  const id = request.params.id ?? '';
  if (!idPattern.test(id))
    return problem(400, 'Invalid Request', 'Not a build id.', [
      { path: '(route) id', message: 'must be 1..100 letters, digits, ., _, :, -' },
    ]);
  return htmlPage((nonce) => statusPage(id, nonce));
}

/** GET /api/fleet/view: the fleet page. */
export const viewFleet = (): ApiResponse => htmlPage(fleetPage);

export async function getBuild(request: ApiRequest, client: BuildsClient): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!idPattern.test(id))
    return problem(400, 'Invalid Request', 'Not a build id.', [
      { path: '(route) id', message: 'must be 1..100 letters, digits, ., _, :, -' },
    ]);
  const status = await client.getStatus(id);
  if (status === undefined || status.name !== BUILD_ORCHESTRATION)
    return problem(404, 'Not Found', `No build '${id}'.`);
  const view = buildView(status);
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
                revocationUri: revocationUri(request.url, revocation.instanceId),
              },
            ]
          : [],
      links: client.statusLinks(id),
    },
  };
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

export async function listBuilds(request: ApiRequest, client: BuildsClient): Promise<ApiResponse> {
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

  const views = (await client.list())
    .filter((i) => i.name === BUILD_ORCHESTRATION)
    .map(buildView)
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
      ...(rest.length > page.length && last ? { continuation: encodeContinuation(last) } : {}),
    },
  };
}

export async function cancelBuild(request: ApiRequest, client: BuildsClient): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!idPattern.test(id))
    return problem(400, 'Invalid Request', 'Not a build id.', [
      { path: '(route) id', message: 'must be 1..100 letters, digits, ., _, :, -' },
    ]);
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
  await client.raiseEvent(id, CANCEL_EVENT, { reason: body.value.reason, requestedBy: requester(request) });
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
      pipeline: definition,
      version,
      reason: body.value.reason,
      requestedBy: requester(request),
    });
  }
  return {
    status: 202,
    headers: { location: revocationUri(request.url, instanceId) },
    jsonBody: {
      id: instanceId,
      revocationUri: revocationUri(request.url, instanceId),
      ...client.statusLinks(instanceId),
    },
  };
}
