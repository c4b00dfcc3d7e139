/**
 * The local host's Service Bus trigger binding with the real @azure/service-bus client against the
 * local peer: body and triggerMetadata as the worker hands them over, complete on success, abandon
 * on throw (redelivery, then the dead-letter queue), and durable client binding data as extra input.
 */
import { randomUUID } from 'node:crypto';
import { ServiceBusClient, type ServiceBusSender } from '@azure/service-bus';
import { LocalHost } from '../../src/local/host';
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { startServiceBusPeer, type ServiceBusPeer } from '../../src/local/servicebus/peer';
import { bindServiceBusTriggers, type ServiceBusTriggers } from '../../src/local/servicebus/trigger';
import { SEEN_KEY, type SeenMessage } from './fixtures/trigger-app';

const QUEUE = 'fixture-queue';
let peer: ServiceBusPeer;
let host: LocalHost;
let front: HttpFrontEnd;
let triggers: ServiceBusTriggers;
let client: ServiceBusClient;
let sender: ServiceBusSender;
const logs: string[] = [];
const seen = (): SeenMessage[] => ((globalThis as Record<string, unknown>)[SEEN_KEY] ?? []) as SeenMessage[];

beforeAll(async () => {
  peer = await startServiceBusPeer({ queues: [QUEUE], maxDeliveryCount: 3, lockDurationMs: 5000 });
  host = await LocalHost.start({
    appEntry: 'test/approvals/fixtures/trigger-app.ts',
    env: { TASK_HUB_NAME: 'TriggerHub', FIXTURE_QUEUE: QUEUE, FixtureBus: peer.connectionString },
    log: (line) => logs.push(line),
  });
  front = await startHttpFrontEnd({
    registry: host.registry,
    engine: host.engine,
    invoke: (name, input, options) => host.invokeFunction(name, input, options),
    port: 0,
    keys: { functionKeys: {}, masterKey: 'master', durableTaskExtensionKey: 'system-key' },
    taskHubName: 'TriggerHub',
  });
  triggers = bindServiceBusTriggers({
    functions: host.registry.byTriggerType('serviceBusTrigger'),
    env: { FIXTURE_QUEUE: QUEUE, FixtureBus: peer.connectionString },
    invoke: (name, input, options) => host.invokeFunction(name, input, options),
    durableClient: { engine: host.engine, taskHubName: 'TriggerHub', front, systemKey: 'system-key' },
    log: (line) => logs.push(line),
  });
  client = new ServiceBusClient(peer.connectionString);
  sender = client.createSender(QUEUE);
});

afterAll(async () => {
  await sender?.close();
  await client?.close();
  await triggers?.close();
  await front?.close();
  await host?.stop();
  await peer?.stop();
});

const until = async (check: () => boolean | Promise<boolean>, timeoutMs = 15_000) => {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp)
      throw new Error(`condition not met in ${timeoutMs} ms; log:\n${logs.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const seenFor = (id: string) => seen().filter((m) => m.metadata.messageId === id);

test('listens on the queue named by the %SETTING% expression with the connection the trigger names', () => {
  expect(triggers.listening).toEqual([{ name: 'triggerFixture', queue: QUEUE }]);
});

test('delivers the JSON body and triggerMetadata, and completes the message on success', async () => {
  const id = randomUUID();
  const before = peer.queue(QUEUE).counts.completed;
  await sender.sendMessages({
    messageId: id,
    body: { kind: 'ok', n: 1 },
    contentType: 'application/json',
    subject: 'hello',
    applicationProperties: { origin: 'test' },
  });
  await until(() => peer.queue(QUEUE).counts.completed === before + 1);
  const [message] = seenFor(id);
  expect(message?.body).toEqual({ kind: 'ok', n: 1 });
  expect(message?.metadata).toMatchObject({
    messageId: id,
    deliveryCount: 1,
    contentType: 'application/json',
    subject: 'hello',
    applicationProperties: { origin: 'test' },
  });
  expect(typeof message?.metadata.sequenceNumber).toBe('number');
  expect(Date.parse(String(message?.metadata.enqueuedTimeUtc))).toBeGreaterThan(Date.now() - 60_000);
  expect(peer.queue(QUEUE).counts).toMatchObject({ active: 0, locked: 0 });
});

test('a throwing handler abandons the message; it is redelivered with deliveryCount 2 and then completed', async () => {
  const id = randomUUID();
  await sender.sendMessages({ messageId: id, body: { kind: 'fail-once' } });
  await until(() => seenFor(id).length === 2 && peer.queue(QUEUE).counts.active === 0);
  expect(seenFor(id).map((m) => m.metadata.deliveryCount)).toEqual([1, 2]);
  expect(peer.queue(QUEUE).deadLettered.filter((m) => m.messageId === id)).toHaveLength(0);
  expect(logs.join('\n')).toContain(`failed on message ${id} (delivery 1): first delivery fails`);
});

test('a message that always fails is dead-lettered after max delivery count, not lost', async () => {
  const id = randomUUID();
  await sender.sendMessages({ messageId: id, body: { kind: 'always-fail' } });
  await until(() => peer.queue(QUEUE).deadLettered.some((m) => m.messageId === id));
  expect(seenFor(id)).toHaveLength(3);
  const [dead] = peer.queue(QUEUE).deadLettered.filter((m) => m.messageId === id);
  expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
});

test('the handler gets durable client binding data: df.getClient(context).startNew works', async () => {
  const instanceId = `sb-${randomUUID()}`;
  await sender.sendMessages({ messageId: randomUUID(), body: { kind: 'start', instanceId } });
  const done = await host.waitFor(instanceId, { timeoutMs: 15_000 });
  expect(done.runtimeStatus).toBe('Completed');
  expect(done.output).toEqual({ from: 'servicebus' });
});

test('a %SETTING% that is not set, or a connection that is not configured, is a startup error', () => {
  const functions = host.registry.byTriggerType('serviceBusTrigger');
  const invoke = () => Promise.resolve(undefined);
  expect(() => bindServiceBusTriggers({ functions, env: { FixtureBus: 'x' }, invoke })).toThrow(
    "Function 'triggerFixture': the binding expression %FIXTURE_QUEUE% names a setting that is not set",
  );
  expect(() => bindServiceBusTriggers({ functions, env: { FIXTURE_QUEUE: QUEUE }, invoke })).toThrow(
    "connection 'FixtureBus' is not configured",
  );
});
