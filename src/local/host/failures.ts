/**
 * The shapes in which the real host records failures, so orchestrators here see exactly what they
 * see in Azure. Sources (see README.md, "Failures"):
 * - Activities: the extension's TaskActivityShim (Reason "Activity function 'X' failed: <message>",
 *   Details = the exception serialized by its ErrorDataConverter) and, since PR #3451, its
 *   ActivityMiddleware (a worker error carrying the structured payload that durable-functions'
 *   wrapActivityHandler writes when an exception-properties provider returns properties becomes
 *   FailureDetails, with Reason "Activity function 'X' failed with an unhandled exception." and no
 *   Details).
 * - Orchestrators: OutOfProcOrchestrationShim (Reason "Orchestrator function 'X' failed: <error>",
 *   Details "Message: <error>, StackTrace: <host stack>"), and since PR #3451 the orchestrator's
 *   own failureDetails (set by the library when the uncaught error was a TaskFailedError) on the
 *   completion, hence on the parent's SubOrchestrationInstanceFailed.
 * - Function timeouts: azure-webjobs-sdk FunctionExecutor ("Timeout value of <hh:mm:ss> was
 *   exceeded by function: Functions.<name>"), reported by TaskActivityShim like a user error.
 */

/** FailureDetails as DurableTask.Core persists it (the library's FailureDetailsDto). */
export interface FailureDetailsWire {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable: boolean;
  Properties?: Record<string, unknown>;
  InnerFailure?: FailureDetailsWire;
}

/** The failure part of a TaskFailed / SubOrchestrationInstanceFailed event. */
export interface FailureFields {
  Reason: string;
  Details?: string;
  FailureDetails?: FailureDetailsWire;
}

/** The HResult .NET gives System.Exception (COR_E_EXCEPTION); Newtonsoft writes it in Details. */
const COR_E_EXCEPTION = -2146233088;

/**
 * What the extension's ErrorDataConverter (Newtonsoft, TypeNameHandling.Objects) writes for the
 * exception it reports: the friendly-message Exception the shim builds around the worker's
 * RpcException. Field set of .NET's ISerializable Exception; values we cannot know (.NET stack
 * traces) are null.
 */
function serializeCause(
  type: { className: string; assembly: string },
  message: string,
  inner?: { className: string; assembly: string; message: string },
): string {
  const exception = (
    t: { className: string; assembly: string },
    text: string,
    innerException: unknown,
  ): Record<string, unknown> => ({
    $type: `${t.className}, ${t.assembly}`,
    ClassName: t.className,
    Message: text,
    Data: null,
    InnerException: innerException,
    HelpURL: null,
    StackTraceString: null,
    RemoteStackTraceString: null,
    RemoteStackIndex: 0,
    ExceptionMethod: null,
    HResult: COR_E_EXCEPTION,
    Source: null,
    WatsonBuckets: null,
  });
  return JSON.stringify(exception(type, message, inner ? exception(inner, inner.message, null) : null));
}

const SYSTEM_EXCEPTION = { className: 'System.Exception', assembly: 'System.Private.CoreLib' };
const RPC_EXCEPTION = {
  className: 'Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException',
  assembly: 'Microsoft.Azure.WebJobs.Script',
};
const FUNCTION_TIMEOUT_EXCEPTION = {
  className: 'Microsoft.Azure.WebJobs.Host.FunctionTimeoutException',
  assembly: 'Microsoft.Azure.WebJobs.Host',
};

/**
 * The structured payload durable-functions' wrapActivityHandler puts in the error message when the
 * app's exception-properties provider returned properties (buildTaskFailureDetailsJson), as
 * FailureDetails; undefined for any other error.
 */
