/**
 * The replay driver: one orchestration episode through the real durable-functions replay engine
 * (the trigger input as the extension sends it, the captured orchestrator handler, the returned
 * actions walked by action-walker.ts), the version check before it, and how an execution ends
 * (completed, failed, continued as new, the parent told). Persistence is store.ts, the pump
 * scheduler.ts.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { toError } from '../../shared/errors';
import {
  EventType,
  EventTypeName,
  actionSignature,
  type HistoryEvent,
  type OrchestratorAction,
} from './history';
import type { InstanceRecord } from './store';
import { orchestratorFailure, type FailureFields } from './failures';
import { versionVerdict } from './versioning';
import { outOfProcState } from './out-of-proc-state';
import type { DurableEngine } from './engine';
import { TERMINAL } from './contracts';
import {
  ActionWalker,
  NonDeterminismError,
  LONG_RUNNING_TIMER_INTERVAL,
  MAXIMUM_SHORT_TIMER_DURATION,
} from './action-walker';

/**
 * What the extension sends as its newest replay schema: the newest the installed library knows
 * (`LatestReplaySchema`, V4 = 3 in durable-functions 3.5.0), read from the library itself.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const replaySchema = require('durable-functions/lib/src/orchestrations/ReplaySchema') as {
  LatestReplaySchema?: number;
};
const UPPER_SCHEMA_VERSION = replaySchema.LatestReplaySchema ?? 3;

interface OrchestratorState {
  isDone: boolean;
  actions: OrchestratorAction[][];
  output: unknown;
  error?: string;
  customStatus?: unknown;
  /** Set by the library when the uncaught error was a TaskFailedError (toFailureDetailsPayload). */
  failureDetails?: unknown;
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
  const state = outOfProcState<OrchestratorState>(error.message);
  if (state !== undefined) return { ...state, error: state.error ?? 'Orchestrator failed' };
  return { isDone: false, actions: [[]], output: undefined, error: error.message };
}

/**
 * The worker's version check before an orchestration work item runs. Reject: the instance keeps
 * its state and inbox (Pending stays Pending) for a compatible worker, e.g. this database opened
 * by a newer app; Fail: the instance fails with the SDKs' VersionMismatch details.
 */
export function mayRun(engine: DurableEngine, instance: InstanceRecord): boolean {
  const verdict = versionVerdict(engine.versioning, instance.version);
  if (verdict.run) return true;
  if (verdict.fail === undefined) {
    if (!engine.rejected.has(instance.instanceId))
      engine.log(`[host] ${instance.name} ${instance.instanceId} not picked up: ${verdict.message}`);
    engine.rejected.add(instance.instanceId);
    return false;
  }
  const failure = verdict.fail;
  engine.store.transaction(() => {
    instance.history = [...instance.history, ...instance.inbox].map((event) => ({
      ...event,
      IsPlayed: true,
    }));
    instance.inbox = [];
    instance.lastUpdatedTime = engine.nowIso();
    failExecution(engine, instance, failure);
    engine.persist(instance);
  });
  return false;
}

export async function runEpisode(engine: DurableEngine, instance: InstanceRecord): Promise<void> {
  const newEvents = instance.inbox;
  instance.inbox = [];
  engine.runningEpisodes.set(instance.instanceId, newEvents);
  try {
    await executeEpisode(engine, instance, newEvents);
  } catch (thrown) {
    // A fault of the host itself (e.g. the store): fail the instance rather than loop on it.
    const message = `Local host error: ${toError(thrown).message}`;
    engine.log(`[host] episode of ${instance.instanceId} failed: ${message}`);
    engine.store.transaction(() => {
      failExecution(engine, instance, { Reason: message, Details: JSON.stringify({ message }) });
      engine.persist(instance);
    });
  } finally {
    engine.runningEpisodes.delete(instance.instanceId);
    if (instance.inbox.length > 0) engine.episodeRequests.add(instance.instanceId);
  }
}

