/**
 * The local Service Bus trigger reads host.json as extension 5.x does (flat autoCompleteMessages,
 * maxConcurrentCalls; messageHandlerOptions ignored) and settles as the host does for a Node
 * function: success completes, a throw abandons, autoCompleteMessages false settles nothing.
 * The far end is the local peer with the real client; `invoke` plays the Node worker.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServiceBusClient } from '@azure/service-bus';
import type { CapturedFunction } from '../../src/local/host/contracts';
import { readHostJson } from '../../src/local/host/host-json';

const serviceBusHostSettings = (doc: Record<string, unknown>) =>
  readHostJson(doc, { TASK_HUB_NAME: 'ImageFactory' }).serviceBus;
import { startServiceBusPeer, type ServiceBusPeer } from '../../src/local/servicebus/peer';
import { bindServiceBusTriggers, type ServiceBusTriggers } from '../../src/local/servicebus/trigger';

let peer: ServiceBusPeer;
let client: ServiceBusClient;
const opened: ServiceBusTriggers[] = [];

beforeAll(async () => {
  peer = await startServiceBusPeer({
    queues: ['q-concurrent', 'q-manual', 'q-settle', 'q-long'],
    lockDurationMs: 800,
    maxDeliveryCount: 10,
  });
  client = new ServiceBusClient(peer.connectionString);
});
afterAll(async () => {
  for (const t of opened) await t.close();
  await client.close();
  await peer.stop();
});

function queueFunction(queue: string, trigger: Record<string, unknown> = {}): CapturedFunction {
  return {
    name: `on-${queue}`,
    triggerType: 'serviceBusTrigger',
    trigger: { type: 'serviceBusTrigger', queueName: queue, connection: 'Bus', ...trigger },
    bindings: {},
    handler: () => undefined,
  };
}

const until = async (check: () => boolean, what: string, timeoutMs = 10_000) => {
  const giveUp = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUp) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("host.json's flat extension-5.x names are read; messageHandlerOptions is ignored and reported", () => {
  expect(
    serviceBusHostSettings({
      extensions: {
        serviceBus: {
          autoCompleteMessages: false,
          maxConcurrentCalls: 4,
          maxAutoLockRenewalDuration: '00:02:30',
          messageHandlerOptions: { autoComplete: true, maxConcurrentCalls: 32 },
        },
      },
    }),
  ).toEqual({
    autoCompleteMessages: false,
    maxConcurrentCalls: 4,
    maxAutoLockRenewalDurationMs: 150_000,
    prefetchCount: 0,
    ignored: ['messageHandlerOptions'],
  });
  expect(serviceBusHostSettings({})).toEqual({
    autoCompleteMessages: true,
    maxConcurrentCalls: undefined,
    maxAutoLockRenewalDurationMs: 300_000,
    prefetchCount: 0,
    ignored: [],
  });
  expect(() => serviceBusHostSettings({ extensions: { serviceBus: { maxConcurrentCalls: 0 } } })).toThrow(
    'MaxConcurrentCalls must be a positive integer value.',
  );
  // The repository's own host.json parses.
  expect(() => serviceBusHostSettings(JSON.parse(readFileSync('host.json', 'utf8')))).not.toThrow();
});

test('maxConcurrentCalls from host.json: that many messages are handled at once', async () => {
  let inFlight = 0;
  let most = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const logs: string[] = [];
  opened.push(
    bindServiceBusTriggers({
      functions: [queueFunction('q-concurrent')],
      env: { Bus: peer.connectionString },
      hostSettings: serviceBusHostSettings({
        extensions: {
          serviceBus: { maxConcurrentCalls: 3, messageHandlerOptions: { maxConcurrentCalls: 1 } },
        },
      }),
      invoke: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await gate;
        inFlight--;
      },
      log: (line) => logs.push(line),
    }),
  );
  const sender = client.createSender('q-concurrent');
  await sender.sendMessages([1, 2, 3, 4, 5].map((n) => ({ messageId: `c-${n}`, body: n })));
  await sender.close();
  await until(() => inFlight === 3, 'three messages in the handler at once');
  release();
  await until(() => peer.queue('q-concurrent').counts.completed === 5, 'all five completed');
  expect(most).toBe(3);
  expect(logs).toContain(
    '[servicebus] host.json extensions.serviceBus.messageHandlerOptions is ignored by the Service Bus extension 5.x',
  );
});

test('autoCompleteMessages false in host.json: a successful Node function settles nothing; the lock expires and it comes back', async () => {
  const deliveries: number[] = [];
  opened.push(
    bindServiceBusTriggers({
      functions: [queueFunction('q-manual')],
      env: { Bus: peer.connectionString },
      hostSettings: serviceBusHostSettings({ extensions: { serviceBus: { autoCompleteMessages: false } } }),
      invoke: (_name, _input, options) => {
        deliveries.push(Number(options.triggerMetadata?.deliveryCount));
        return Promise.resolve();
      },
    }),
  );
  await client.createSender('q-manual').sendMessages({ messageId: randomUUID(), body: 'x' });
  await until(() => deliveries.length >= 2, 'a second delivery after the lock expired');
  expect(deliveries.slice(0, 2)).toEqual([1, 2]);
  expect(peer.queue('q-manual').counts.completed).toBe(0);
});

test("the binding's own autoCompleteMessages wins over host.json; success completes, a throw abandons", async () => {
  const seen: string[] = [];
  opened.push(
    bindServiceBusTriggers({
      functions: [queueFunction('q-settle', { autoCompleteMessages: true })],
      env: { Bus: peer.connectionString },
      hostSettings: serviceBusHostSettings({ extensions: { serviceBus: { autoCompleteMessages: false } } }),
      invoke: (_name, input, options) => {
        seen.push(`${String(input)}#${String(options.triggerMetadata?.deliveryCount)}`);
        if (input === 'fail-once' && options.triggerMetadata?.deliveryCount === 1)
          return Promise.reject(new Error('first delivery fails'));
        return Promise.resolve();
      },
    }),
  );
  const sender = client.createSender('q-settle');
  await sender.sendMessages({ messageId: 'ok-1', body: 'ok' });
  await sender.sendMessages({ messageId: 'f-1', body: 'fail-once' });
  await sender.close();
  await until(() => peer.queue('q-settle').counts.completed === 2, 'both completed');
  expect(seen.sort()).toEqual(['fail-once#1', 'fail-once#2', 'ok#1']);
});

test('the lock is renewed while the function runs past it, and the message completes once', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  opened.push(
    bindServiceBusTriggers({
      functions: [queueFunction('q-long')],
      env: { Bus: peer.connectionString },
      invoke: async () => {
        calls++;
        await gate;
      },
    }),
  );
  await client.createSender('q-long').sendMessages({ messageId: 'long-1', body: 'slow' });
  await until(() => calls === 1, 'the function started');
  // Three lock durations (the peer's lock is 800 ms) while the function still runs.
  await new Promise((r) => setTimeout(r, 2400));
  expect(peer.queue('q-long').active).toEqual([
    expect.objectContaining({ messageId: 'long-1', locked: true, deliveryCount: 0 }),
  ]);
  release();
  await until(() => peer.queue('q-long').counts.completed === 1, 'completed');
  expect(calls).toBe(1);
});
