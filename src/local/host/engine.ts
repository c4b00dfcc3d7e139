/**
 * The local stand-in for the Durable Task extension: runs orchestration episodes through the real
 * durable-functions replay engine (the captured orchestrator handlers), executes the actions they
 * return with DurableTask.Core's semantics, runs activities, fires timers and persists everything
 * in SQLite. See README.md next to this file for what it verifies and where it differs.
 * This file owns the engine's state and its public API (OrchestrationEngine, stats, timers, entity
 * signals) and the bookkeeping every part shares (new instances, delivering events, persisting an
 * instance, dropping an ended execution's work). The parts, each a module over this state:
 * replay.ts (the replay driver: episodes and how an execution ends), action-walker.ts (the
 * actions an episode returns), scheduler.ts (the pump, concurrency, idleness, durable timers),
 * activities.ts, entities.ts; persistence is store.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../shared/clock';
import { FactoryError, toError } from '../../shared/errors';
import type {
  CapturedFunction,
  FunctionRegistry,
  InstanceStatus,
  ListFilter,
  OrchestrationEngine,
} from './contracts';
import {
  EventType,
  EventTypeName,
  entitySchedulerId,
  type EntityRequest,
  type HistoryEvent,
} from './history';
import type { ActivityWork, EntityRecord, HostStore, InstanceRecord, TimerWork } from './store';
import { NO_VERSIONING, type VersioningSettings } from './versioning';
import { TERMINAL } from './contracts';
import { sendToEntity } from './entities';
import { notifyParent } from './replay';
import { fireDueTimers, isIdle, nextTimerDue, pump, requestEpisode } from './scheduler';

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

export interface EngineStats {
  episodes: number;
  /** CPU time spent inside orchestrator handlers (replay), ms. */
  replayCpuMs: number;
  /**
   * History events handed to the replay engine, summed over episodes (each episode replays its whole
   * history): the machine-independent measure of replay work beside the CPU time.
   */
  replayedEvents: number;
  /** The same per orchestrator function name, with its episodes: where replay time goes. */
  replayByOrchestration: Map<string, { episodes: number; cpuMs: number; events: number }>;
  activityExecutions: Map<string, number>;
  /** Most episodes / activities ever in flight at once (host.json concurrency limits). */
  peakConcurrentEpisodes: number;
  peakConcurrentActivities: number;
  /** Each activity run with its start and end on the host's clock (virtual in tests). */
  activityRuns: { name: string; startedAt: number; endedAt: number }[];
}

/**
 * One episode as the worker received it and what it answered (for a replay of the same episodes in
 * another process: bench P1 "worker-like process"). Recorded only while `episodeRecorder` is set.
 */
export interface RecordedEpisode {
  orchestration: string;
  /** The trigger input as JSON, as a worker receives it (the history before the library parses it). */
  triggerJson: string;
  /** The actions the orchestrator answered, as JSON: a replay elsewhere must answer the same. */
  actionsJson: string;
}

export interface TimerEntry extends TimerWork {
  canceled: boolean;
}

/**
 * Its members are shared with the engine's own modules (replay.ts, scheduler.ts, activities.ts,
 * entities.ts, action-walker.ts): only the OrchestrationEngine API and stats are for other code.
 */
export class DurableEngine implements OrchestrationEngine {
  readonly clock: Clock;
  readonly stats: EngineStats = {
    episodes: 0,
    replayCpuMs: 0,
    replayedEvents: 0,
    replayByOrchestration: new Map(),
    activityExecutions: new Map(),
    peakConcurrentEpisodes: 0,
    peakConcurrentActivities: 0,
    activityRuns: [],
  };
  readonly registry: FunctionRegistry;
  readonly store: HostStore;
  readonly log: (line: string) => void;
  readonly maxConcurrentActivities: number;
  readonly maxConcurrentOrchestrations: number;
  readonly functionTimeoutMs: number | undefined;
  readonly realTimers: boolean;
  readonly versioning: VersioningSettings;
  /** When set, every episode is handed to it (see RecordedEpisode); its cost is outside replay CPU. */
  episodeRecorder: ((episode: RecordedEpisode) => void) | undefined = undefined;
  /** Instances this worker refused (versionFailureStrategy Reject), each logged once. */
  readonly rejected = new Set<string>();

  readonly instances = new Map<string, InstanceRecord>();
  readonly pendingActivities = new Map<string, ActivityWork>();
  readonly runningActivities = new Set<string>();
  readonly timers = new Map<string, TimerEntry>();
  readonly runningEpisodes = new Map<string, HistoryEvent[]>();
  readonly entities = new Map<string, EntityRecord>();
  readonly runningEntities = new Set<string>();
  readonly episodeRequests = new Set<string>();
  idleWaiters: (() => void)[] = [];
  readonly historyRetiredListeners: ((instanceId: string, history: readonly HistoryEvent[]) => void)[] = [];
  pumpQueued = false;
  realTimer: NodeJS.Timeout | undefined;
  stopped = false;
  progressCounter = 0;

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
    pump(this);
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
    requestEpisode(this, instanceId);
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
      notifyParent(this, instance, false, {
        Reason: `Orchestrator function '${instance.name}' failed: Instance terminated: ${reason}`,
        Details: JSON.stringify({ message: `Instance terminated: ${reason}` }),
      });
    });
    this.log(`[host] terminated ${instance.name} ${instanceId}: ${reason}`);
    pump(this);
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
    pump(this);
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
    if (isIdle(this)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A counter that moves whenever an episode or activity ran or an event arrived. */
  progress(): number {
    return this.progressCounter;
  }

  /** Earliest pending durable timer (clock ms), if any. */
  nextTimerDue(): number | undefined {
    return nextTimerDue(this);
  }

  /** Fires every timer due at `now`; the host calls this after moving a virtual clock. */
  fireDueTimers(now: number = this.clock.now()): number {
    return fireDueTimers(this, now);
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

  /** @internal Queues an operation for an entity (inside the caller's transaction). */
  sendToEntity(schedulerId: string, request: EntityRequest): void {
    sendToEntity(this, schedulerId, request);
  }

  // ------------------------------------------------------------------ used by ActionWalker and the modules

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

  orchestrator(name: string): CapturedFunction {
    const fn = this.registry.functions.get(name);
    if (fn === undefined || fn.triggerType !== 'orchestrationTrigger') {
      throw new FactoryError(
        'OrchestratorNotFound',
        `The function '${name}' doesn't exist or is not an orchestrator function.`,
      );
    }
    return fn;
  }

  newInstance(
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

  executionStarted(instance: InstanceRecord): HistoryEvent {
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

  deliver(instance: InstanceRecord, event: HistoryEvent): void {
    this.store.transaction(() => {
      instance.inbox.push(event);
      this.persist(instance);
    });
    requestEpisode(this, instance.instanceId);
  }

  persist(instance: InstanceRecord): void {
    const inFlight = this.runningEpisodes.get(instance.instanceId);
    // While an episode runs, the events it consumed stay in the stored inbox until it commits.
    this.store.putInstance(
      inFlight && inFlight.length > 0 ? { ...instance, inbox: [...inFlight, ...instance.inbox] } : instance,
    );
  }

  dropWorkOf(instanceId: string): void {
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

  nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  toStatus(
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

function describeEvent(event: HistoryEvent): Record<string, unknown> {
  const { EventType: type, IsPlayed: _played, ...rest } = event;
  return { EventType: EventTypeName[type] ?? type, ...rest };
}
