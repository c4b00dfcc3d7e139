/**
 * Orchestration versioning as the Durable Functions runtime applies it. Sources (README.md,
 * "Orchestration versioning"):
 * - "Orchestration versioning in Durable Functions" (learn.microsoft.com, MicrosoftDocs/azure-docs
 *   articles/azure-functions/durable/durable-functions-orchestration-versioning.md): defaultVersion
 *   stamps every new orchestration and sub-orchestration; the match strategies None / Strict /
 *   CurrentOrOlder (default) and failure strategies Reject (default: the instance stays as it is
 *   until a compatible worker takes it) / Fail; the comparison rules (below).
 * - The mismatch texts and the FailureDetails shape (ErrorType "VersionMismatch", IsNonRetriable)
 *   as the Durable Task SDKs write them (durabletask-dotnet GrpcDurableTaskWorker.Processor
 *   EvaluateOrchestrationVersioning; the Python and JS SDKs say the same).
 */
import { compareVersions } from '../../shared/orchestration-version';
import type { FailureFields } from './failures';

export type VersionMatchStrategy = 'None' | 'Strict' | 'CurrentOrOlder';
export type VersionFailureStrategy = 'Reject' | 'Fail';

export interface VersioningSettings {
  /** undefined: not set (`null` in host.json is the same). New instances then carry no version. */
  defaultVersion: string | undefined;
  matchStrategy: VersionMatchStrategy;
  failureStrategy: VersionFailureStrategy;
}

export { compareVersions };

export const NO_VERSIONING: VersioningSettings = {
  defaultVersion: undefined,
  matchStrategy: 'CurrentOrOlder',
  failureStrategy: 'Reject',
};

const MATCH: readonly VersionMatchStrategy[] = ['None', 'Strict', 'CurrentOrOlder'];
const FAILURE: readonly VersionFailureStrategy[] = ['Reject', 'Fail'];

/** Reads the three settings from host.json's durableTask object. */
export function readVersioning(
  durable: Record<string, unknown>,
  invalid: (message: string) => Error,
): VersioningSettings {
  const version = durable.defaultVersion;
  if (version !== undefined && version !== null && typeof version !== 'string')
    throw invalid('host.json extensions.durableTask.defaultVersion must be a string or null.');
  return {
    defaultVersion: typeof version === 'string' && version !== '' ? version : undefined,
    matchStrategy: oneOf(durable, 'versionMatchStrategy', MATCH, 'CurrentOrOlder', invalid),
    failureStrategy: oneOf(durable, 'versionFailureStrategy', FAILURE, 'Reject', invalid),
  };
}

function oneOf<T extends string>(
  durable: Record<string, unknown>,
  key: string,
  allowed: readonly T[],
  fallback: T,
  invalid: (message: string) => Error,
): T {
  const value = durable[key];
  if (value === undefined || value === null) return fallback;
  // The extension binds enums by name, ignoring case.
  const match = allowed.find(
    (name) => typeof value === 'string' && name.toLowerCase() === value.toLowerCase(),
  );
  if (match === undefined)
    throw invalid(
      `host.json extensions.durableTask.${key} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}.`,
    );
  return match;
}

export type VersionVerdict = { run: true } | { run: false; fail: FailureFields | undefined; message: string };

/**
 * May this worker run an instance of `instanceVersion`? Without a defaultVersion the worker has no
 * version to compare with and runs everything (an app that predates versioning).
 */
export function versionVerdict(
  settings: VersioningSettings,
  instanceVersion: string | undefined,
): VersionVerdict {
  const worker = settings.defaultVersion;
  if (worker === undefined || settings.matchStrategy === 'None') return { run: true };
  const comparison = compareVersions(instanceVersion, worker);
  let message: string | undefined;
  if (settings.matchStrategy === 'Strict' && comparison !== 0)
    message = `The orchestration version '${instanceVersion ?? ''}' does not match the worker version '${worker}'.`;
  if (settings.matchStrategy === 'CurrentOrOlder' && comparison > 0)
    message = `The orchestration version '${instanceVersion ?? ''}' is greater than the worker version '${worker}'.`;
  if (message === undefined) return { run: true };
  if (settings.failureStrategy === 'Reject') return { run: false, fail: undefined, message };
  return {
    run: false,
    message,
    fail: {
      Reason: message,
      Details: JSON.stringify({ message }),
      FailureDetails: { ErrorType: 'VersionMismatch', ErrorMessage: message, IsNonRetriable: true },
    },
  };
}
