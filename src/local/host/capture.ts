/**
 * Loads the unmodified app entry and captures its registrations, the way the Node worker does,
 * by answering `require('@azure/functions-core')` with our stand-in. Under jest the mapping comes
 * from `moduleNameMapper` (jest.config.js); under plain Node/tsx we hook module resolution.
 *
 * Every host gets a fresh copy of the app (its settings are read again), loaded in an isolated
 * module registry: `jest.isolateModules` under jest, a pruned `require.cache` under Node. One
 * exception: when the caller's own module registry already holds the entry (a test imported the
 * app to share state with it), that instance and its registrations are used.
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

interface JestIsolation {
  isolateModules(fn: () => void): unknown;
}
/** jest injects `jest` into every module it loads; under plain Node the identifier is absent. */
function jestRuntime(): JestIsolation | undefined {
  return typeof jest === 'undefined' ? undefined : jest;
}

/** Under plain Node: the require.cache keys our previous loads added (pruned before the next load). */
const ownedCacheKeys = new Set<string>();
/** Registrations of app instances the caller's registry holds, by entry path. */
const sharedEntries = new Map<string, CoreRegistration[]>();

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

function resolveEntry(entry: string): string {
  try {
    return require.resolve(path.resolve(entry));
  } catch {
    throw new Error(`App entry '${entry}' not found (resolved from ${process.cwd()})`);
  }
}

/** Runs `load` with registrations routed into a private list (not the ambient one). */
function collect(load: () => void): CoreRegistration[] {
  const sink = captureSink();
  const previous = sink.current;
  const collected: CoreRegistration[] = [];
  sink.current = collected;
  try {
    load();
  } finally {
    sink.current = previous;
  }
  return collected;
}

function loadFreshUnderNode(entryPath: string): CoreRegistration[] {
  hookModuleResolution();
  for (const key of ownedCacheKeys) Reflect.deleteProperty(require.cache, key);
  ownedCacheKeys.clear();
  const before = new Set(Object.keys(require.cache));
  try {
    return collect(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(entryPath);
    });
  } finally {
    for (const key of Object.keys(require.cache)) if (!before.has(key)) ownedCacheKeys.add(key);
  }
}

function loadFreshUnderJest(runtime: JestIsolation, entryPath: string): CoreRegistration[] {
  return collect(() =>
    runtime.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(entryPath);
    }),
  );
}

/**
 * Applies `env` to process.env (the app reads its settings there, as in Azure), then loads a
 * fresh copy of the entry and returns its functions.
 */
export function loadApp(entry: string, env: Record<string, string> = {}): FunctionRegistry {
  Object.assign(process.env, env);
  const entryPath = resolveEntry(entry);
  const runtime = jestRuntime();
  const sink = captureSink();
  let registrations: CoreRegistration[];
  const inCallerRegistry = require.cache[entryPath] !== undefined && !ownedCacheKeys.has(entryPath);
  if (inCallerRegistry) {
    // The caller imported the app itself (to share state with it): its registrations went to the
    // ambient list when it was imported.
    registrations = sharedEntries.get(entryPath) ?? [...sink.registrations];
    sharedEntries.set(entryPath, registrations);
  } else {
    registrations = runtime ? loadFreshUnderJest(runtime, entryPath) : loadFreshUnderNode(entryPath);
  }
  if (registrations.length === 0) {
    throw new Error(
      `Loading ${entry} registered no functions: @azure/functions did not find the host stand-in ` +
        `(is '${CORE_MODULE}' mapped to src/local/host/functions-core-stand-in?)`,
    );
  }
  return createRegistry(registrations);
}
