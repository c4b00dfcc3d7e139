/**
 * Quick retries, inside one activity attempt, of idempotent ARM calls that failed transiently:
 * 5xx/408 answers (core's exponential strategy) and dropped connections (its system-error strategy).
 * Without them an activity that makes a dozen calls (a test VM: NIC, VM and their long-running
 * operation polls) fails its attempt when any one call fails, and at a 10% fault rate eight
 * attempts are used up about once in fifty builds.
 * Not retried here: POST (starting an Image Builder run or a Run Command twice is not harmless; the
 * activity looks before it acts on its next attempt) and 429 (Retry-After is honoured on the
 * orchestration's durable clock instead of sleeping in the activity).
 */
import {
  exponentialRetryPolicy,
  systemErrorRetryPolicy,
  type PipelinePolicy,
} from '@azure/core-rest-pipeline';

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE']);

export const IDEMPOTENT_RETRY_POLICY_NAME = 'imageFactoryIdempotentTransientRetry';

export function idempotentTransientRetryPolicy(options: {
  maxRetries: number;
  retryDelayInMs: number;
  maxRetryDelayInMs: number;
}): PipelinePolicy {
  const onStatus = exponentialRetryPolicy(options);
  const onDroppedConnection = systemErrorRetryPolicy(options);
  return {
    name: IDEMPOTENT_RETRY_POLICY_NAME,
    sendRequest(request, next) {
      if (!IDEMPOTENT_METHODS.has(request.method)) return next(request);
      return onStatus.sendRequest(request, (retried) => onDroppedConnection.sendRequest(retried, next));
    },
  };
}
