/**
 * The local host: loads the unmodified app, runs its durable functions through DurableEngine and
 * lets tests and `npm start` drive it — on a virtual clock (tests: timers are skipped to, a 4-hour
 * orchestration runs in milliseconds) or on the real clock.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { VirtualClock, systemClock, type Clock } from '../../shared/clock';
import { FactoryError } from '../../shared/errors';
import { loadApp } from './capture';
import type { FunctionRegistry, InstanceStatus, RuntimeStatus } from './contracts';
import { DurableEngine } from './engine';
import { readHostJson, type HostSettings } from './host-json';
import { HostStore } from './store';

export interface LocalHostOptions {
  /** The app entry, e.g. 'src/functions/index.ts' (tsx/jest) or 'dist/src/functions/index.js'. */
  appEntry: string;
  /** Settings applied to process.env before the app loads (the app reads them there, as in Azure). */
  env?: Record<string, string>;
  /** A VirtualClock makes the host skip to due timers in drive(); default: the system clock. */
  clock?: Clock;
  /** SQLite file; ':memory:' (default) for tests that never restart the host. */
  databasePath?: string;
  log?: (line: string) => void;
  /**
   * host.json (a path, or the parsed document), read as the Functions host reads it: task hub name,
   * functionTimeout, durableTask concurrency limits, Service Bus settings (host-json.ts). Without
   * it the host's defaults apply.
   */
  hostJson?: string | Record<string, unknown>;
}

/** Clock-driven work outside the durable engine (timer triggers) that drive() must honour. */
export interface DueWorkSource {
  nextDueAt(): number | undefined;
  runDue(now: number): Promise<void>;
}

const TERMINAL: RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];

export class LocalHost {
  readonly registry: FunctionRegistry;
  readonly engine: DurableEngine;
  readonly clock: Clock;
  /** What host.json says (hub name, functionTimeout, concurrency, Service Bus settings). */
  readonly settings: HostSettings;
  private readonly store: HostStore;
  private readonly log: (line: string) => void;
  private readonly dueWorkSources: DueWorkSource[] = [];

