/**
 * Stand-in for the Node worker's `@azure/functions-core` module. `@azure/functions` requires it
 * lazily; when it is missing the package falls into a no-op "test mode". This module is what the
 * local host hands out under that name, so every `app.*` registration reaches the host with its
 * real wrapped handler and trigger metadata.
 */
export interface CoreRegistration {
  metadata: { name: string; bindings: Record<string, Record<string, unknown>>; [key: string]: unknown };
  handler: (...args: unknown[]) => unknown;
}

interface CaptureSink {
  /** Registrations made outside a host's load (a test importing the app itself). */
  registrations: CoreRegistration[];
  /** While a host loads the app: where its registrations go. */
  current?: CoreRegistration[];
  programmingModel: unknown;
}

const SINK_KEY = Symbol.for('image-factory.local-host.functions-core');

export function captureSink(): CaptureSink {
  const holder = globalThis as unknown as Record<symbol, CaptureSink | undefined>;
  let sink = holder[SINK_KEY];
  if (sink === undefined) {
    sink = { registrations: [], programmingModel: undefined };
    holder[SINK_KEY] = sink;
  }
  return sink;
}

export function setProgrammingModel(model: unknown): void {
  captureSink().programmingModel = model;
}

export function getProgrammingModel(): unknown {
  return captureSink().programmingModel;
}

export function registerFunction(
  metadata: CoreRegistration['metadata'],
  handler: CoreRegistration['handler'],
): { dispose(): void } {
  const sink = captureSink();
  const registration = { metadata, handler };
  const list = sink.current ?? sink.registrations;
  list.push(registration);
  return { dispose: () => list.splice(list.indexOf(registration), 1) };
}

export function registerHook(): { dispose(): void } {
  return { dispose: () => undefined };
}

export function log(level: string, category: string, message: string): void {
  if (level === 'error' || level === 'warning') console.error(`[functions-core ${category}] ${message}`);
}

export class Disposable {
  constructor(private readonly callOnDispose: () => void) {}
  static from(...items: { dispose(): void }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  dispose(): void {
    this.callOnDispose();
  }
}
