/**
 * Walks the actions an orchestrator episode returned the way DurableTask.Core replays the
 * out-of-proc shim's actions (see the class comment), and the timer limits the extension sends.
 */
import { FactoryError } from '../../shared/errors';
import {
  ActionType,
  ActionTypeName,
  EventType,
  EventTypeName,
  actionSignature,
  timeSpanToMs,
  type EntityRequest,
  type HistoryEvent,
  type OrchestratorAction,
  type RetryOptionsWire,
} from './history';
import type { InstanceRecord } from './store';
import type { DurableEngine } from './engine';

/** Azure Storage backend defaults, as the extension sends them. */
export const MAXIMUM_SHORT_TIMER_DURATION = '6.00:00:00';
export const LONG_RUNNING_TIMER_INTERVAL = '3.00:00:00';

export class NonDeterminismError extends Error {}

/**
 * Walks the orchestrator's action list the way DurableTask.Core replays the out-of-proc shim's
 * actions: in order, allocating sequence ids, matching them with history, scheduling what is new,
 * and stopping at the first top-level action the host still has to wait for.
 */
export class ActionWalker {
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
