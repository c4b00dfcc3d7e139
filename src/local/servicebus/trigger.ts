/**
 * The local host's Service Bus trigger: what the Functions host's Service Bus extension does for
 * `app.serviceBusQueue` functions, through the real @azure/service-bus client (peek-lock), so it
 * works unchanged against the local peer and against a real namespace.
 *
 * - queueName may be a binding expression `%SETTING%` (resolved from env; missing = startup error).
 * - connection names a setting: `<name>` = connection string, or `<name>__fullyQualifiedNamespace`
 *   (+ `<name>__clientId` for a user-assigned managed identity) = identity-based, as in Azure.
 * - The handler gets the body as the Node worker does (JSON parsed to a value, else text) and
 *   triggerMetadata in the worker's camelCase (messageId, deliveryCount, enqueuedTimeUtc, …).
 * - Settlement as for any non-.NET function: the function itself cannot settle. With
 *   autoCompleteMessages (the binding's, else host.json's, default true) success completes and a
 *   throw abandons, so Service Bus dead-letters after max delivery count; with false nothing is
 *   settled and the message comes back when its lock expires.
 * - maxConcurrentCalls and maxAutoLockRenewalDuration from host.json's flat extension-5.x names.
 * Differences: sessions and cardinality 'many' are not supported (startup error).
 */
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import {
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import { availableParallelism } from 'node:os';
import type { CapturedFunction, OrchestrationEngine } from '../host/contracts';
import { readHostJson, type ServiceBusHostSettings } from '../host/host-json';
import { durableClientBindingData } from '../host/http/durable-api';

export interface ServiceBusTriggerOptions {
  functions: CapturedFunction[];
  env: Record<string, string | undefined>;
  invoke: (
    name: string,
    triggerInput: unknown,
    options: { triggerMetadata?: Record<string, unknown>; extraInputs?: Record<string, unknown> },
  ) => Promise<unknown>;
  /**
   * The local durable host behind the HTTP front end: every `durableClient` (or
   * `orchestrationClient`) input of a Service Bus function gets the binding data the host injects,
   * so `df.getClient(context)` works in the handler exactly as in an HTTP function.
   */
  durableClient?: DurableClientSource;
  /** host.json's extensions.serviceBus (src/local/host/host-json.ts); default: the extension's defaults. */
  hostSettings?: ServiceBusHostSettings;
  /** Further extra inputs per function (merged over the durable client ones). */
  extraInputs?: (fn: CapturedFunction) => Record<string, unknown>;
  log?: (line: string) => void;
}

export interface DurableClientSource {
  engine: OrchestrationEngine;
  taskHubName: string;
  /** The front end (startHttpFrontEnd's answer): its origin and local RPC endpoint. */
  front: { url: string; rpcBaseUrl: string | undefined };
  /** A key the front end accepts on the durable webhooks (its durableTaskExtensionKey or master key). */
  systemKey: string;
  /** Default 'Storage', as the front end. */
  connectionName?: string;
}

/** The extra inputs the host gives a function for its durable client bindings. */
export function durableClientInputs(
  fn: CapturedFunction,
  source: DurableClientSource,
): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  for (const [name, binding] of Object.entries(fn.bindings)) {
    if (binding.direction === 'out') continue;
    if (binding.type !== 'durableClient' && binding.type !== 'orchestrationClient') continue;
    inputs[name] = durableClientBindingData(
      {
        engine: source.engine,
        taskHubName: source.taskHubName,
        connectionName: source.connectionName ?? 'Storage',
        systemKey: source.systemKey,
      },
      source.front.url,
      source.front.rpcBaseUrl,
    );
  }
  return inputs;
}

export interface ServiceBusTriggers {
  /** Functions that are listening, with the queue each one listens on. */
  listening: { name: string; queue: string }[];
  close(): Promise<void>;
}

function resolveExpression(value: string, env: Record<string, string | undefined>, fn: string): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const setting = env[name];
    if (setting === undefined || setting === '')
      throw new Error(`Function '${fn}': the binding expression %${name}% names a setting that is not set`);
    return setting;
  });
}

function clientFor(
  connection: string,
  env: Record<string, string | undefined>,
  fn: string,
): ServiceBusClient {
  const connectionString = env[connection];
  if (connectionString !== undefined && connectionString !== '')
    return new ServiceBusClient(connectionString);
  const namespace = env[`${connection}__fullyQualifiedNamespace`];
  if (namespace !== undefined && namespace !== '') {
    const clientId = env[`${connection}__clientId`];
    const credential =
      clientId !== undefined && clientId !== ''
        ? new ManagedIdentityCredential({ clientId })
        : new DefaultAzureCredential();
    return new ServiceBusClient(namespace, credential);
  }
  throw new Error(
    `Function '${fn}': connection '${connection}' is not configured (set ${connection} or ${connection}__fullyQualifiedNamespace)`,
  );
}

/** The body as the Node worker hands it over: parsed JSON when it is JSON, else text or the value. */
function triggerInputOf(message: ServiceBusReceivedMessage): unknown {
  const body = message.body as unknown;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const text = Buffer.from(body).toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return body;
}

