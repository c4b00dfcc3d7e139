/**
 * The local stand-in for the Durable Task extension: runs orchestration episodes through the real
 * durable-functions replay engine (the captured orchestrator handlers), executes the actions they
 * return with DurableTask.Core's semantics, runs activities, fires timers and persists everything
 * in SQLite. See README.md next to this file for what it verifies and where it differs.
 * Over 600 lines: replay, scheduling and persistence are still one class; issue 16 separates them.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { Clock, VirtualClock } from '../../shared/clock';
import { FactoryError, toError } from '../../shared/errors';
import type {
  CapturedFunction,
  FunctionRegistry,
  InstanceStatus,
  ListFilter,
  OrchestrationEngine,
  RuntimeStatus,
} from './contracts';
import {
  ActionType,
  ActionTypeName,
  EventType,
  EventTypeName,
  actionSignature,
  entitySchedulerId,
  parseEntitySchedulerId,
  timeSpanToMs,
  type EntityRequest,
  type HistoryEvent,
  type OrchestratorAction,
  type RetryOptionsWire,
} from './history';
import type { ActivityWork, EntityRecord, HostStore, InstanceRecord, TimerWork } from './store';
import { FunctionTimeoutError, activityFailure, orchestratorFailure, type FailureFields } from './failures';
import { NO_VERSIONING, versionVerdict, type VersioningSettings } from './versioning';

/**
 * What the extension sends as its newest replay schema: the newest the installed library knows
 * (`LatestReplaySchema`, V4 = 3 in durable-functions 3.5.0), read from the library itself.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const replaySchema = require('durable-functions/lib/src/orchestrations/ReplaySchema') as {
  LatestReplaySchema?: number;
};
const UPPER_SCHEMA_VERSION = replaySchema.LatestReplaySchema ?? 3;
/** Azure Storage backend defaults, as the extension sends them. */
const MAXIMUM_SHORT_TIMER_DURATION = '6.00:00:00';
const LONG_RUNNING_TIMER_INTERVAL = '3.00:00:00';
const OUT_OF_PROC_MARKER = '$OutOfProcData$:';

export interface EngineOptions {
  registry: FunctionRegistry;
  clock: Clock;
  store: HostStore;
  log?: (line: string) => void;
  /** host.json durableTask.maxConcurrentActivityFunctions: activities beyond it wait. */
  maxConcurrentActivities?: number;
  /** host.json durableTask.maxConcurrentOrchestratorFunctions: episodes beyond it wait. */
  maxConcurrentOrchestrations?: number;
  /** host.json functionTimeout (undefined: unbounded): an activity running longer fails. */
  functionTimeoutMs?: number;
  /** Real-clock mode arms setTimeout for durable timers; virtual mode waits for fireDueTimers(). */
  realTimers: boolean;
  /** host.json defaultVersion and match/failure strategies (versioning.ts); default: none. */
  versioning?: VersioningSettings;
}

interface OrchestratorState {
  isDone: boolean;
  actions: OrchestratorAction[][];
  output: unknown;
  error?: string;
  customStatus?: unknown;
  /** Set by the library when the uncaught error was a TaskFailedError (toFailureDetailsPayload). */
  failureDetails?: unknown;
}

interface TimerEntry extends TimerWork {
  canceled: boolean;
}

export interface EngineStats {
  episodes: number;
  /** CPU time spent inside orchestrator handlers (replay), ms. */
  replayCpuMs: number;
  /** The same per orchestrator function name, with its episodes: where replay time goes. */
  replayByOrchestration: Map<string, { episodes: number; cpuMs: number }>;
  activityExecutions: Map<string, number>;
  /** Most episodes / activities ever in flight at once (host.json concurrency limits). */
  peakConcurrentEpisodes: number;
  peakConcurrentActivities: number;
  /** Each activity run with its start and end on the host's clock (virtual in tests). */
  activityRuns: { name: string; startedAt: number; endedAt: number }[];
}

class NonDeterminismError extends Error {}

/** What durable-functions' Entity.handle returns (lib/src/entities/EntityState.js). */
interface EntityBatchResult {
  entityExists: boolean;
  entityState: string | undefined;
  results: { isError: boolean; result?: string }[];
  signals?: { target: { name: string; key: string }; name: string; input: string }[];
}

const TERMINAL: RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];

export class DurableEngine implements OrchestrationEngine {
  readonly clock: Clock;
  readonly stats: EngineStats = {
    episodes: 0,
    replayCpuMs: 0,
    replayByOrchestration: new Map(),
    activityExecutions: new Map(),
    peakConcurrentEpisodes: 0,
    peakConcurrentActivities: 0,
    activityRuns: [],
  };
  private readonly registry: FunctionRegistry;
  private readonly store: HostStore;
  private readonly log: (line: string) => void;
  private readonly maxConcurrentActivities: number;
  private readonly maxConcurrentOrchestrations: number;
  private readonly functionTimeoutMs: number | undefined;
  private readonly realTimers: boolean;
  private readonly versioning: VersioningSettings;
  /** Instances this worker refused (versionFailureStrategy Reject), each logged once. */
  private readonly rejected = new Set<string>();

  private readonly instances = new Map<string, InstanceRecord>();
  private readonly pendingActivities = new Map<string, ActivityWork>();
  private readonly runningActivities = new Set<string>();
  private readonly timers = new Map<string, TimerEntry>();
  private readonly runningEpisodes = new Map<string, HistoryEvent[]>();
  private readonly entities = new Map<string, EntityRecord>();
  private readonly runningEntities = new Set<string>();
  private readonly episodeRequests = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private readonly historyRetiredListeners: ((
    instanceId: string,
    history: readonly HistoryEvent[],
  ) => void)[] = [];
  private pumpQueued = false;
  private realTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private progressCounter = 0;

  constructor(options: EngineOptions) {
    this.registry = options.registry;
    this.clock = options.clock;
    this.store = options.store;
    this.log = options.log ?? (() => undefined);
    this.maxConcurrentActivities = options.maxConcurrentActivities ?? 10;
    this.maxConcurrentOrchestrations = options.maxConcurrentOrchestrations ?? 10;
    this.functionTimeoutMs = options.functionTimeoutMs;
    this.versioning = options.versioning ?? NO_VERSIONING;
    this.realTimers = options.realTimers;
    const state = this.store.loadAll();
    for (const instance of state.instances) {
      this.instances.set(instance.instanceId, instance);
      if (instance.inbox.length > 0 && !TERMINAL.includes(instance.runtimeStatus))
        this.episodeRequests.add(instance.instanceId);
    }
    for (const work of state.activities) this.pendingActivities.set(work.workId, work);
    for (const timer of state.timers) this.timers.set(timer.timerKey, { ...timer, canceled: false });
    for (const entity of state.entities) this.entities.set(entity.entityId, entity);
    this.pump();
  }

