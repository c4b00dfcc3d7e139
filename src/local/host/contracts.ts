/**
 * Contracts between the parts of the local host (engine, HTTP layer, triggers) and its users
 * (tests, `npm start`). The engine is the stand-in for the Durable Task extension; the HTTP layer
 * is the stand-in for the Functions host's HTTP front end and the Durable HTTP management API.
 */
import type { Clock } from '../../shared/clock';

/** One function the app registered through @azure/functions (captured via @azure/functions-core). */
export interface CapturedFunction {
  name: string;
  /** 'orchestrationTrigger' | 'activityTrigger' | 'entityTrigger' | 'httpTrigger' | 'timerTrigger' | 'serviceBusTrigger' */
  triggerType: string;
  /** The trigger binding exactly as registered (route, methods, authLevel, schedule, queueName, connection…). */
  trigger: Record<string, unknown>;
  /** All bindings by name, as registered. */
  bindings: Record<string, Record<string, unknown>>;
  /** The wrapped handler the Node worker would call: (context, ...triggerInputs) => result. */
  handler: (...args: unknown[]) => unknown;
}

export interface FunctionRegistry {
  functions: Map<string, CapturedFunction>;
  byTriggerType(type: string): CapturedFunction[];
}

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  /** Only when asked for (showHistory). Shaped like the real API's historyEvents. */
  history?: Record<string, unknown>[];
}

export interface ListFilter {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: string;
  createdTimeTo?: string;
  instanceIdPrefix?: string;
  top?: number;
  continuationToken?: string;
}

/** What the HTTP management API and tests need from the durable engine. */
export interface OrchestrationEngine {
  readonly clock: Clock;
  /** Starts a new instance; with an instanceId that already exists and is not terminal, throws code 'InstanceExists'. */
  startNew(
    orchestratorName: string,
    options?: { instanceId?: string; input?: unknown; version?: string },
  ): Promise<string>;
  raiseEvent(instanceId: string, eventName: string, eventData: unknown): Promise<void>;
  terminate(instanceId: string, reason: string): Promise<void>;
  getStatus(
    instanceId: string,
    options?: { showHistory?: boolean; showInput?: boolean },
  ): Promise<InstanceStatus | undefined>;
  list(filter: ListFilter): Promise<{ instances: InstanceStatus[]; continuationToken?: string }>;
  purge(instanceId: string): Promise<boolean>;
  /** Resolves when nothing is running or queued (activities, episodes); does not advance the clock. */
  whenIdle(): Promise<void>;
  /**
   * Durable entities (the local engine implements both). A client's signalEntity: queues a one-way
   * operation; rejects with code 'EntityNotFound' when the app has no entity function of that name.
   */
  signalEntity?(entity: { name: string; key: string }, operationName: string, input?: unknown): Promise<void>;
  /** A client's readEntityState: the entity's last committed state. */
  readEntityState?(entity: {
    name: string;
    key: string;
  }): Promise<{ entityExists: boolean; entityState: unknown }>;
}

/** The runtime statuses an instance never leaves. */
export const TERMINAL: RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];
