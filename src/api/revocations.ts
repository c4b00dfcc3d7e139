/**
 * Revocations as resources: GET /api/revocations/{id} and the revocations a build or the fleet
 * lists, read from the revoke orchestration (`revoke-{pipeline}-{version}`), so no one needs the
 * Durable management URL (and its key) to learn whether a version is revoked.
 */
import { REVOKE_ORCHESTRATION } from '../domain/build-status';
import { DEFAULT_API_POLICY, publicBaseUrl, type ApiPolicy } from './abuse';
import { orchestrationFailureMessage } from '../domain/pipeline/task-failure';
import {
  problem,
  type ApiRequest,
  type ApiResponse,
  type BuildsClient,
  type InstanceView,
} from './builds-api';

interface RevokeInputView {
  pipeline?: { name?: string };
  version?: string;
  reason?: string;
  requestedBy?: string;
}

const STATE: Record<string, 'revoking' | 'revoked' | 'failed'> = {
  Pending: 'revoking',
  Running: 'revoking',
  Completed: 'revoked',
  Failed: 'failed',
  Terminated: 'failed',
  Canceled: 'failed',
};

/** The revocation's id for a pipeline's version (the instance id the revoke route starts). */
export const revocationId = (pipeline: string, version: string) => `revoke-${pipeline}-${version}`;

/** This API's link to a revocation, next to the builds route the request came in on. */
/** From the configured host name (docs/security.md), never from the request's Host or target. */
export function revocationUri(policy: ApiPolicy, id: string): string {
  return `${publicBaseUrl(policy)}/api/revocations/${encodeURIComponent(id)}`;
}

export function revocationView(status: InstanceView): Record<string, unknown> {
  const input = (status.input ?? {}) as RevokeInputView;
  const result = (status.output ?? status.customStatus ?? {}) as { stages?: unknown };
  const state = STATE[status.runtimeStatus] ?? 'revoking';
  return {
    id: status.instanceId,
    pipeline: input.pipeline?.name,
    version: input.version,
    state,
    runtimeStatus: status.runtimeStatus,
    reason: input.reason,
    requestedBy: input.requestedBy,
    stages: Array.isArray(result.stages) ? result.stages : [],
    ...(state === 'failed'
      ? {
          failure: String(orchestrationFailureMessage(status.output) ?? status.runtimeStatus)
            .split('\n')[0]
            ?.slice(0, 500),
        }
      : {}),
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
  };
}

const idPattern = /^revoke-[A-Za-z0-9._-]{1,93}$/;

export async function getRevocation(
  request: ApiRequest,
  client: BuildsClient,
  policy: ApiPolicy = DEFAULT_API_POLICY,
): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!idPattern.test(id))
    return problem(400, 'Invalid Request', 'Not a revocation id.', [
      { path: '(route) id', message: "must be 'revoke-' followed by 1..93 letters, digits, ., _, -" },
    ]);
  const status = await client.getStatus(id);
  if (status === undefined || status.name !== REVOKE_ORCHESTRATION)
    return problem(404, 'Not Found', `No revocation '${id}'.`);
  return {
    status: 200,
    jsonBody: { ...revocationView(status), revocationUri: revocationUri(policy, id) },
  };
}
