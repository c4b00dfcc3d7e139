/**
 * How an activity's typed error crosses to the orchestration, in one place: what the app's
 * exception-properties provider writes (`failureProperties`) and how an orchestration reads any
 * failed task back (`readTaskFailure`), whichever shape the Durable host delivers it in.
 *
 * The shapes (durable-functions 3.5.0; Durable extension sources named in src/local/host/README.md):
 * 1. The extension with PR #3451 turns the provider's payload into FailureDetails: the orchestrator
 *    gets a df.TaskFailedError whose `failureDetails.properties` are what `failureProperties` wrote.
 * 2. Any other error (no provider properties: a bug, an SDK error we did not wrap, a function
 *    timeout), or the provider's payload on an extension without PR #3451, arrives as a plain
 *    `Error("Activity function '<name>' failed: <message> \n <details>")`, where <message> is the
 *    worker's error message — the provider's JSON payload itself when there was one.
 * 3. A failed sub-orchestration: FailureDetails when its uncaught error was (1), else a plain
 *    `Error("Orchestrator function '<name>' failed: <error> \n Message: …")`.
 */
import { isFactoryError } from '../../shared/errors';

/** What an orchestration knows about a failed task. */
export interface TaskFailure {
  /** FactoryError code; 'ActivityFailed' when the error had none; 'FunctionTimeout' past functionTimeout. */
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  hint?: string;
}

/** The properties our exception-properties provider attaches to an activity's FactoryError. */
export function failureProperties(error: unknown): Record<string, unknown> | undefined {
  if (!isFactoryError(error)) return undefined;
  return {
    code: error.code,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.hint === undefined ? {} : { hint: error.hint }),
  };
}

const HOST_REASON = /^(?:Activity|Orchestrator) function '[^']*' failed: ([\s\S]*)$/;
/** The Functions host's FunctionTimeoutException text. */
const FUNCTION_TIMEOUT = /^Timeout value of \S+ was exceeded by function: /;

/** Reads a failed task (activity or sub-orchestration), as thrown into the orchestrator. */
export function readTaskFailure(error: unknown): TaskFailure {
  const details = (error as { failureDetails?: { errorMessage?: unknown; properties?: unknown } } | null)
    ?.failureDetails;
  if (details && typeof details === 'object')
    return fromProperties(
      typeof details.errorMessage === 'string' ? details.errorMessage : '',
      details.properties,
    );
  const text = error instanceof Error ? error.message : String(error);
  // "<Reason> \n <Details>": the Reason ends where the library's separator starts.
  const separator = text.indexOf(' \n ');
  const reason = separator >= 0 ? text.slice(0, separator) : text;
  const inner = HOST_REASON.exec(reason)?.[1];
  if (inner === undefined) return { code: 'ActivityFailed', message: text, retryable: true };
  const payload = parsePayload(inner);
  if (payload !== undefined) return fromProperties(payload.errorMessage, payload.properties);
  if (FUNCTION_TIMEOUT.test(inner))
    return {
      code: 'FunctionTimeout',
      message: inner,
      // Another attempt may be quicker; the retry policy bounds how often this is tried.
      retryable: true,
      hint: 'The activity ran longer than host.json functionTimeout; activities must return once Azure accepted an operation and poll on durable timers.',
    };
  return { code: 'ActivityFailed', message: inner, retryable: true };
}

/** The provider's payload (durable-functions buildTaskFailureDetailsJson) when it arrives as text. */
function parsePayload(text: string): { errorMessage: string; properties: unknown } | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const payload = JSON.parse(text) as { errorType?: unknown; errorMessage?: unknown; properties?: unknown };
    return typeof payload.errorType === 'string' && typeof payload.errorMessage === 'string'
      ? { errorMessage: payload.errorMessage, properties: payload.properties }
      : undefined;
  } catch {
    return undefined;
  }
}

function fromProperties(message: string, properties: unknown): TaskFailure {
  const p = (properties && typeof properties === 'object' ? properties : {}) as Record<string, unknown>;
  return {
    code: typeof p.code === 'string' ? p.code : 'ActivityFailed',
    message,
    // Unknown errors (no code) may be transient: a bounded number of retries is cheap.
    retryable: typeof p.retryable === 'boolean' ? p.retryable : true,
    ...(typeof p.retryAfterMs === 'number' ? { retryAfterMs: p.retryAfterMs } : {}),
    ...(typeof p.hint === 'string' ? { hint: p.hint } : {}),
  };
}

/**
 * A failed orchestration's output without the host's "Orchestrator function '<name>' failed: "
 * prefix (the status query returns it with the prefix, as Azure does).
 */
export function orchestrationFailureMessage(output: unknown): string {
  const text = typeof output === 'string' ? output : JSON.stringify(output ?? 'no details');
  return /^Orchestrator function '[^']*' failed: ([\s\S]*)$/.exec(text)?.[1] ?? text;
}