function metadataOf(message: ServiceBusReceivedMessage): Record<string, unknown> {
  return {
    messageId: message.messageId,
    // The host reports the .NET SDK's count: 1 on the first delivery (AMQP header count + 1).
    deliveryCount: (message.deliveryCount ?? 0) + 1,
    enqueuedTimeUtc: message.enqueuedTimeUtc?.toISOString(),
    expiresAtUtc: message.expiresAtUtc?.toISOString(),
    lockedUntilUtc: message.lockedUntilUtc?.toISOString(),
    sequenceNumber: message.sequenceNumber?.toNumber(),
    contentType: message.contentType,
    correlationId: message.correlationId,
    subject: message.subject,
    label: message.subject,
    replyTo: message.replyTo,
    to: message.to,
    lockToken: message.lockToken,
    applicationProperties: message.applicationProperties ?? {},
    userProperties: message.applicationProperties ?? {},
  };
}

/**
 * Renews the message's lock while the function runs, up to maxAutoLockRenewalDuration, as the
 * host's processor does: shortly before each expiry (the client's LockRenewer renews 10 s early,
 * or halfway through a shorter lock).
 */
function renewWhileRunning(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
  maxRenewalMs: number,
): { stop(): void } {
  const giveUpAt = Date.now() + maxRenewalMs;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (lockedUntil: number | undefined): void => {
    if (stopped || lockedUntil === undefined) return;
    const left = lockedUntil - Date.now();
    const renewAt = Date.now() + Math.max(0, left > 20_000 ? left - 10_000 : left / 2);
    if (renewAt >= giveUpAt) return;
    timer = setTimeout(() => {
      receiver.renewMessageLock(message).then(
        (until) => schedule(until.getTime()),
        () => undefined, // lock lost: settlement will say so
      );
    }, renewAt - Date.now());
  };
  schedule(message.lockedUntilUtc?.getTime());
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

export function bindServiceBusTriggers(options: ServiceBusTriggerOptions): ServiceBusTriggers {
  const log = options.log ?? (() => undefined);
  const hostSettings = options.hostSettings ?? readHostJson({}, {}).serviceBus;
  for (const key of hostSettings.ignored)
    log(`[servicebus] host.json extensions.serviceBus.${key} is ignored by the Service Bus extension 5.x`);
  // The extension's default: 16 calls per processor.
  const maxConcurrentCalls = hostSettings.maxConcurrentCalls ?? 16 * availableParallelism();
  const clients = new Map<string, ServiceBusClient>();
  const receivers: ServiceBusReceiver[] = [];
  const subscriptions: { close(): Promise<void> }[] = [];
  const listening: { name: string; queue: string }[] = [];
  for (const fn of options.functions) {
    if (fn.triggerType !== 'serviceBusTrigger') continue;
    const trigger = fn.trigger;
    if (typeof trigger.queueName !== 'string')
      throw new Error(`Function '${fn.name}': only queue triggers are supported locally (no topicName)`);
    if (trigger.isSessionsEnabled === true || trigger.cardinality === 'many')
      throw new Error(`Function '${fn.name}': sessions and cardinality 'many' are not supported locally`);
    const queue = resolveExpression(trigger.queueName, options.env, fn.name);
    const connection = typeof trigger.connection === 'string' ? trigger.connection : 'AzureWebJobsServiceBus';
    let client = clients.get(connection);
    if (client === undefined) {
      client = clientFor(connection, options.env, fn.name);
      clients.set(connection, client);
    }
    // The binding's own setting wins; unset, host.json's (@azure/functions ServiceBusQueueTriggerOptions).
    const autoComplete =
      typeof trigger.autoCompleteMessages === 'boolean'
        ? trigger.autoCompleteMessages
        : hostSettings.autoCompleteMessages;
    if (!autoComplete)
      log(
        `[servicebus] ${fn.name}: autoCompleteMessages is false, and a Node function cannot settle messages: each one returns to ${queue} when its lock expires`,
      );
    // The client's own lock renewal would go on after the function returns (until settlement or
    // its limit); the host renews only while the function runs, so renewal is done here.
    const receiver = client.createReceiver(queue, {
      receiveMode: 'peekLock',
      maxAutoLockRenewalDurationInMs: 0,
    });
    receivers.push(receiver);
    const subscription = receiver.subscribe(
      {
        processMessage: async (message) => {
          const extraInputs = {
            ...(options.durableClient ? durableClientInputs(fn, options.durableClient) : {}),
            ...options.extraInputs?.(fn),
          };
          const renewal = renewWhileRunning(receiver, message, hostSettings.maxAutoLockRenewalDurationMs);
          try {
            await options.invoke(fn.name, triggerInputOf(message), {
              triggerMetadata: metadataOf(message),
              extraInputs,
            });
          } catch (error) {
            renewal.stop();
            log(
              `[servicebus] ${fn.name} failed on message ${String(message.messageId)} (delivery ${(message.deliveryCount ?? 0) + 1}): ${error instanceof Error ? error.message : String(error)}`,
            );
            if (autoComplete) await receiver.abandonMessage(message);
            return;
          }
          renewal.stop();
          if (autoComplete) await receiver.completeMessage(message);
        },
        processError: (args) => {
          log(`[servicebus] ${fn.name} receive error (${args.errorSource}): ${args.error.message}`);
          return Promise.resolve();
        },
      },
      {
        // Settlement is done above, as the host does it; the client's own auto-complete stays off.
        autoCompleteMessages: false,
        maxConcurrentCalls,
      },
    );
    subscriptions.push(subscription);
    listening.push({ name: fn.name, queue });
    log(`[servicebus] ${fn.name} listening on ${queue} (${connection})`);
  }
  return {
    listening,
    async close(): Promise<void> {
      for (const s of subscriptions) await s.close();
      for (const r of receivers) await r.close();
      for (const c of clients.values()) await c.close();
    },
  };
}
