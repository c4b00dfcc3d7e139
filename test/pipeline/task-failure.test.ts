/**
 * An orchestration reads a failed activity's code, retryability and message whichever shape the
 * Durable host delivers it in. The failures are built the way they travel: the library's provider
 * payload (buildTaskFailureDetailsJson), the local host's record of them (the real host's Reason,
 * Details, FailureDetails — see src/local/host/failures.ts) and the library's own conversion of
 * the record into what the orchestrator catches.
 */
import * as df from 'durable-functions';
import { errorInfo } from '../../src/orchestrations/build-pipeline';
import { failureProperties, orchestrationFailureMessage } from '../../src/domain/pipeline/task-failure';
import { FactoryError } from '../../src/shared/errors';
import {
  FunctionTimeoutError,
  activityFailure,
  orchestratorFailure,
  type FailureFields,
} from '../../src/local/host/failures';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const provider = require('durable-functions/lib/src/error/ExceptionPropertiesProvider') as {
  buildTaskFailureDetailsJson(error: unknown): string | undefined;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const wire = require('durable-functions/lib/src/error/TaskFailedError') as {
  taskFailedErrorFromWireDto(dto: unknown, name?: string, id?: number): Error;
};

/** What TaskOrchestrationExecutor throws into the orchestrator for a TaskFailed event. */
function asThrown(fields: FailureFields, name: string): Error {
  return fields.FailureDetails
    ? wire.taskFailedErrorFromWireDto(fields.FailureDetails, name, 0)
    : new Error(`${fields.Reason} \n ${String(fields.Details)}`);
}

/** The activity's error after wrapActivityHandler, with our provider registered. */
function wrapped(error: Error): Error {
  df.app.setExceptionPropertiesProvider({ getExceptionProperties: failureProperties });
  try {
    const payload = provider.buildTaskFailureDetailsJson(error);
    if (payload !== undefined) error.message = payload;
    return error;
  } finally {
    df.app.setExceptionPropertiesProvider(undefined);
  }
}

const quota = () =>
  new FactoryError('QuotaExceeded', 'Operation could not be completed as it results in exceeding quota', {
    retryable: true,
    retryAfterMs: 60_000,
    hint: 'ask for more cores',
  });

describe('reading a failed activity in the orchestration', () => {
  it('reads a FactoryError from FailureDetails (extension with PR #3451)', () => {
    const thrown = asThrown(activityFailure('createVm', wrapped(quota())), 'createVm');
    expect(thrown).toBeInstanceOf(df.TaskFailedError);
    expect(errorInfo(thrown)).toEqual({
      code: 'QuotaExceeded',
      message: 'Operation could not be completed as it results in exceeding quota',
      retryable: true,
      retryAfterMs: 60_000,
      hint: 'ask for more cores',
    });
  });

  it('reads a FactoryError whose payload arrives as text (extension without PR #3451)', () => {
    const error = wrapped(new FactoryError('AuthorizationFailed', 'no access', { retryable: false }));
    const thrown = new Error(
      `Activity function 'createVm' failed: ${error.message} \n ${String(activityFailure('x', new Error('x')).Details)}`,
    );
    expect(errorInfo(thrown)).toEqual({
      code: 'AuthorizationFailed',
      message: 'no access',
      retryable: false,
    });
  });

  it('reads a plain error as its own message, without the host Reason or Details', () => {
    const thrown = asThrown(
      activityFailure('createVm', wrapped(new TypeError("reading 'id' of undefined"))),
      'createVm',
    );
    expect(thrown).not.toBeInstanceOf(df.TaskFailedError);
    expect(thrown.message).toMatch(/^Activity function 'createVm' failed: reading 'id' of undefined \n \{/);
    expect(errorInfo(thrown)).toEqual({
      code: 'ActivityFailed',
      message: "reading 'id' of undefined",
      retryable: true,
    });
  });

  it('reads a function timeout as FunctionTimeout, naming the limit', () => {
    const thrown = asThrown(
      activityFailure('runTests', new FunctionTimeoutError('runTests', 600_000)),
      'runTests',
    );
    expect(errorInfo(thrown)).toMatchObject({
      code: 'FunctionTimeout',
      message: 'Timeout value of 00:10:00 was exceeded by function: Functions.runTests',
      retryable: true,
    });
  });

  it("reads a sub-orchestration's failure: its own error, or the activity failure it let through", () => {
    const plain = asThrown(orchestratorFailure('waitForReplication', 'gallery gone'), 'waitForReplication');
    expect(errorInfo(plain)).toEqual({ code: 'ActivityFailed', message: 'gallery gone', retryable: true });
    const activity = asThrown(activityFailure('getImageVersion', wrapped(quota())), 'getImageVersion');
    const details = (activity as df.TaskFailedError).failureDetails;
    const through = asThrown(
      orchestratorFailure('waitForReplication', activity.message, {
        ErrorType: details.errorType,
        ErrorMessage: details.errorMessage,
        IsNonRetriable: false,
        Properties: details.properties,
      }),
      'waitForReplication',
    );
    expect(errorInfo(through)).toMatchObject({ code: 'QuotaExceeded', retryable: true });
  });

  it("strips the host's prefix from a failed orchestration's output", () => {
    const output = orchestratorFailure('buildImagePipeline', 'TemplateMissing: gone').Reason;
    expect(output).toBe("Orchestrator function 'buildImagePipeline' failed: TemplateMissing: gone");
    expect(orchestrationFailureMessage(output)).toBe('TemplateMissing: gone');
    expect(orchestrationFailureMessage('something else')).toBe('something else');
  });
});