  // ------------------------------------------------------------------ public API

  startNew(
    orchestratorName: string,
    options: { instanceId?: string; input?: unknown; version?: string } = {},
  ): Promise<string> {
    this.orchestrator(orchestratorName);
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    const existing = this.instances.get(instanceId);
    if (existing !== undefined && !TERMINAL.includes(existing.runtimeStatus)) {
      return Promise.reject(
        new FactoryError(
          'InstanceExists',
          `An instance with ID '${instanceId}' already exists and is ${existing.runtimeStatus}.`,
        ),
      );
    }
    const record = this.newInstance(
      orchestratorName,
      instanceId,
      options.input === undefined ? undefined : JSON.stringify(options.input),
      undefined,
      options.version,
    );
    this.store.transaction(() => this.persist(record));
    this.requestEpisode(instanceId);
    this.log(`[host] started ${orchestratorName} ${instanceId}`);
    return Promise.resolve(instanceId);
  }

  raiseEvent(instanceId: string, eventName: string, eventData: unknown): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined)
      return Promise.reject(new FactoryError('InstanceNotFound', `No instance with ID '${instanceId}'.`));
    if (TERMINAL.includes(instance.runtimeStatus)) {
      return Promise.reject(
        new FactoryError(
          'InstanceCompleted',
          `Instance '${instanceId}' is ${instance.runtimeStatus}; the event was discarded.`,
        ),
      );
    }
    this.deliver(instance, {
      ...this.event(EventType.EventRaised),
      Name: eventName,
      Input: eventData === undefined ? undefined : JSON.stringify(eventData),
    });
    return Promise.resolve();
  }

  terminate(instanceId: string, reason: string): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined)
      return Promise.reject(new FactoryError('InstanceNotFound', `No instance with ID '${instanceId}'.`));
    if (TERMINAL.includes(instance.runtimeStatus)) return Promise.resolve();
    this.store.transaction(() => {
      instance.history.push({ ...this.event(EventType.ExecutionTerminated), Input: JSON.stringify(reason) });
      instance.runtimeStatus = 'Terminated';
      instance.output = reason;
      instance.inbox = [];
      instance.lastUpdatedTime = this.nowIso();
      this.dropWorkOf(instance.instanceId);
      this.persist(instance);
      this.notifyParent(instance, false, {
        Reason: `Orchestrator function '${instance.name}' failed: Instance terminated: ${reason}`,
        Details: JSON.stringify({ message: `Instance terminated: ${reason}` }),
      });
    });
    this.log(`[host] terminated ${instance.name} ${instanceId}: ${reason}`);
    this.pump();
    return Promise.resolve();
  }

  getStatus(
    instanceId: string,
    options: { showHistory?: boolean; showInput?: boolean } = {},
  ): Promise<InstanceStatus | undefined> {
    const instance = this.instances.get(instanceId);
    return Promise.resolve(instance === undefined ? undefined : this.toStatus(instance, options));
  }

  list(filter: ListFilter): Promise<{ instances: InstanceStatus[]; continuationToken?: string }> {
    let selected = [...this.instances.values()].sort(
      (a, b) => a.createdTime.localeCompare(b.createdTime) || a.instanceId.localeCompare(b.instanceId),
    );
    if (filter.runtimeStatus?.length)
      selected = selected.filter((i) => filter.runtimeStatus?.includes(i.runtimeStatus));
    if (filter.createdTimeFrom)
      selected = selected.filter((i) => i.createdTime >= (filter.createdTimeFrom ?? ''));
    if (filter.createdTimeTo)
      selected = selected.filter((i) => i.createdTime <= (filter.createdTimeTo ?? ''));
    if (filter.instanceIdPrefix)
      selected = selected.filter((i) => i.instanceId.startsWith(filter.instanceIdPrefix ?? ''));
    const start = filter.continuationToken
      ? Number(Buffer.from(filter.continuationToken, 'base64').toString())
      : 0;
    const top = filter.top ?? selected.length;
    const page = selected.slice(start, start + top);
    const next =
      start + top < selected.length ? Buffer.from(String(start + top)).toString('base64') : undefined;
    return Promise.resolve({
      instances: page.map((i) => this.toStatus(i, { showInput: true })),
      ...(next === undefined ? {} : { continuationToken: next }),
    });
  }

  purge(instanceId: string): Promise<boolean> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined) return Promise.resolve(false);
    if (!TERMINAL.includes(instance.runtimeStatus)) {
      return Promise.reject(
        new FactoryError(
          'InstanceRunning',
          `Instance '${instanceId}' is ${instance.runtimeStatus}; only finished instances can be purged.`,
        ),
      );
    }
    this.store.transaction(() => this.store.deleteInstance(instanceId));
    this.instances.delete(instanceId);
    return Promise.resolve(true);
  }

  /**
   * A client's signalEntity (durable client / HTTP API): queues a one-way operation for the entity.
   * Rejects, changing nothing, when the app has no entity function of that name.
   */
  signalEntity(entity: { name: string; key: string }, operationName: string, input?: unknown): Promise<void> {
    if (!operationName)
      return Promise.reject(new FactoryError('BadRequest', 'An operation name is required.'));
    try {
      this.store.transaction(() =>
        this.sendToEntity(entitySchedulerId(entity), {
          id: randomUUID(),
          op: operationName,
          signal: true,
          ...(input === undefined ? {} : { input: JSON.stringify(input) }),
          timestamp: this.nowIso(),
        }),
      );
    } catch (error) {
      return Promise.reject(toError(error));
    }
    this.pump();
    return Promise.resolve();
  }

  /** A client's readEntityState: the entity's last committed state. */
  readEntityState(entity: {
    name: string;
    key: string;
  }): Promise<{ entityExists: boolean; entityState: unknown }> {
    const record = this.entities.get(entitySchedulerId(entity));
    if (record === undefined || !record.exists)
      return Promise.resolve({ entityExists: false, entityState: undefined });
    return Promise.resolve({
      entityExists: true,
      entityState: record.state === undefined ? undefined : (JSON.parse(record.state) as unknown),
    });
  }

  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A counter that moves whenever an episode or activity ran or an event arrived. */
  progress(): number {
    return this.progressCounter;
  }

  /** Earliest pending durable timer (clock ms), if any. */
  nextTimerDue(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.timers.values())
      if (earliest === undefined || timer.fireAt < earliest) earliest = timer.fireAt;
    return earliest;
  }

  /** Fires every timer due at `now`; the host calls this after moving a virtual clock. */
  fireDueTimers(now: number = this.clock.now()): number {
    const due = [...this.timers.values()]
      .filter((timer) => timer.fireAt <= now)
      .sort((a, b) => a.fireAt - b.fireAt);
    for (const timer of due) {
      this.timers.delete(timer.timerKey);
      const instance = this.instances.get(timer.instanceId);
      this.store.transaction(() => {
        this.store.deleteTimer(timer.timerKey);
        if (
          instance === undefined ||
          instance.executionId !== timer.executionId ||
          TERMINAL.includes(instance.runtimeStatus)
        )
          return;
        instance.inbox.push({
          ...this.event(EventType.TimerFired),
          TimerId: timer.timerId,
          FireAt: new Date(timer.fireAt).toISOString(),
        });
        this.persist(instance);
        this.episodeRequests.add(instance.instanceId);
      });
    }
    if (due.length > 0) this.pump();
    return due.length;
  }

  instanceIds(): string[] {
    return [...this.instances.keys()];
  }

  /**
   * Calls `listener` with a generation's history just before continueAsNew discards it, so a test
   * can see every event an instance ever had (e.g. to scan them for secrets), not only the last
   * generation's.
   */
  onHistoryRetired(listener: (instanceId: string, history: readonly HistoryEvent[]) => void): void {
    this.historyRetiredListeners.push(listener);
  }

  stop(): void {
    this.stopped = true;
    if (this.realTimer) clearTimeout(this.realTimer);
  }

  // ------------------------------------------------------------------ scheduling

  private isIdle(): boolean {
    return (
      this.runningActivities.size === 0 &&
      this.runningEpisodes.size === 0 &&
      this.pendingActivities.size === 0 &&
      this.runningEntities.size === 0 &&
      [...this.entities.values()].every((entity) => entity.queue.length === 0) &&
      [...this.episodeRequests].every((id) => this.runningEpisodes.has(id))
    );
  }

  private requestEpisode(instanceId: string): void {
    this.episodeRequests.add(instanceId);
    this.pump();
  }

  private pump(): void {
    if (this.pumpQueued || this.stopped) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.runPump();
    });
  }

  private runPump(): void {
    if (this.stopped) return;
    this.progressCounter++;
    for (const instanceId of [...this.episodeRequests]) {
      if (this.runningEpisodes.size >= this.maxConcurrentOrchestrations) break;
      if (this.runningEpisodes.has(instanceId)) continue;
      this.episodeRequests.delete(instanceId);
      const instance = this.instances.get(instanceId);
      if (instance === undefined || instance.inbox.length === 0 || TERMINAL.includes(instance.runtimeStatus))
        continue;
      if (!this.mayRun(instance)) continue;
      void this.runEpisode(instance).finally(() => this.pump());
      this.stats.peakConcurrentEpisodes = Math.max(
        this.stats.peakConcurrentEpisodes,
        this.runningEpisodes.size,
      );
    }
    for (const work of [...this.pendingActivities.values()]) {
      if (this.runningActivities.size >= this.maxConcurrentActivities) break;
      this.pendingActivities.delete(work.workId);
      this.runningActivities.add(work.workId);
      this.stats.peakConcurrentActivities = Math.max(
        this.stats.peakConcurrentActivities,
        this.runningActivities.size,
      );
      void this.runActivity(work).finally(() => {
        this.runningActivities.delete(work.workId);
        this.pump();
      });
    }
    for (const entity of this.entities.values()) {
      if (entity.queue.length === 0 || this.runningEntities.has(entity.entityId)) continue;
      this.runningEntities.add(entity.entityId);
      void this.runEntityBatch(entity).finally(() => {
        this.runningEntities.delete(entity.entityId);
        this.pump();
      });
    }
    if (this.realTimers) this.armRealTimer();
    if (this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private armRealTimer(): void {
    if (this.realTimer) clearTimeout(this.realTimer);
    const due = this.nextTimerDue();
    if (due === undefined) return;
    const remaining = due - this.clock.now();
    const delay = Math.max(0, Math.min(this.clock.toRealDelay?.(remaining) ?? remaining, 2 ** 31 - 1));
    // Timers may fire a little early (scaled clocks magnify that): re-arm after every wake-up.
    this.realTimer = setTimeout(() => {
      this.fireDueTimers();
      this.pump();
    }, delay);
    this.realTimer.unref?.();
  }

  // ------------------------------------------------------------------ activities

  private async runActivity(work: ActivityWork): Promise<void> {
    const fn = this.registry.functions.get(work.name);
    let completion: HistoryEvent;
    const count = (this.stats.activityExecutions.get(work.name) ?? 0) + 1;
    this.stats.activityExecutions.set(work.name, count);
    const startedAt = this.clock.now();
    if (fn === undefined || fn.triggerType !== 'activityTrigger') {
      completion = this.taskFailed(
        work,
        new Error(`The function '${work.name}' doesn't exist, is disabled, or is not an activity function.`),
      );
    } else {
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: work.name,
        options: { trigger: fn.trigger as never },
        logHandler: (level, ...args) => this.log(`[${work.name}] ${level}: ${args.map(String).join(' ')}`),
      });
      try {
        const input: unknown = work.input === undefined ? undefined : JSON.parse(work.input);
        const result = await this.withinFunctionTimeout(work.name, () => fn.handler(input, context));
        completion = {
          ...this.event(EventType.TaskCompleted),
          TaskScheduledId: work.taskScheduledId,
          Result: JSON.stringify(result ?? null),
        };
        this.log(`[host] activity ${work.name} (${work.instanceId}#${work.taskScheduledId}) succeeded`);
      } catch (thrown) {
        completion = this.taskFailed(work, toError(thrown));
        this.log(
          `[host] activity ${work.name} (${work.instanceId}#${work.taskScheduledId}) failed: ${String(completion.Reason)}`,
        );
      }
    }
    this.stats.activityRuns.push({ name: work.name, startedAt, endedAt: this.clock.now() });
    const instance = this.instances.get(work.instanceId);
    this.store.transaction(() => {
      this.store.deleteActivity(work.workId);
      if (
        instance === undefined ||
        instance.executionId !== work.executionId ||
        TERMINAL.includes(instance.runtimeStatus)
      )
        return;
      instance.inbox.push(completion);
      this.persist(instance);
      this.episodeRequests.add(instance.instanceId);
    });
  }

  /**
   * Runs an activity under host.json functionTimeout: past it the host records the execution as a
   * failure with its FunctionTimeoutException and stops waiting (the real host also restarts the
   * worker; here the handler's late outcome is ignored). Measured on a virtual clock (when it is
   * moved past the limit) or on the real clock. Not on a scaled clock: it multiplies the
   * simulation's own CPU time by its speedup (at ×2000 a 0.3 s activity "takes" 10 min), so a
   * timeout there would be ours, not Azure's.
   */
  private withinFunctionTimeout(name: string, run: () => unknown): Promise<unknown> {
    const limit = this.functionTimeoutMs;
    const running = Promise.resolve().then(run);
    const clock = this.clock as Partial<VirtualClock> & Clock;
    const virtual = typeof clock.onAdvance === 'function';
    if (limit === undefined || (!virtual && clock.toRealDelay !== undefined)) return running;
    const startedAt = clock.now();
    const timedOut = () => clock.now() - startedAt >= limit;
    let cancel = () => undefined as void;
    const timeout = new Promise<never>((_, reject) => {
      const fail = () => reject(new FunctionTimeoutError(name, limit));
      if (virtual && clock.onAdvance) {
        const unsubscribe = clock.onAdvance(() => {
          if (timedOut()) fail();
        });
        cancel = () => void unsubscribe();
      } else {
        const timer = setTimeout(fail, Math.min(limit, 2 ** 31 - 1));
        timer.unref?.();
        cancel = () => clearTimeout(timer);
      }
    });
    running.catch(() => undefined); // a late failure after the timeout is ignored
    return Promise.race([running, timeout]).finally(cancel);
  }

  private taskFailed(work: ActivityWork, error: Error): HistoryEvent {
    return {
      ...this.event(EventType.TaskFailed),
      TaskScheduledId: work.taskScheduledId,
      ...activityFailure(work.name, error),
    };
  }

  // ------------------------------------------------------------------ entities

  private entityFunction(name: string): CapturedFunction {
    const fn = [...this.registry.functions.values()].find(
      (candidate) => candidate.triggerType === 'entityTrigger' && candidate.name.toLowerCase() === name,
    );
    if (fn === undefined)
      throw new FactoryError(
        'EntityNotFound',
        `The function '${name}' doesn't exist or is not an entity function.`,
      );
    return fn;
  }

  /** @internal Queues an operation for an entity (inside the caller's transaction). */
  sendToEntity(schedulerId: string, request: EntityRequest): void {
    const id = parseEntitySchedulerId(schedulerId);
    if (id === undefined) throw new FactoryError('BadRequest', `'${schedulerId}' is not an entity id.`);
    this.entityFunction(id.name.toLowerCase());
    let entity = this.entities.get(schedulerId);
    if (entity === undefined) {
      entity = {
        entityId: schedulerId,
        name: id.name.toLowerCase(),
        key: id.key,
        exists: false,
        state: undefined,
        queue: [],
        lastModifiedTime: this.nowIso(),
      };
      this.entities.set(schedulerId, entity);
    }
    entity.queue.push(request);
    this.store.putEntity(entity);
  }

  /**
   * Runs every queued operation of one entity as one batch through the library's entity handler,
   * then commits state, answers (EventRaised named by request id, to each calling orchestration)
   * and the signals the operations sent, in one transaction.
   */
  private async runEntityBatch(entity: EntityRecord): Promise<void> {
    const batch = entity.queue.slice();
    const fn = this.entityFunction(entity.name);
    const trigger = {
      self: { name: entity.name, key: entity.key },
      exists: entity.exists,
      state: entity.state,
      batch: batch.map((request) => ({
        id: request.id,
        name: request.op,
        signal: request.signal,
        input: request.input,
      })),
    };
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: fn.name,
      options: { trigger: fn.trigger as never },
      logHandler: (level, ...args) =>
        this.log(`[${fn.name} ${entity.entityId}] ${level}: ${args.map(String).join(' ')}`),
    });
    let result: EntityBatchResult;
    try {
      result = (await fn.handler(trigger, context)) as EntityBatchResult;
    } catch (thrown) {
      const message = JSON.stringify(toError(thrown).message);
      result = {
        entityExists: entity.exists,
        entityState: entity.state,
        results: batch.map(() => ({ isError: true, result: message })),
        signals: [],
      };
    }
    this.store.transaction(() => {
      entity.exists = result.entityExists;
      entity.state = result.entityExists ? result.entityState : undefined;
      entity.queue.splice(0, batch.length);
      entity.lastModifiedTime = this.nowIso();
      batch.forEach((request, index) => {
        const outcome = result.results[index];
        this.log(
          `[host] entity ${entity.entityId} ${request.op} ${outcome?.isError ? 'failed' : 'succeeded'}`,
        );
        if (request.signal || request.parent === undefined) return;
        const parent = this.instances.get(request.parent);
        if (
          parent === undefined ||
          parent.executionId !== request.parentExecution ||
          TERMINAL.includes(parent.runtimeStatus)
        )
          return;
        const response = outcome?.isError
          ? { result: outcome.result, exceptionType: 'Error' }
          : { result: outcome?.result };
        parent.inbox.push({
          ...this.event(EventType.EventRaised),
          Name: request.id,
          Input: JSON.stringify(response),
        });
        this.persist(parent);
        this.episodeRequests.add(parent.instanceId);
      });
      for (const signal of result.signals ?? []) {
        this.sendToEntity(entitySchedulerId(signal.target), {
          id: randomUUID(),
          op: signal.name,
          signal: true,
          ...(signal.input ? { input: signal.input } : {}),
          timestamp: this.nowIso(),
        });
      }
      this.store.putEntity(entity);
    });
    this.progressCounter++;
  }

  // ------------------------------------------------------------------ episodes

  /**
   * The worker's version check before an orchestration work item runs. Reject: the instance keeps
   * its state and inbox (Pending stays Pending) for a compatible worker, e.g. this database opened
   * by a newer app; Fail: the instance fails with the SDKs' VersionMismatch details.
   */
  private mayRun(instance: InstanceRecord): boolean {
    const verdict = versionVerdict(this.versioning, instance.version);
    if (verdict.run) return true;
    if (verdict.fail === undefined) {
      if (!this.rejected.has(instance.instanceId))
        this.log(`[host] ${instance.name} ${instance.instanceId} not picked up: ${verdict.message}`);
      this.rejected.add(instance.instanceId);
      return false;
    }
    const failure = verdict.fail;
    this.store.transaction(() => {
      instance.history = [...instance.history, ...instance.inbox].map((event) => ({
        ...event,
        IsPlayed: true,
      }));
      instance.inbox = [];
      instance.lastUpdatedTime = this.nowIso();
      this.failExecution(instance, failure);
      this.persist(instance);
    });
    return false;
  }

  private async runEpisode(instance: InstanceRecord): Promise<void> {
    const newEvents = instance.inbox;
    instance.inbox = [];
    this.runningEpisodes.set(instance.instanceId, newEvents);
    try {
      await this.executeEpisode(instance, newEvents);
    } catch (thrown) {
      // A fault of the host itself (e.g. the store): fail the instance rather than loop on it.
      const message = `Local host error: ${toError(thrown).message}`;
      this.log(`[host] episode of ${instance.instanceId} failed: ${message}`);
      this.store.transaction(() => {
        this.failExecution(instance, { Reason: message, Details: JSON.stringify({ message }) });
        this.persist(instance);
      });
    } finally {
      this.runningEpisodes.delete(instance.instanceId);
      if (instance.inbox.length > 0) this.episodeRequests.add(instance.instanceId);
    }
  }

  private async executeEpisode(instance: InstanceRecord, newEvents: HistoryEvent[]): Promise<void> {
    const fn = this.orchestrator(instance.name);
    const now = this.clock.now();
    const started: HistoryEvent = {
      ...this.event(EventType.OrchestratorStarted),
      Timestamp: new Date(now).toISOString(),
    };
    const past = instance.history.map((event) => ({ ...event, IsPlayed: true }));
    const history: HistoryEvent[] = [
      ...past,
      started,
      ...newEvents.map((event) => ({ ...event, IsPlayed: false })),
    ];
    const executionStarted = history.find((event) => event.EventType === EventType.ExecutionStarted);
    const input: unknown =
      typeof executionStarted?.Input === 'string' ? JSON.parse(executionStarted.Input) : undefined;
    const trigger = {
      // A copy, as the worker deserializes one: the library rewrites every Timestamp into a Date
      // in place (Utils.parseTimestampsAsDates), which must not reach our stored history.
      history: structuredClone(history),
      input,
      instanceId: instance.instanceId,
      isReplaying: past.length > 0,
      parentInstanceId: instance.parent?.instanceId,
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      upperSchemaVersionNew: UPPER_SCHEMA_VERSION,
      longRunningTimerIntervalDuration: LONG_RUNNING_TIMER_INTERVAL,
      maximumShortTimerDuration: MAXIMUM_SHORT_TIMER_DURATION,
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: instance.name,
      options: { trigger: fn.trigger as never },
      logHandler: (level, ...args) =>
        this.log(`[${instance.name} ${instance.instanceId}] ${level}: ${args.map(String).join(' ')}`),
    });

    const cpuBefore = process.cpuUsage();
    let state: OrchestratorState;
    try {
      state = (await fn.handler(trigger, context)) as OrchestratorState;
    } catch (thrown) {
      state = parseOrchestratorFailure(toError(thrown));
    }
    const cpu = process.cpuUsage(cpuBefore);
    this.stats.episodes += 1;
    this.stats.replayCpuMs += (cpu.user + cpu.system) / 1000;
    const byName = this.stats.replayByOrchestration.get(instance.name) ?? { episodes: 0, cpuMs: 0 };
    byName.episodes += 1;
    byName.cpuMs += (cpu.user + cpu.system) / 1000;
    this.stats.replayByOrchestration.set(instance.name, byName);

    const actions = state.actions?.[0] ?? [];
    const signatures = actions.map(actionSignature);
    const divergence = findDivergence(instance.lastActions, signatures);

    // The episode commits: from here on its events live in history, not in the stored inbox.
    this.runningEpisodes.delete(instance.instanceId);
    let continuedAsNew = false;
    this.store.transaction(() => {
      instance.history = history.map((event) => ({ ...event, IsPlayed: true }));
      instance.customStatus = state.customStatus;
      instance.lastUpdatedTime = new Date(now).toISOString();
      if (instance.runtimeStatus === 'Pending') instance.runtimeStatus = 'Running';

      if (divergence !== undefined) {
        const reason = `Non-deterministic workflow detected: ${divergence}`;
        this.failExecution(instance, { Reason: reason, Details: JSON.stringify({ message: reason }) });
      } else {
        instance.lastActions = signatures;
        const walk = new ActionWalker(this, instance, now);
        let walkFailure: string | undefined;
        try {
          walk.run(actions);
        } catch (thrown) {
          walkFailure =
            thrown instanceof NonDeterminismError
              ? `Non-deterministic workflow detected: ${thrown.message}`
              : `The local host could not execute the orchestrator's actions: ${toError(thrown).message}`;
        }
        if (walkFailure !== undefined) {
          this.failExecution(instance, {
            Reason: walkFailure,
            Details: JSON.stringify({ message: walkFailure }),
          });
        } else if (state.error !== undefined) {
          this.failExecution(instance, orchestratorFailure(instance.name, state.error, state.failureDetails));
        } else if (walk.continueAsNew !== undefined) {
          this.continueAsNew(instance, walk.continueAsNew.input);
          continuedAsNew = true;
        } else if (state.isDone) {
          this.completeExecution(instance, 'Completed', state.output);
        }
      }
      if (!continuedAsNew) instance.history.push(this.event(EventType.OrchestratorCompleted));
      this.persist(instance);
    });
    const received = newEvents.map((event) => EventTypeName[event.EventType] ?? event.EventType).join(', ');
    const outcome = continuedAsNew
      ? 'continued as new'
      : TERMINAL.includes(instance.runtimeStatus)
        ? instance.runtimeStatus
        : `waiting (${actions.length} actions)`;
    this.log(`[host] episode ${instance.name} ${instance.instanceId} [${received}] → ${outcome}`);
    this.stats.activityExecutions.set('$episodes', this.stats.episodes);
  }

  private completeExecution(instance: InstanceRecord, status: 'Completed', output: unknown): void {
    instance.history.push({
      ...this.event(EventType.ExecutionCompleted),
      OrchestrationStatus: status,
      Result: output === undefined ? undefined : JSON.stringify(output),
    });
    instance.runtimeStatus = status;
    instance.output = output;
    this.dropWorkOf(instance.instanceId);
    this.notifyParent(instance, true, output);
    this.log(`[host] ${instance.name} ${instance.instanceId} ${status}`);
  }

  /**
   * DurableTask.Core's FailOrchestration: the Reason becomes the instance's output (what status
   * queries show) and, with Details and FailureDetails, the parent's SubOrchestrationInstanceFailed.
   */
  private failExecution(instance: InstanceRecord, failure: FailureFields): void {
    instance.history.push({
      ...this.event(EventType.ExecutionCompleted),
      OrchestrationStatus: 'Failed',
      // DTFx stores the reason itself (not JSON) as the failed execution's result.
      Result: failure.Reason,
      ...(failure.FailureDetails ? { FailureDetails: failure.FailureDetails } : {}),
    });
    instance.runtimeStatus = 'Failed';
    instance.output = failure.Reason;
    this.dropWorkOf(instance.instanceId);
    this.notifyParent(instance, false, failure);
    this.log(`[host] ${instance.name} ${instance.instanceId} Failed: ${failure.Reason}`);
  }

  private continueAsNew(instance: InstanceRecord, input: unknown): void {
    this.dropWorkOf(instance.instanceId);
    instance.executionId = randomUUID();
    instance.input = input === undefined ? undefined : JSON.stringify(input);
    const carried = instance.inbox.filter((event) => event.EventType === EventType.EventRaised);
    for (const listener of this.historyRetiredListeners) listener(instance.instanceId, instance.history);
    instance.history = [];
    instance.lastActions = [];
    instance.inbox = [this.executionStarted(instance), ...carried];
    this.episodeRequests.add(instance.instanceId);
  }

  private notifyParent(child: InstanceRecord, succeeded: true, output: unknown): void;
  private notifyParent(child: InstanceRecord, succeeded: false, failure: FailureFields): void;
  private notifyParent(child: InstanceRecord, succeeded: boolean, outcome: unknown): void {
    if (child.parent === undefined) return;
    const parent = this.instances.get(child.parent.instanceId);
    if (
      parent === undefined ||
      parent.executionId !== child.parent.executionId ||
      TERMINAL.includes(parent.runtimeStatus)
    )
      return;
    parent.inbox.push(
      succeeded
        ? {
            ...this.event(EventType.SubOrchestrationInstanceCompleted),
            TaskScheduledId: child.parent.taskScheduledId,
            Result: JSON.stringify(outcome ?? null),
          }
        : {
            ...this.event(EventType.SubOrchestrationInstanceFailed),
            TaskScheduledId: child.parent.taskScheduledId,
            ...(outcome as FailureFields),
          },
    );
    this.persist(parent);
    this.episodeRequests.add(parent.instanceId);
  }

  // ------------------------------------------------------------------ used by ActionWalker

  /** @internal */ scheduleActivity(
    instance: InstanceRecord,
    id: number,
    name: string,
    input: string | undefined,
  ): void {
    const work: ActivityWork = {
      workId: `${instance.instanceId}|${instance.executionId}|${id}`,
      instanceId: instance.instanceId,
      executionId: instance.executionId,
      taskScheduledId: id,
      name,
      input,
    };
    this.pendingActivities.set(work.workId, work);
    this.store.putActivity(work);
  }

  /** @internal */ scheduleTimer(instance: InstanceRecord, id: number, fireAt: number): void {
    const timer: TimerEntry = {
      timerKey: `${instance.instanceId}|${instance.executionId}|${id}`,
      instanceId: instance.instanceId,
      executionId: instance.executionId,
      timerId: id,
      fireAt,
      canceled: false,
    };
    this.timers.set(timer.timerKey, timer);
    this.store.putTimer(timer);
  }

  /** @internal */ startSubOrchestration(
    parent: InstanceRecord,
    id: number,
    name: string,
    instanceId: string,
    input: string | undefined,
    version: string | undefined,
  ): void {
    this.orchestrator(name);
    const existing = this.instances.get(instanceId);
    if (existing !== undefined && !TERMINAL.includes(existing.runtimeStatus)) return;
    const child = this.newInstance(
      name,
      instanceId,
      input,
      { instanceId: parent.instanceId, taskScheduledId: id, executionId: parent.executionId },
      version,
    );
    this.persist(child);
    this.episodeRequests.add(instanceId);
  }

  /** @internal */ subOrchestrationVersion(requested: string | undefined): string | undefined {
    return requested || this.versioning.defaultVersion;
  }

  /** @internal */ event(type: number, eventId = -1): HistoryEvent {
    return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: this.nowIso() };
  }

  // ------------------------------------------------------------------ helpers

  private orchestrator(name: string): CapturedFunction {
    const fn = this.registry.functions.get(name);
    if (fn === undefined || fn.triggerType !== 'orchestrationTrigger') {
      throw new FactoryError(
        'OrchestratorNotFound',
        `The function '${name}' doesn't exist or is not an orchestrator function.`,
      );
    }
    return fn;
  }

  private newInstance(
    name: string,
    instanceId: string,
    input: string | undefined,
    parent?: InstanceRecord['parent'],
    version?: string,
  ): InstanceRecord {
    // Docs: new orchestrations and sub-orchestrations get defaultVersion unless the caller names one.
    const stamped = version ?? this.versioning.defaultVersion;
    const now = this.nowIso();
    const record: InstanceRecord = {
      instanceId,
      name,
      executionId: randomUUID(),
      runtimeStatus: 'Pending',
      input,
      output: undefined,
      customStatus: undefined,
      createdTime: now,
      lastUpdatedTime: now,
      ...(parent === undefined ? {} : { parent }),
      ...(stamped === undefined ? {} : { version: stamped }),
      history: [],
      inbox: [],
      lastActions: [],
    };
    record.inbox.push(this.executionStarted(record));
    this.instances.set(instanceId, record);
    return record;
  }

  private executionStarted(instance: InstanceRecord): HistoryEvent {
    return {
      ...this.event(EventType.ExecutionStarted),
      Name: instance.name,
      Input: instance.input,
      OrchestrationInstance: { InstanceId: instance.instanceId, ExecutionId: instance.executionId },
      // durable-functions reads context.df.version from here (extractVersionFromHistory).
      ...(instance.version === undefined ? {} : { Version: instance.version }),
      ...(instance.parent === undefined
        ? {}
        : { ParentInstance: { OrchestrationInstance: { InstanceId: instance.parent.instanceId } } }),
    };
  }

  private deliver(instance: InstanceRecord, event: HistoryEvent): void {
    this.store.transaction(() => {
      instance.inbox.push(event);
      this.persist(instance);
    });
    this.requestEpisode(instance.instanceId);
  }

  private persist(instance: InstanceRecord): void {
    const inFlight = this.runningEpisodes.get(instance.instanceId);
    // While an episode runs, the events it consumed stay in the stored inbox until it commits.
    this.store.putInstance(
      inFlight && inFlight.length > 0 ? { ...instance, inbox: [...inFlight, ...instance.inbox] } : instance,
    );
  }

  private dropWorkOf(instanceId: string): void {
    for (const [key, work] of this.pendingActivities)
      if (work.instanceId === instanceId) {
        this.pendingActivities.delete(key);
        this.store.deleteActivity(key);
      }
    for (const [key, timer] of this.timers)
      if (timer.instanceId === instanceId) {
        this.timers.delete(key);
        this.store.deleteTimer(key);
      }
  }

  /** @internal */ newRequestId(): string {
    return randomUUID();
  }

  /** @internal */ cancelTimer(instance: InstanceRecord, id: number): void {
    const timer = this.timers.get(`${instance.instanceId}|${instance.executionId}|${id}`);
    if (timer) timer.canceled = true;
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private toStatus(
    instance: InstanceRecord,
    options: { showHistory?: boolean; showInput?: boolean },
  ): InstanceStatus {
    return {
      name: instance.name,
      instanceId: instance.instanceId,
      runtimeStatus: instance.runtimeStatus,
      input: options.showInput === false || instance.input === undefined ? null : JSON.parse(instance.input),
      output: instance.output ?? null,
      customStatus: instance.customStatus ?? null,
      createdTime: instance.createdTime,
      lastUpdatedTime: instance.lastUpdatedTime,
      ...(options.showHistory ? { history: instance.history.map(describeEvent) } : {}),
    };
  }
}

