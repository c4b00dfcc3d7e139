/**
 * Reads host.json as the Functions host and its extensions read the settings the local host
 * honours. Sources (see README.md, "host.json"):
 * - functionTimeout: Functions docs "Function app timeout duration" (a TimeSpan; default 30 min on
 *   Flex Consumption, Premium and Dedicated, 5 on Consumption; "-1" unbounded where allowed).
 * - extensions.durableTask.hubName: DurableTaskOptions (default "TestHubName", or WEBSITE_SITE_NAME)
 *   with ResolveAppSettingOptions → INameResolver.TryResolveWholeString: a value that is exactly
 *   "%NAME%" becomes the app setting NAME; when that setting is missing the text stays as it is.
 *   AzureStorageOptions.ValidateHubName then refuses a name that is not 3–50 letters/digits
 *   starting with a letter, with GetTaskHubErrorString's text.
 * - maxConcurrentActivityFunctions / maxConcurrentOrchestratorFunctions: DurableTaskOptions
 *   (positive integers, else "<Name> must be a positive integer value."); defaults 10 each (the
 *   documented Consumption defaults; other plans use 10 × processors).
 * - extensions.serviceBus (Service Bus extension 5.x): flat autoCompleteMessages (default true),
 *   maxConcurrentCalls (default 16 × processors), maxAutoLockRenewalDuration (default 00:05:00),
 *   prefetchCount (default 0). The 4.x `messageHandlerOptions` block is ignored by 5.x.
 * - extensions.durableTask.defaultVersion / versionMatchStrategy / versionFailureStrategy:
 *   "Orchestration versioning in Durable Functions" (learn.microsoft.com): defaultVersion any string
 *   (null = not set), versionMatchStrategy None | Strict | CurrentOrOlder (default CurrentOrOlder),
 *   versionFailureStrategy Reject | Fail (default Reject). See versioning.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../../shared/errors';
import { timeSpanToMs } from './history';
import { readVersioning, type VersioningSettings } from './versioning';

export interface ServiceBusHostSettings {
  autoCompleteMessages: boolean;
  /** undefined: the extension's default, 16 × the instance's processors. */
  maxConcurrentCalls: number | undefined;
  maxAutoLockRenewalDurationMs: number;
  prefetchCount: number;
  /** Keys host.json sets that extension 5.x ignores (e.g. messageHandlerOptions). */
  ignored: string[];
}

export interface HostSettings {
  /** The resolved task hub name. */
  hubName: string;
  /** undefined: unbounded ("-1"). */
  functionTimeoutMs: number | undefined;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  serviceBus: ServiceBusHostSettings;
  /** durableTask.defaultVersion and the match/failure strategies (orchestration versioning). */
  versioning: VersioningSettings;
}

/** What the local host assumes without host.json (Flex Consumption defaults). */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_HUB_NAME = 'TestHubName';

type Json = Record<string, unknown>;

const invalid = (message: string) => new FactoryError('HostJsonInvalid', message);

/** host.json from a file path or an already parsed document; app settings resolve %NAME% values. */
export function readHostJson(
  source: string | Json | undefined,
  settings: Record<string, string | undefined>,
): HostSettings {
  let doc: Json = {};
  if (typeof source === 'string') {
    try {
      doc = JSON.parse(readFileSync(source, 'utf8')) as Json;
    } catch (error) {
      throw invalid(`host.json at ${source} could not be read: ${(error as Error).message}`);
    }
  } else if (source !== undefined) {
    doc = source;
  }
  const extensions = objectAt(doc, 'extensions');
  const durable = objectAt(extensions, 'durableTask');
  const serviceBus = objectAt(extensions, 'serviceBus');

  const rawHub = durable.hubName;
  if (rawHub !== undefined && typeof rawHub !== 'string')
    throw invalid('host.json extensions.durableTask.hubName must be a string.');
  const hubName = resolveWholeString(rawHub ?? settings.WEBSITE_SITE_NAME ?? DEFAULT_HUB_NAME, settings);
  // Azure Storage naming (table and queue names), AzureStorageOptions.ValidateHubName.
  if (!/^[A-Za-z][A-Za-z0-9]{2,49}$/.test(hubName))
    throw invalid(
      `Task hub name '${hubName}' should contain only alphanumeric characters, start with a letter, and have length between 3 and 45.`,
    );

  return {
    hubName,
    functionTimeoutMs: functionTimeout(doc.functionTimeout),
    maxConcurrentActivityFunctions: positive(durable, 'maxConcurrentActivityFunctions', 10),
    maxConcurrentOrchestratorFunctions: positive(durable, 'maxConcurrentOrchestratorFunctions', 10),
    versioning: readVersioning(durable, invalid),
    serviceBus: {
      autoCompleteMessages: booleanAt(serviceBus, 'autoCompleteMessages', true),
      maxConcurrentCalls:
        serviceBus.maxConcurrentCalls === undefined
          ? undefined
          : positive(serviceBus, 'maxConcurrentCalls', 16),
      maxAutoLockRenewalDurationMs: timeSpanAt(serviceBus, 'maxAutoLockRenewalDuration', '00:05:00'),
      prefetchCount: nonNegative(serviceBus, 'prefetchCount', 0),
      ignored: Object.keys(serviceBus).filter((key) => key === 'messageHandlerOptions'),
    },
  };
}

/** INameResolver.TryResolveWholeString: only a value that is exactly "%NAME%" is resolved. */
function resolveWholeString(value: string, settings: Record<string, string | undefined>): string {
  const match = /^%([^%]+)%$/.exec(value);
  if (!match) return value;
  return settings[match[1] as string] ?? value;
}

function functionTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null) return DEFAULT_FUNCTION_TIMEOUT_MS;
  if (value === '-1') return undefined;
  if (typeof value !== 'string' || !/^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/.test(value))
    throw invalid(`host.json functionTimeout ${JSON.stringify(value)} is not a TimeSpan (hh:mm:ss) or -1.`);
  const ms = timeSpanToMs(value);
  if (ms <= 0) throw invalid(`host.json functionTimeout '${value}' must be positive.`);
  return ms;
}

function objectAt(parent: Json, key: string): Json {
  const value = parent[key];
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid(`host.json ${key} must be an object.`);
  return value as Json;
}

function positive(parent: Json, key: string, fallback: number): number {
  const value = parent[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    const name = key.charAt(0).toUpperCase() + key.slice(1);
    throw invalid(`${name} must be a positive integer value.`);
  }
  return value;
}

function nonNegative(parent: Json, key: string, fallback: number): number {
  const value = parent[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw invalid(`host.json ${key} must be a non-negative integer.`);
  return value;
}

function booleanAt(parent: Json, key: string, fallback: boolean): boolean {
  const value = parent[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`host.json ${key} must be true or false.`);
  return value;
}

function timeSpanAt(parent: Json, key: string, fallback: string): number {
  const value = parent[key] ?? fallback;
  if (typeof value !== 'string' || !/^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/.test(value))
    throw invalid(`host.json ${key} ${JSON.stringify(value)} is not a TimeSpan (hh:mm:ss).`);
  return timeSpanToMs(value);
}

/** The app's host.json: the first one found from `directory` upwards (source or compiled layout). */
export function findHostJson(directory: string): string | undefined {
  for (let dir = path.resolve(directory); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'host.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}
