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
} from '../domain/build-status';
import { formatPath, type PipelineDefinition, type DefinitionProblem } from '../domain/pipeline/definition';

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
        { path: '(header) content-type', message: `is '${type}'` },
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
    const errors = result.error.issues.map((issue) => ({
      path: formatPath(issue.path) || '(body)',
      message: issue.message,
    }));
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
      })
      .strict()
      .optional(),
  })
  .strict();

const cancelSchema = z.object({ reason: z.string().min(1, 'a reason is required').max(500) }).strict();
const revokeSchema = z.object({ reason: z.string().min(1, 'a reason is required').max(500) }).strict();

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const requester = (request: ApiRequest) => request.headers['x-ms-client-principal-name'] ?? 'anonymous';

export function buildView(status: InstanceView): Record<string, unknown> {
  const custom = (status.customStatus ?? {}) as Partial<BuildCustomStatus>;
  return {
    id: status.instanceId,
    pipeline: custom.pipeline,
    runtimeStatus: status.runtimeStatus,
    outcome:
      custom.outcome ?? (TERMINAL.has(status.runtimeStatus) ? status.runtimeStatus.toLowerCase() : 'running'),
    step: custom.step,
    currentStage: custom.currentStage,
    message: custom.message,
    imageVersion: custom.imageVersion,
    recipeHash: custom.recipeHash,
    sourceImageVersion: custom.sourceImageVersion,
    stages: custom.stages ?? [],
    versions: (custom.stages ?? [])
      .filter((s) => s.versionId)
      .map((s) => ({ stage: s.name, tenantId: s.tenantId, id: s.versionId })),
    pendingApproval: custom.pendingApproval,
    failure: custom.failure,
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
    return problem(404, 'Unknown Pipeline', `There is no valid pipeline named '${body.value.pipeline}'.`, [
      { path: 'pipeline', message: `must be one of: ${[...pipelines.valid.keys()].join(', ')}` },
    ]);
  }
  const key = request.headers['idempotency-key'];
  if (key !== undefined && (key.length < 1 || key.length > 200)) {
    return problem(400, 'Invalid Request', 'Idempotency-Key must be 1..200 characters.', [
      { path: '(header) Idempotency-Key', message: 'must be 1..200 characters' },
    ]);
  }
  const fingerprint = createHash('sha256').update(JSON.stringify(body.value)).digest('hex');
  const buildId = key
    ? `${definition.name}-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`
    : `${definition.name}-${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  if (key) {
    const existing = await client.getStatus(buildId);
    if (existing) {
      const input = existing.input as { requestFingerprint?: string } | null;
      if (input?.requestFingerprint !== fingerprint) {
        return problem(
          409,
          'Idempotency Key Reused',
          'This Idempotency-Key was used for a different request.',
          [{ path: '(header) Idempotency-Key', message: 'already used with another body' }],
        );
      }
      return {
        status: 200,
        headers: { location: client.statusLinks(buildId).statusQueryGetUri ?? '' },
        jsonBody: { id: buildId, ...client.statusLinks(buildId) },
      };
    }
  }
  const pipeline: PipelineDefinition = body.value.overrides?.buildTimeoutMinutes
    ? {
        ...definition,
        build: { ...definition.build, timeoutMinutes: body.value.overrides.buildTimeoutMinutes },
      }
    : definition;
  await client.startNew(BUILD_ORCHESTRATION, buildId, {
    buildId,
    pipeline,
    reason: body.value.reason,
    requestedBy: requester(request),
    requestFingerprint: fingerprint,
  });
  const links = client.statusLinks(buildId);
  return {
    status: 202,
    headers: { location: links.statusQueryGetUri ?? '' },
    jsonBody: { id: buildId, ...links },
  };
}

export async function getBuild(request: ApiRequest, client: BuildsClient): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!idPattern.test(id))
    return problem(400, 'Invalid Request', 'Not a build id.', [
      { path: '(route) id', message: 'must be 1..100 letters, digits, ., _, :, -' },
    ]);
  const status = await client.getStatus(id);
  if (status === undefined || status.name !== BUILD_ORCHESTRATION)
    return problem(404, 'Not Found', `No build '${id}'.`);
  return { status: 200, jsonBody: { ...buildView(status), links: client.statusLinks(id) } };
}

export async function listBuilds(request: ApiRequest, client: BuildsClient): Promise<ApiResponse> {
  const statusFilter = request.query.status;
  const allowed = ['running', 'succeeded', 'failed', 'rejected', 'timedOut', 'canceled'];
  if (statusFilter !== undefined && !allowed.includes(statusFilter)) {
    return problem(400, 'Invalid Request', 'Unknown status filter.', [
      { path: '(query) status', message: `must be one of ${allowed.join(', ')}` },
    ]);
  }
  const top = request.query.top === undefined ? 50 : Number(request.query.top);
  if (!Number.isInteger(top) || top < 1 || top > 500)
    return problem(400, 'Invalid Request', 'Bad page size.', [
      { path: '(query) top', message: 'must be 1..500' },
    ]);
  const instances = (await client.list()).filter((i) => i.name === BUILD_ORCHESTRATION);
  const views = instances
    .map(buildView)
    .filter((v) => (statusFilter ? v.outcome === statusFilter : true))
    .filter((v) => (request.query.pipeline ? v.pipeline === request.query.pipeline : true))
    .sort((a, b) => String(b.createdTime).localeCompare(String(a.createdTime)));
  return { status: 200, jsonBody: { builds: views.slice(0, top), total: views.length } };
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
    : problem(404, 'Unknown Pipeline', `There is no valid pipeline named '${request.params.name ?? ''}'.`);
}

export async function revokeVersion(
  request: ApiRequest,
  client: BuildsClient,
  pipelines: Pipelines,
): Promise<ApiResponse> {
  const definition = pipelines.valid.get(request.params.pipeline ?? '');
  if (definition === undefined)
    return problem(
      404,
      'Unknown Pipeline',
      `There is no valid pipeline named '${request.params.pipeline ?? ''}'.`,
    );
  const version = request.params.version ?? '';
  if (!/^\d{1,10}\.\d{1,10}\.\d{1,10}$/.test(version))
    return problem(400, 'Invalid Request', 'Not an image version.', [
      { path: '(route) version', message: 'must be Major.Minor.Patch' },
    ]);
  const body = readBody(request, revokeSchema);
  if ('error' in body) return body.error;
  const instanceId = `revoke-${definition.name}-${version}`;
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
  return { status: 202, jsonBody: { id: instanceId, ...client.statusLinks(instanceId) } };
}