/**
 * Walks the orchestrator's action list the way DurableTask.Core replays the out-of-proc shim's
 * actions: in order, allocating sequence ids, matching them with history, scheduling what is new,
 * and stopping at the first top-level action the host still has to wait for.
 */
class ActionWalker {
  /** Set by a ContinueAsNew action; `input` as the library sent it (a string input is JSON-encoded once more). */
  continueAsNew: { input: unknown } | undefined = undefined;
  private nextId = 0;
  private readonly scheduled = new Map<number, HistoryEvent>();
  private readonly completions = new Map<number, HistoryEvent>();
  private readonly raisedCounts = new Map<string, number>();
  private readonly waitCounts = new Map<string, number>();

  constructor(
    private readonly engine: DurableEngine,
    private readonly instance: InstanceRecord,
    private readonly now: number,
  ) {
    for (const event of instance.history) {
      switch (event.EventType) {
        case EventType.TaskScheduled:
        case EventType.TimerCreated:
        case EventType.SubOrchestrationInstanceCreated:
        case EventType.EventSent:
          this.scheduled.set(event.EventId, event);
          break;
        case EventType.TaskCompleted:
        case EventType.TaskFailed:
        case EventType.SubOrchestrationInstanceCompleted:
        case EventType.SubOrchestrationInstanceFailed:
          this.completions.set(Number(event.TaskScheduledId), event);
          break;
        case EventType.TimerFired:
          this.completions.set(Number(event.TimerId), event);
          break;
        case EventType.EventRaised:
          this.raisedCounts.set(String(event.Name), (this.raisedCounts.get(String(event.Name)) ?? 0) + 1);
          break;
        default:
      }
    }
  }

