/**
 * History events and orchestrator actions as they travel between the Durable extension and the
 * durable-functions library (numbers from lib/src/history/HistoryEventType.js and
 * lib/src/actions/ActionType.js of durable-functions 3.5.0).
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export const EventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export const ActionTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(ActionType).map(([name, value]) => [value, name]),
);

export interface RetryOptionsWire {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface OrchestratorAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptionsWire;
  instanceId?: string;
  /** CallSubOrchestrator(WithRetry): the version the caller asked for (durable-functions 3.5). */
  version?: string;
  fireAt?: string | Date;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: OrchestratorAction[];
  /** CallEntity / SignalEntity: the operation name (instanceId is the entity's "@name@key"). */
  operation?: string;
}

/** An operation request sent to an entity (the extension's RequestMessage, as JSON in EventSent.Input). */
export interface EntityRequest {
  id: string;
  op: string;
  signal: boolean;
  /** JSON text of the operation input. */
  input?: string;
  parent?: string;
  parentExecution?: string;
  timestamp: string;
}

/** "@name@key" as EntityId.getSchedulerIdFromEntityId builds it (name lowercased). */
export function entitySchedulerId(entity: { name: string; key: string }): string {
  return `@${entity.name.toLowerCase()}@${entity.key}`;
}

export function parseEntitySchedulerId(schedulerId: string): { name: string; key: string } | undefined {
  const at = schedulerId.indexOf('@', 1);
  if (!schedulerId.startsWith('@') || at < 0) return undefined;
  return { name: schedulerId.slice(1, at), key: schedulerId.slice(at + 1) };
}

/** A stable description of an action for the non-determinism check (cancellation excluded). */
export function actionSignature(action: OrchestratorAction): string {
  const name = ActionTypeName[action.actionType] ?? `Action${action.actionType}`;
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return `${name}(${action.functionName ?? ''})`;
    case ActionType.CreateTimer:
      return `${name}(${new Date(action.fireAt ?? 0).toISOString()})`;
    case ActionType.WaitForExternalEvent:
      return `${name}(${action.externalEventName ?? ''})`;
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return `${name}(${action.instanceId ?? ''}, ${action.operation ?? ''})`;
    case ActionType.WhenAll:
    case ActionType.WhenAny:
      return `${name}[${(action.compoundActions ?? []).map(actionSignature).join(', ')}]`;
    default:
      return name;
  }
}

/** "6.00:00:00" / "00:30:00" (.NET TimeSpan) → milliseconds. */
export function timeSpanToMs(value: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value);
  if (!match) throw new Error(`Not a TimeSpan: ${value}`);
  const [, days, hours, minutes, seconds] = match;
  return (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
}
