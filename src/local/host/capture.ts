/**
 * Loads the unmodified app entry and captures its registrations, the way the Node worker does,
 * by answering `require('@azure/functions-core')` with our stand-in. Under jest the mapping comes
 * from `moduleNameMapper` (jest.config.js); under plain Node/tsx we hook module resolution.
 */
import Module from 'node:module';
import path from 'node:path';
import type { CapturedFunction, FunctionRegistry } from './contracts';
import { captureSink, type CoreRegistration } from './functions-core-stand-in';

const CORE_MODULE = '@azure/functions-core';
let resolutionHooked = false;

function hookModuleResolution(): void {
  if (resolutionHooked) return;
  resolutionHooked = true;
  const moduleWithResolver = Module as unknown as {
    _resolveFilename: (request: string, parent: unknown, ...rest: unknown[]) => string;
  };
  const original = moduleWithResolver._resolveFilename;
  const standIn = require.resolve('./functions-core-stand-in');
  moduleWithResolver._resolveFilename = function resolveWithStandIn(request, parent, ...rest) {
    if (request === CORE_MODULE) return standIn;
    return original.call(this, request, parent, ...rest);
  };
}

const loadedEntries = new Map<string, CoreRegistration[]>();

function toCaptured(registration: CoreRegistration): CapturedFunction {
  const bindings = registration.metadata.bindings;
  const trigger = Object.values(bindings).find((binding) => /trigger$/i.test(String(binding.type)));
  if (trigger === undefined)
    throw new Error(`Function '${registration.metadata.name}' has no trigger binding`);
  return {
    name: registration.metadata.name,
    triggerType: String(trigger.type),
    trigger,
    bindings,
    handler: registration.handler,
  };
}

export function createRegistry(registrations: CoreRegistration[]): FunctionRegistry {
  const functions = new Map<string, CapturedFunction>();
  for (const registration of registrations) {
    const captured = toCaptured(registration);
    if (functions.has(captured.name)) throw new Error(`Function '${captured.name}' is registered twice`);
    functions.set(captured.name, captured);
  }
  return {
    functions,
    byTriggerType: (type) =>
      [...functions.values()].filter((fn) => fn.triggerType.toLowerCase() === type.toLowerCase()),
  };
}

/**
 * Applies `env` to process.env (the app reads its settings there, as in Azure) and loads the
 * entry once per module registry; later hosts in the same process reuse the captured handlers.
 */
export function loadApp(entry: string, env: Record<string, string> = {}): FunctionRegistry {
  Object.assign(process.env, env);
  const entryPath = path.resolve(entry);
  let registrations = loadedEntries.get(entryPath);
  if (registrations === undefined) {
    if (!process.env.JEST_WORKER_ID) hookModuleResolution();
    const sink = captureSink();
    const before = sink.registrations.length;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(entryPath);
    registrations = sink.registrations.slice(before);
    // Already loaded by someone else in this module registry (e.g. a test importing the app):
    // its registrations are the ones captured so far.
    if (registrations.length === 0) registrations = [...sink.registrations];
    if (registrations.length === 0) {
      throw new Error(
        `Loading ${entry} registered no functions: @azure/functions did not find the host stand-in ` +
          `(is '${CORE_MODULE}' mapped to src/local/host/functions-core-stand-in?)`,
      );
    }
    loadedEntries.set(entryPath, registrations);
  }
  return createRegistry(registrations);
}