  run(actions: OrchestratorAction[]): void {
    actions.forEach((action, index) => {
      if (this.stopped) return;
      const isLast = index === actions.length - 1;
      const complete = this.process(action);
      // The shim awaits each top-level action; the library only moves past an action once it has
      // its result, except Task.all, which fails fast while the host's WhenAll waits for every child.
      if (!complete && !isLast && action.actionType === ActionType.WhenAll) this.stopped = true;
    });
  }

  private stopped = false;

  private process(action: OrchestratorAction): boolean {
    switch (action.actionType) {
      case ActionType.CallActivity:
        return this.activity(action);
      case ActionType.CallActivityWithRetry:
        return this.withRetry(action, () => this.activity(action));
      case ActionType.CallSubOrchestrator:
        return this.subOrchestration(action);
      case ActionType.CallSubOrchestratorWithRetry:
        return this.withRetry(action, () => this.subOrchestration(action));
      case ActionType.CreateTimer:
        return this.timer(action);
      case ActionType.WaitForExternalEvent: {
        const name = action.externalEventName ?? '';
        const waits = (this.waitCounts.get(name) ?? 0) + 1;
        this.waitCounts.set(name, waits);
        return (this.raisedCounts.get(name) ?? 0) >= waits;
      }
      case ActionType.ContinueAsNew:
        this.continueAsNew = { input: action.input };
        return true;
      case ActionType.CallEntity:
        return this.entityMessage(action, false);
      case ActionType.SignalEntity:
        return this.entityMessage(action, true);
      case ActionType.WhenAll:
        return (action.compoundActions ?? []).map((child) => this.process(child)).every(Boolean);
      case ActionType.WhenAny:
        return (action.compoundActions ?? []).map((child) => this.process(child)).some(Boolean);
      default:
        throw new FactoryError(
          'UnsupportedAction',
          `The local host does not support ${ActionTypeName[action.actionType] ?? action.actionType} actions.`,
        );
    }
  }