  private constructor(options: LocalHostOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? (() => undefined);
    // %NAME% values resolve from app settings, i.e. the environment the app runs with.
    this.settings = readHostJson(options.hostJson, { ...process.env, ...options.env });
    for (const key of this.settings.serviceBus.ignored)
      this.log(`[host] host.json extensions.serviceBus.${key} is ignored by the Service Bus extension 5.x`);
    this.registry = loadApp(options.appEntry, options.env);
    this.store = new HostStore(options.databasePath ?? ':memory:');
    this.engine = new DurableEngine({
      registry: this.registry,
      clock: this.clock,
      store: this.store,
      log: this.log,
      maxConcurrentActivities: this.settings.maxConcurrentActivityFunctions,
      maxConcurrentOrchestrations: this.settings.maxConcurrentOrchestratorFunctions,
      ...(this.settings.functionTimeoutMs === undefined
        ? {}
        : { functionTimeoutMs: this.settings.functionTimeoutMs }),
      realTimers: !(this.clock instanceof VirtualClock),
      versioning: this.settings.versioning,
    });
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  static async start(options: LocalHostOptions): Promise<LocalHost> {
    return new LocalHost(options);
  }

  get virtualClock(): VirtualClock | undefined {
    return this.clock instanceof VirtualClock ? this.clock : undefined;
  }

  startNew(
    name: string,
    options: { instanceId?: string; input?: unknown; version?: string } = {},
  ): Promise<string> {
    return this.engine.startNew(name, options);
  }
  raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<void> {
    return this.engine.raiseEvent(instanceId, eventName, data);
  }
  terminate(instanceId: string, reason: string): Promise<void> {
    return this.engine.terminate(instanceId, reason);
  }
  getStatus(
    instanceId: string,
    options: { showHistory?: boolean } = {},
  ): Promise<InstanceStatus | undefined> {
    return this.engine.getStatus(instanceId, options);
  }

  addDueWorkSource(source: DueWorkSource): void {
    this.dueWorkSources.push(source);
  }

  /**
   * Virtual clock: runs until nothing can progress, then moves the clock to the next due timer
   * (durable or trigger) and repeats. Returns when `until` holds, or when nothing is left to wait
   * for, or when maxVirtualMs of simulated time have passed.
   */
  async drive(
    options: { until?: () => boolean | Promise<boolean>; maxVirtualMs?: number } = {},
  ): Promise<void> {
    const clock = this.virtualClock;
    if (clock === undefined)
      throw new FactoryError(
        'NotVirtual',
        'drive() needs a host started with a VirtualClock; use waitFor() on the real clock.',
      );
    const deadline =
      options.maxVirtualMs === undefined ? Number.POSITIVE_INFINITY : clock.now() + options.maxVirtualMs;
    for (;;) {
      await this.engine.whenIdle();
      const progress = this.engine.progress();
      if (options.until && (await options.until())) return;
      // `until` may have raised events or started work: let it run before time moves on.
      await this.engine.whenIdle();
      if (this.engine.progress() !== progress) continue;
      const candidates = [
        this.engine.nextTimerDue(),
        ...this.dueWorkSources.map((source) => source.nextDueAt()),
      ].filter((at): at is number => at !== undefined);
      if (candidates.length === 0) return;
      const next = Math.max(Math.min(...candidates), clock.now());
      if (next > deadline) return;
      clock.advanceTo(next);
      for (const source of this.dueWorkSources) {
        const due = source.nextDueAt();
        if (due !== undefined && due <= next) await source.runDue(next);
      }
      this.engine.fireDueTimers(next);
    }
  }

  /** Virtual clock: drive until the instance finishes. Real clock: poll until it finishes. */
  async waitFor(instanceId: string, options: { timeoutMs?: number } = {}): Promise<InstanceStatus> {
    const finished = async () => {
      const status = await this.engine.getStatus(instanceId);
      return status !== undefined && TERMINAL.includes(status.runtimeStatus) ? status : undefined;
    };
    if (this.virtualClock) {
      await this.drive({ until: async () => (await finished()) !== undefined });
    } else {
      const giveUpAt = Date.now() + (options.timeoutMs ?? 60_000);
      while ((await finished()) === undefined && Date.now() < giveUpAt)
        await new Promise((r) => setTimeout(r, 20));
    }
    const status = await this.engine.getStatus(instanceId);
    if (status === undefined)
      throw new FactoryError('InstanceNotFound', `No instance with ID '${instanceId}'.`);
    return status;
  }

  /**
   * Invokes one activity as the host would for `context.df.callActivity(name, input)`: the input
   * goes through the library's processInput (a string is JSON-encoded once more) and the host's
   * JSON round trip; the answer is what the orchestrator would receive (`undefined` → null).
   * A throwing activity rejects with its error.
   */
  async callActivity(name: string, input: unknown): Promise<unknown> {
    const fn = this.registry.functions.get(name);
    if (fn === undefined || fn.triggerType !== 'activityTrigger')
      throw new FactoryError('ActivityNotFound', `No activity named '${name}'.`);
    const wire = JSON.stringify(typeof input === 'string' ? JSON.stringify(input) : input);
    const result = await this.invokeFunction(name, wire === undefined ? undefined : JSON.parse(wire));
    return JSON.parse(JSON.stringify(result ?? null)) as unknown;
  }

  /** Invokes any captured handler with a real InvocationContext (HTTP, timer and Service Bus layers use this). */
  async invokeFunction(
    name: string,
    triggerInput: unknown,
    options: { triggerMetadata?: Record<string, unknown>; extraInputs?: Record<string, unknown> } = {},
  ): Promise<unknown> {
    const fn = this.registry.functions.get(name);
    if (fn === undefined) throw new FactoryError('FunctionNotFound', `No function named '${name}'.`);
    const extraInputs = Object.entries(fn.bindings)
      .filter(([, binding]) => binding.direction === 'in' && !/trigger$/i.test(String(binding.type)))
      .map(([bindingName, binding]) => ({ ...binding, name: bindingName }));
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: name,
      triggerMetadata: options.triggerMetadata,
      options: { trigger: fn.trigger as never, extraInputs: extraInputs as never },
      logHandler: (level, ...args) => this.log(`[${name}] ${level}: ${args.map(String).join(' ')}`),
    });
    for (const [bindingName, value] of Object.entries(options.extraInputs ?? {}))
      context.extraInputs.set(bindingName, value);
    return await fn.handler(triggerInput, context);
  }

  async stop(): Promise<void> {
    await this.engine.whenIdle();
    this.engine.stop();
    this.store.close();
  }

  /** For the crash test: stop without waiting for work in flight. */
  abandon(): void {
    this.engine.stop();
    this.store.close();
  }
}
