/**
 * How an orchestration calls activities: under the retry policy (transient errors are retried by
 * the host), with refusals (non-retryable FactoryErrors, returned rather than thrown) turned into
 * errors, and failures read back into one shape whichever way the host delivered them. Shared by
 * the build, its polling sub-orchestrations and the revoke orchestration.
 */
import { RetryOptions, type OrchestrationContext, type Task } from 'durable-functions';
import { readTaskFailure } from '../../domain/pipeline/task-failure';
import { AZURE_CALL_RETRY, refusalOf } from '../../domain/pipeline/activities';
import type { BuildFailure, BuildOutcome } from '../../domain/build-status';

/**
 * The retry policy of every activity call (see ActivityRefusal for why only transient errors reach
 * it). The host does the retrying; retryTimeoutInMilliseconds stays unset (Azure/azure-functions-durable-js#629).
 */
export const AZURE_CALL_RETRY_OPTIONS: RetryOptions = Object.assign(
  new RetryOptions(AZURE_CALL_RETRY.firstRetryIntervalInMilliseconds, AZURE_CALL_RETRY.maxNumberOfAttempts),
  {
    backoffCoefficient: AZURE_CALL_RETRY.backoffCoefficient,
    maxRetryIntervalInMilliseconds: AZURE_CALL_RETRY.maxRetryIntervalInMilliseconds,
  },
);
export { AZURE_CALL_RETRY };

export interface Refusal {
  code: string;
  message: string;
  hint?: string;
  retryAfterMs?: number;
}

/** An activity refused (non-retryable FactoryError, returned rather than thrown). */
export class ActivityRefused extends Error {
  constructor(
    readonly activity: string,
    readonly refusal: Refusal,
  ) {
    super(`${activity}: ${refusal.message}`);
  }
}

/** A failure the orchestration decided on (as opposed to an activity's error). */
export class BuildStopped extends Error {
  constructor(
    readonly outcome: Exclude<BuildOutcome, 'running' | 'succeeded'>,
    readonly failure: BuildFailure,
  ) {
    super(failure.message);
  }
}

export interface ErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  hint?: string;
}

/** What a failed activity (or sub-orchestration) says, in whichever shape the host delivered it. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof ActivityRefused)
    return {
      code: error.refusal.code,
      message: error.refusal.message,
      retryable: false,
      ...(error.refusal.hint ? { hint: error.refusal.hint } : {}),
      ...(error.refusal.retryAfterMs !== undefined ? { retryAfterMs: error.refusal.retryAfterMs } : {}),
    };
  return readTaskFailure(error);
}

/** A failed call's code, message and hint, as a wait reports it to the build. */
export function failureOf(error: unknown): { code: string; message: string; hint?: string } {
  const info = errorInfo(error);
  return { code: info.code, message: info.message, ...(info.hint ? { hint: info.hint } : {}) };
}

/**
 * Calls an activity under the retry policy; a refusal is thrown as ActivityRefused at once.
 * For sub-orchestrations and the revoke orchestration too.
 */
export function* callAzure<T>(
  context: OrchestrationContext,
  name: string,
  activityInput: unknown,
): Generator<Task, T, unknown> {
  const result = yield context.df.callActivityWithRetry(name, AZURE_CALL_RETRY_OPTIONS, activityInput);
  const refusal = refusalOf(result);
  if (refusal !== undefined) throw new ActivityRefused(name, refusal);
  return result as T;
}

/**
 * One poll inside a waiting sub-orchestration: no retry policy (the next poll is the retry). A
 * transient failure gives `undefined`; a refusal is returned for the caller to end the wait with.
 */
export function* poll<T>(
  context: OrchestrationContext,
  name: string,
  activityInput: unknown,
): Generator<Task, { value: T } | { refused: Refusal } | undefined, unknown> {
  let result: unknown;
  try {
    result = yield context.df.callActivity(name, activityInput);
  } catch (error) {
    if (errorInfo(error).retryable) return undefined;
    return { refused: { code: errorInfo(error).code, message: errorInfo(error).message } };
  }
  const refusal = refusalOf(result);
  return refusal === undefined ? { value: result as T } : { refused: refusal };
}