  private activity(action: OrchestratorAction): boolean {
    const id = this.nextId++;
    const name = action.functionName ?? '';
    const existing = this.scheduled.get(id);
    if (existing === undefined) {
      const input = action.input === undefined ? undefined : JSON.stringify(action.input);
      this.append({ ...this.engine.event(EventType.TaskScheduled, id), Name: name, Input: input });
      this.engine.scheduleActivity(this.instance, id, name, input);
      return false;
    }
    this.expect(existing, EventType.TaskScheduled, name, action);
    return this.completions.has(id);
  }

  /**
   * callEntity / signalEntity: an EventSent (name "op", the RequestMessage as Input) takes the next
   * sequence id; a call completes when the entity's answer arrives as an EventRaised named by the
   * request id (the library re-keys the task by that id when it replays the EventSent).
   */
  private entityMessage(action: OrchestratorAction, signal: boolean): boolean {
    const id = this.nextId++;
    const target = action.instanceId ?? '';
    const existing = this.scheduled.get(id);
    if (existing === undefined) {
      const request: EntityRequest = {
        id: this.engine.newRequestId(),
        op: action.operation ?? '',
        signal,
        ...(action.input === undefined ? {} : { input: JSON.stringify(action.input) }),
        parent: this.instance.instanceId,
        parentExecution: this.instance.executionId,
        timestamp: new Date(this.now).toISOString(),
      };
      this.append({
        ...this.engine.event(EventType.EventSent, id),
        InstanceId: target,
        Name: 'op',
        Input: JSON.stringify(request),
      });
      this.engine.sendToEntity(target, request);
      return signal;
    }
    if (existing.EventType !== EventType.EventSent || existing.InstanceId !== target) {
      const was = `${EventTypeName[existing.EventType] ?? existing.EventType}(${JSON.stringify(existing.InstanceId ?? existing.Name ?? '')})`;
      throw new NonDeterminismError(
        `history has ${was} with sequence id ${existing.EventId}, but the replay produced ${actionSignature(action)} for it`,
      );
    }
    if (signal) return true;
    const request = JSON.parse(String(existing.Input)) as EntityRequest;
    return (this.raisedCounts.get(request.id) ?? 0) > 0;
  }