export async function executeEpisode(
  engine: DurableEngine,
  instance: InstanceRecord,
  newEvents: HistoryEvent[],
): Promise<void> {
  const fn = engine.orchestrator(instance.name);
  const now = engine.clock.now();
  const started: HistoryEvent = {
    ...engine.event(EventType.OrchestratorStarted),
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
      engine.log(`[${instance.name} ${instance.instanceId}] ${level}: ${args.map(String).join(' ')}`),
  });

  const recorder = engine.episodeRecorder;
  // Before the call: the library turns the history's timestamps into Dates in place.
  const triggerJson = recorder === undefined ? '' : JSON.stringify(trigger);
  const cpuBefore = process.cpuUsage();
  let state: OrchestratorState;
  try {
    state = (await fn.handler(trigger, context)) as OrchestratorState;
  } catch (thrown) {
    state = parseOrchestratorFailure(toError(thrown));
  }
  const cpu = process.cpuUsage(cpuBefore);
  recorder?.({
    orchestration: instance.name,
    triggerJson,
    actionsJson: JSON.stringify(state.actions ?? null),
  });
  engine.stats.episodes += 1;
  engine.stats.replayCpuMs += (cpu.user + cpu.system) / 1000;
  engine.stats.replayedEvents += history.length;
  const byName = engine.stats.replayByOrchestration.get(instance.name) ?? {
    episodes: 0,
    cpuMs: 0,
    events: 0,
  };
  byName.episodes += 1;
  byName.cpuMs += (cpu.user + cpu.system) / 1000;
  byName.events += history.length;
  engine.stats.replayByOrchestration.set(instance.name, byName);

  const actions = state.actions?.[0] ?? [];
  const signatures = actions.map(actionSignature);
  const divergence = findDivergence(instance.lastActions, signatures);

  // The episode commits: from here on its events live in history, not in the stored inbox.
  engine.runningEpisodes.delete(instance.instanceId);
  let continuedAsNew = false;
  engine.store.transaction(() => {
    instance.history = history.map((event) => ({ ...event, IsPlayed: true }));
    instance.customStatus = state.customStatus;
    instance.lastUpdatedTime = new Date(now).toISOString();
    if (instance.runtimeStatus === 'Pending') instance.runtimeStatus = 'Running';

    if (divergence !== undefined) {
      const reason = `Non-deterministic workflow detected: ${divergence}`;
      failExecution(engine, instance, { Reason: reason, Details: JSON.stringify({ message: reason }) });
    } else {
      instance.lastActions = signatures;
      const walk = new ActionWalker(engine, instance, now);
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
        failExecution(engine, instance, {
          Reason: walkFailure,
          Details: JSON.stringify({ message: walkFailure }),
        });
      } else if (state.error !== undefined) {
        failExecution(
          engine,
          instance,
          orchestratorFailure(instance.name, state.error, state.failureDetails),
        );
      } else if (walk.continueAsNew !== undefined) {
        continueAsNew(engine, instance, walk.continueAsNew.input);
        continuedAsNew = true;
      } else if (state.isDone) {
        completeExecution(engine, instance, 'Completed', state.output);
      }
    }
    if (!continuedAsNew) instance.history.push(engine.event(EventType.OrchestratorCompleted));
    engine.persist(instance);
  });
  const received = newEvents.map((event) => EventTypeName[event.EventType] ?? event.EventType).join(', ');
  const outcome = continuedAsNew
    ? 'continued as new'
    : TERMINAL.includes(instance.runtimeStatus)
      ? instance.runtimeStatus
      : `waiting (${actions.length} actions)`;
  engine.log(`[host] episode ${instance.name} ${instance.instanceId} [${received}] → ${outcome}`);
  engine.stats.activityExecutions.set('$episodes', engine.stats.episodes);
}

export function completeExecution(
  engine: DurableEngine,
  instance: InstanceRecord,
  status: 'Completed',
  output: unknown,
): void {
  instance.history.push({
    ...engine.event(EventType.ExecutionCompleted),
    OrchestrationStatus: status,
    Result: output === undefined ? undefined : JSON.stringify(output),
  });
  instance.runtimeStatus = status;
  instance.output = output;
  engine.dropWorkOf(instance.instanceId);
  notifyParent(engine, instance, true, output);
  engine.log(`[host] ${instance.name} ${instance.instanceId} ${status}`);
}

/**
 * DurableTask.Core's FailOrchestration: the Reason becomes the instance's output (what status
 * queries show) and, with Details and FailureDetails, the parent's SubOrchestrationInstanceFailed.
 */
export function failExecution(engine: DurableEngine, instance: InstanceRecord, failure: FailureFields): void {
  instance.history.push({
    ...engine.event(EventType.ExecutionCompleted),
    OrchestrationStatus: 'Failed',
    // DTFx stores the reason itself (not JSON) as the failed execution's result.
    Result: failure.Reason,
    ...(failure.FailureDetails ? { FailureDetails: failure.FailureDetails } : {}),
  });
  instance.runtimeStatus = 'Failed';
  instance.output = failure.Reason;
  engine.dropWorkOf(instance.instanceId);
  notifyParent(engine, instance, false, failure);
  engine.log(`[host] ${instance.name} ${instance.instanceId} Failed: ${failure.Reason}`);
}

export function continueAsNew(engine: DurableEngine, instance: InstanceRecord, input: unknown): void {
  engine.dropWorkOf(instance.instanceId);
  instance.executionId = randomUUID();
  instance.input = input === undefined ? undefined : JSON.stringify(input);
  const carried = instance.inbox.filter((event) => event.EventType === EventType.EventRaised);
  for (const listener of engine.historyRetiredListeners) listener(instance.instanceId, instance.history);
  instance.history = [];
  instance.lastActions = [];
  instance.inbox = [engine.executionStarted(instance), ...carried];
  engine.episodeRequests.add(instance.instanceId);
}

export function notifyParent(
  engine: DurableEngine,
  child: InstanceRecord,
  succeeded: true,
  output: unknown,
): void;
export function notifyParent(
  engine: DurableEngine,
  child: InstanceRecord,
  succeeded: false,
  failure: FailureFields,
): void;
export function notifyParent(
  engine: DurableEngine,
  child: InstanceRecord,
  succeeded: boolean,
  outcome: unknown,
): void {
  if (child.parent === undefined) return;
  const parent = engine.instances.get(child.parent.instanceId);
  if (
    parent === undefined ||
    parent.executionId !== child.parent.executionId ||
    TERMINAL.includes(parent.runtimeStatus)
  )
    return;
  parent.inbox.push(
    succeeded
      ? {
          ...engine.event(EventType.SubOrchestrationInstanceCompleted),
          TaskScheduledId: child.parent.taskScheduledId,
          Result: JSON.stringify(outcome ?? null),
        }
      : {
          ...engine.event(EventType.SubOrchestrationInstanceFailed),
          TaskScheduledId: child.parent.taskScheduledId,
          ...(outcome as FailureFields),
        },
  );
  engine.persist(parent);
  engine.episodeRequests.add(parent.instanceId);
}