export function structuredPayload(message: string): FailureDetailsWire | undefined {
  if (!message.startsWith('{')) return undefined;
  try {
    const payload = JSON.parse(message) as {
      errorType?: unknown;
      errorMessage?: unknown;
      stackTrace?: unknown;
      isNonRetriable?: unknown;
      properties?: unknown;
    };
    if (typeof payload.errorType !== 'string' || typeof payload.errorMessage !== 'string') return undefined;
    return {
      ErrorType: payload.errorType,
      ErrorMessage: payload.errorMessage,
      ...(typeof payload.stackTrace === 'string' ? { StackTrace: payload.stackTrace } : {}),
      IsNonRetriable: payload.isNonRetriable === true,
      ...(payload.properties && typeof payload.properties === 'object'
        ? { Properties: payload.properties as Record<string, unknown> }
        : {}),
    };
  } catch {
    return undefined;
  }
}

/** An activity's failure as the host records it in TaskFailed. */
export function activityFailure(activityName: string, error: Error): FailureFields {
  const structured = structuredPayload(error.message);
  if (structured !== undefined)
    return {
      Reason: `Activity function '${activityName}' failed with an unhandled exception.`,
      FailureDetails: structured,
    };
  const isTimeout = error instanceof FunctionTimeoutError;
  return {
    Reason: `Activity function '${activityName}' failed: ${error.message}`,
    Details: isTimeout
      ? serializeCause(FUNCTION_TIMEOUT_EXCEPTION, error.message)
      : // The worker reports { message, stackTrace }; the host wraps them in an RpcException whose
        // message the shim reduces to the friendly message (OutOfProcExceptionHelpers).
        serializeCause(SYSTEM_EXCEPTION, error.message, {
          ...RPC_EXCEPTION,
          message: `Result: Failure\nException: ${error.message}\nStack: ${error.stack ?? ''}`,
        }),
  };
}

/**
 * A failed orchestration as the host records it: the Reason is the instance's output and the
 * parent's SubOrchestrationInstanceFailed Reason; FailureDetails only when the library sent them.
 */
export function orchestratorFailure(
  orchestratorName: string,
  error: string,
  failureDetails?: unknown,
): FailureFields {
  // result.Exception.StackTrace in the shim is a .NET stack trace of the host: not ours to invent.
  const wire = toFailureDetailsWire(failureDetails);
  return {
    Reason: `Orchestrator function '${orchestratorName}' failed: ${error}`,
    Details: `Message: ${error}, StackTrace: `,
    ...(wire ? { FailureDetails: wire } : {}),
  };
}

function toFailureDetailsWire(value: unknown): FailureDetailsWire | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const dto = value as Record<string, unknown>;
  if (typeof dto.ErrorType !== 'string') return undefined;
  const inner = toFailureDetailsWire(dto.InnerFailure);
  return {
    ErrorType: dto.ErrorType,
    ErrorMessage: typeof dto.ErrorMessage === 'string' ? dto.ErrorMessage : '',
    ...(typeof dto.StackTrace === 'string' ? { StackTrace: dto.StackTrace } : {}),
    IsNonRetriable: dto.IsNonRetriable === true,
    ...(dto.Properties && typeof dto.Properties === 'object'
      ? { Properties: dto.Properties as Record<string, unknown> }
      : {}),
    ...(inner ? { InnerFailure: inner } : {}),
  };
}

/** .NET TimeSpan's constant format ("c"): [d.]hh:mm:ss[.fffffff], as the host prints functionTimeout. */
export function formatTimeSpan(ms: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(ms / 86_400_000);
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  const fraction = ms % 1000;
  return `${days > 0 ? `${days}.` : ''}${pad(hours)}:${pad(minutes)}:${pad(seconds)}${
    fraction > 0 ? `.${String(fraction * 10_000).padStart(7, '0')}` : ''
  }`;
}

/** The Functions host's FunctionTimeoutException for a function that ran past functionTimeout. */
export class FunctionTimeoutError extends Error {
  constructor(functionName: string, timeoutMs: number) {
    super(
      `Timeout value of ${formatTimeSpan(timeoutMs)} was exceeded by function: Functions.${functionName}`,
    );
    this.name = 'FunctionTimeoutException';
  }
}