  private subOrchestration(action: OrchestratorAction): boolean {
    const id = this.nextId++;
    const name = action.functionName ?? '';
    const existing = this.scheduled.get(id);
    if (existing === undefined) {
      const childId = action.instanceId || `${this.instance.instanceId}:${id}`;
      const input = action.input === undefined ? undefined : JSON.stringify(action.input);
      // callSubOrchestrator's `version` argument; without it the child gets host.json defaultVersion.
      const version = this.engine.subOrchestrationVersion(action.version);
      this.append({
        ...this.engine.event(EventType.SubOrchestrationInstanceCreated, id),
        Name: name,
        InstanceId: childId,
        Input: input,
        ...(version === undefined ? {} : { Version: version }),
      });
      this.engine.startSubOrchestration(this.instance, id, name, childId, input, version);
      return false;
    }
    this.expect(existing, EventType.SubOrchestrationInstanceCreated, name, action);
    return this.completions.has(id);
  }

  /** DurableTask.Core RetryInterceptor: attempt, and after every failure (the last included) a timer. */
  private withRetry(action: OrchestratorAction, attempt: () => boolean): boolean {
    const options = action.retryOptions as RetryOptionsWire;
    const firstAttemptId = this.nextId;
    for (let retryCount = 0; ; retryCount++) {
      const attemptId = this.nextId;
      if (!attempt()) return false;
      const outcome = this.completions.get(attemptId);
      if (
        outcome?.EventType === EventType.TaskCompleted ||
        outcome?.EventType === EventType.SubOrchestrationInstanceCompleted
      )
        return true;
      const timerId = this.nextId;
      const existingTimer = this.scheduled.get(timerId);
      if (existingTimer === undefined) {
        const firstAttemptAt = Date.parse(
          this.scheduled.get(firstAttemptId)?.Timestamp ?? new Date(this.now).toISOString(),
        );
        const timeout = options.retryTimeoutInMilliseconds ?? 0;
        // RetryInterceptor.ComputeNextDelay: past the retry timeout it stops without a timer, and the
        // library then waits forever (Azure/azure-functions-durable-js#629). We do the same.
        if (timeout > 0 && this.now - firstAttemptAt >= timeout) return false;
        const delay = Math.min(
          options.firstRetryIntervalInMilliseconds * Math.pow(options.backoffCoefficient ?? 1, retryCount),
          options.maxRetryIntervalInMilliseconds ?? Number.MAX_SAFE_INTEGER,
        );
        this.nextId++;
        this.append({
          ...this.engine.event(EventType.TimerCreated, timerId),
          FireAt: new Date(this.now + delay).toISOString(),
        });
        this.engine.scheduleTimer(this.instance, timerId, this.now + delay);
        return false;
      }
      this.nextId++;
      this.expect(existingTimer, EventType.TimerCreated, '', action);
      if (!this.completions.has(timerId)) return false;
      if (retryCount + 1 >= options.maxNumberOfAttempts) return true;
    }
  }

  /** A timer longer than maximumShortTimerDuration is a chain of shorter ones, as the extension does. */
  private timer(action: OrchestratorAction): boolean {
    const finalFireAt = new Date(action.fireAt ?? 0).getTime();
    const maxShort = timeSpanToMs(MAXIMUM_SHORT_TIMER_DURATION);
    const interval = timeSpanToMs(LONG_RUNNING_TIMER_INTERVAL);
    for (;;) {
      const id = this.nextId++;
      const existing = this.scheduled.get(id);
      if (existing === undefined) {
        const fireAt = finalFireAt - this.now > maxShort ? this.now + interval : finalFireAt;
        this.append({
          ...this.engine.event(EventType.TimerCreated, id),
          FireAt: new Date(fireAt).toISOString(),
        });
        if (!action.isCanceled) this.engine.scheduleTimer(this.instance, id, fireAt);
        return false;
      }
      this.expect(existing, EventType.TimerCreated, '', action);
      if (action.isCanceled) this.engine.cancelTimer(this.instance, id);
      if (!this.completions.has(id)) return false;
      if (Date.parse(String(existing.FireAt)) >= finalFireAt) return true;
    }
  }

  private expect(existing: HistoryEvent, type: number, name: string, action: OrchestratorAction): void {
    if (existing.EventType === type && (name === '' || existing.Name === name)) return;
    const was = `${EventTypeName[existing.EventType] ?? existing.EventType}${typeof existing.Name === 'string' ? `(${existing.Name})` : ''}`;
    throw new NonDeterminismError(
      `history has ${was} with sequence id ${existing.EventId}, but the replay produced ${actionSignature(action)} for it`,
    );
  }

  private append(event: HistoryEvent): void {
    this.instance.history.push(event);
    this.scheduled.set(event.EventId, event);
  }
}

function findDivergence(previous: string[], current: string[]): string | undefined {
  for (let i = 0; i < previous.length; i++) {
    if (previous[i] !== current[i]) {
      return `action #${i} was ${previous[i]} in the previous episode, but the replay produced ${current[i] ?? 'no action'}`;
    }
  }
  return undefined;
}

function parseOrchestratorFailure(error: Error): OrchestratorState {
  const at = error.message.indexOf(OUT_OF_PROC_MARKER);
  if (at >= 0) {
    const state = JSON.parse(error.message.slice(at + OUT_OF_PROC_MARKER.length)) as OrchestratorState;
    return { ...state, error: state.error ?? 'Orchestrator failed' };
  }
  return { isDone: false, actions: [[]], output: undefined, error: error.message };
}

function describeEvent(event: HistoryEvent): Record<string, unknown> {
  const { EventType: type, IsPlayed: _played, ...rest } = event;
  return { EventType: EventTypeName[type] ?? type, ...rest };
}
