/**
 * The local AMQP peer against the unmodified @azure/service-bus client.
 */
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { startServiceBusPeer, type ServiceBusPeer } from '../../src/local/servicebus/peer';

let peer: ServiceBusPeer;
let client: ServiceBusClient;
const QUEUES = [
  'q-send',
  'q-batch',
  'q-settle',
  'q-expiry',
  'q-renew',
  'q-dlq',
  'q-max',
  'q-drain',
  'q-mgmt',
];

beforeAll(async () => {
  peer = await startServiceBusPeer({ queues: QUEUES, lockDurationMs: 1500, maxDeliveryCount: 3 });
  client = new ServiceBusClient(peer.connectionString, {
    retryOptions: { maxRetries: 0, timeoutInMs: 5000 },
  });
});

afterAll(async () => {
  await client.close();
  await peer.stop();
});

const receiveOne = async (queue: string, waitMs = 3000): Promise<ServiceBusReceivedMessage[]> => {
  const receiver = client.createReceiver(queue);
  try {
    return await receiver.receiveMessages(1, { maxWaitTimeInMs: waitMs });
  } finally {
    await receiver.close();
  }
};

test('connection string uses the development-emulator switch (plain TCP) and the peer port', () => {
  expect(peer.connectionString).toContain(`Endpoint=sb://127.0.0.1:${peer.port};`);
  expect(peer.connectionString).toContain('UseDevelopmentEmulator=true');
});

test('send, then peek-lock receive with id, body, properties and broker annotations; complete removes it', async () => {
  const sender = client.createSender('q-send');
  await sender.sendMessages({
    messageId: 'm-1',
    body: { hello: 'world' },
    contentType: 'application/json',
    applicationProperties: { kind: 'test' },
  });
  await sender.close();
  expect(peer.queue('q-send').counts.active).toBe(1);

  const receiver = client.createReceiver('q-send');
  const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  expect(message).toBeDefined();
  expect(message!.messageId).toBe('m-1');
  expect(message!.body).toEqual({ hello: 'world' });
  expect(message!.contentType).toBe('application/json');
  expect(message!.applicationProperties).toEqual({ kind: 'test' });
  expect(message!.deliveryCount).toBe(0);
  expect(Number(message!.sequenceNumber)).toBeGreaterThan(0);
  expect(message!.enqueuedTimeUtc).toBeInstanceOf(Date);
  expect(message!.lockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
  expect(message!.lockToken).toMatch(/^[0-9a-f-]{36}$/);
  expect(peer.queue('q-send').counts.locked).toBe(1);
  await receiver.completeMessage(message!);
  await receiver.close();
  expect(peer.queue('q-send').counts).toEqual({ active: 0, locked: 0, deadLettered: 0, completed: 1 });
});

test('batch send: every message of the batch arrives separately, in order', async () => {
  const sender = client.createSender('q-batch');
  const batch = await sender.createMessageBatch();
  for (const n of [1, 2, 3]) expect(batch.tryAddMessage({ messageId: `b-${n}`, body: { n } })).toBe(true);
  await sender.sendMessages(batch);
  await sender.close();
  expect(peer.queue('q-batch').active.map((m) => [m.messageId, m.body])).toEqual([
    ['b-1', { n: 1 }],
    ['b-2', { n: 2 }],
    ['b-3', { n: 3 }],
  ]);
  const receiver = client.createReceiver('q-batch', { receiveMode: 'receiveAndDelete' });
  const got: ServiceBusReceivedMessage[] = [];
  while (got.length < 3) got.push(...(await receiver.receiveMessages(3, { maxWaitTimeInMs: 1000 })));
  await receiver.close();
  expect(got.map((m) => m.body)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  expect(peer.queue('q-batch').counts.active).toBe(0);
});

test('abandon makes the message available again with delivery count + 1', async () => {
  await client.createSender('q-settle').sendMessages({ messageId: 'a-1', body: 'x' });
  const receiver = client.createReceiver('q-settle');
  const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  await receiver.abandonMessage(first!);
  const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  expect(second!.messageId).toBe('a-1');
  expect(second!.deliveryCount).toBe(1);
  await receiver.completeMessage(second!);
  await receiver.close();
  expect(peer.queue('q-settle').counts.active).toBe(0);
});

test('an expired lock redelivers the message (delivery count + 1) and the old lock is lost', async () => {
  await client.createSender('q-expiry').sendMessages({ messageId: 'e-1', body: 'x' });
  const receiver = client.createReceiver('q-expiry', { maxAutoLockRenewalDurationInMs: 0 });
  const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  expect(first!.deliveryCount).toBe(0);
  await new Promise((r) => setTimeout(r, 1800));
  expect(peer.queue('q-expiry').counts.locked).toBe(0);
  const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  expect(again!.messageId).toBe('e-1');
  expect(again!.deliveryCount).toBe(1);
  await expect(receiver.completeMessage(first!)).rejects.toMatchObject({ code: 'MessageLockLost' });
  await receiver.completeMessage(again!);
  await receiver.close();
  expect(peer.queue('q-expiry').counts.active).toBe(0);
});

test('renewMessageLock over $management extends the lock past the lock duration', async () => {
  await client.createSender('q-renew').sendMessages({ messageId: 'r-1', body: 'x' });
  const receiver = client.createReceiver('q-renew', { maxAutoLockRenewalDurationInMs: 0 });
  const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  const before = message!.lockedUntilUtc!.getTime();
  await new Promise((r) => setTimeout(r, 800));
  const renewed = await receiver.renewMessageLock(message!);
  expect(renewed.getTime()).toBeGreaterThan(before);
  await new Promise((r) => setTimeout(r, 1000)); // past the first lock's end
  expect(peer.queue('q-renew').counts.locked).toBe(1);
  await receiver.completeMessage(message!);
  await receiver.close();
  expect(peer.queue('q-renew').counts).toMatchObject({ active: 0, completed: 1 });
});

test('dead-letter with reason and description; the DLQ sub-queue is receivable', async () => {
  await client.createSender('q-dlq').sendMessages({ messageId: 'd-1', body: 'bad' });
  const receiver = client.createReceiver('q-dlq');
  const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  await receiver.deadLetterMessage(message!, {
    deadLetterReason: 'Invalid',
    deadLetterErrorDescription: 'no good',
  });
  await receiver.close();
  expect(peer.queue('q-dlq').deadLettered).toMatchObject([
    { messageId: 'd-1', deadLetterReason: 'Invalid', deadLetterErrorDescription: 'no good' },
  ]);
  const dlqReceiver = client.createReceiver('q-dlq', { subQueueType: 'deadLetter' });
  const [dead] = await dlqReceiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
  expect(dead!.messageId).toBe('d-1');
  expect(dead!.deadLetterReason).toBe('Invalid');
  expect(dead!.deadLetterErrorDescription).toBe('no good');
  await dlqReceiver.completeMessage(dead!);
  await dlqReceiver.close();
  expect(peer.queue('q-dlq').counts.deadLettered).toBe(0);
});

test('max delivery count moves the message to the dead-letter queue', async () => {
  await client.createSender('q-max').sendMessages({ messageId: 'x-1', body: 'poison' });
  const receiver = client.createReceiver('q-max');
  for (let attempt = 0; attempt < 3; attempt++) {
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    expect(message!.deliveryCount).toBe(attempt);
    await receiver.abandonMessage(message!);
  }
  expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toEqual([]);
  await receiver.close();
  expect(peer.queue('q-max').counts).toMatchObject({ active: 0, deadLettered: 1 });
  expect(peer.queue('q-max').deadLettered[0]).toMatchObject({
    messageId: 'x-1',
    deadLetterReason: 'MaxDeliveryCountExceeded',
  });
});

test('receive on an empty queue drains and returns nothing within the wait time', async () => {
  const started = Date.now();
  expect(await receiveOne('q-drain', 400)).toEqual([]);
  expect(Date.now() - started).toBeLessThan(3000);
});

test('an unknown queue is refused like a missing entity', async () => {
  const sender = client.createSender('no-such-queue');
  await expect(sender.sendMessages({ body: 'x' })).rejects.toMatchObject({ code: 'MessagingEntityNotFound' });
  await sender.close();
});

test('a wrong key is refused by CBS', async () => {
  const forged = peer.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=d3Jvbmc=');
  const other = new ServiceBusClient(forged, { retryOptions: { maxRetries: 0, timeoutInMs: 3000 } });
  const sender = other.createSender('q-send');
  await expect(sender.sendMessages({ body: 'x' })).rejects.toMatchObject({ code: 'UnauthorizedAccess' });
  await other.close();
});

test('the links carry max_message_size (256 KB): batches are sized by it and a larger message is refused by the client', async () => {
  const sender = client.createSender('q-send');
  const batch = await sender.createMessageBatch();
  expect(batch.maxSizeInBytes).toBe(256 * 1024);
  const before = peer.queue('q-send').counts.active;
  await expect(sender.sendMessages({ body: 'x'.repeat(300 * 1024) })).rejects.toMatchObject({
    code: 'MessageSizeExceeded',
  });
  expect(peer.queue('q-send').counts.active).toBe(before);
  await sender.close();
});

test('with duplicate detection, a message id seen within the window is accepted and dropped; outside it, kept', async () => {
  const deduping = await startServiceBusPeer({ queues: ['q-dedupe'], duplicateDetectionWindowMs: 400 });
  const dedupingClient = new ServiceBusClient(deduping.connectionString, {
    retryOptions: { maxRetries: 0, timeoutInMs: 5000 },
  });
  try {
    const sender = dedupingClient.createSender('q-dedupe');
    await sender.sendMessages({ messageId: 'request-1', body: 'first' });
    // The same id again (a re-send after a crash): the send succeeds, nothing is added.
    await sender.sendMessages({ messageId: 'request-1', body: 'again' });
    await sender.sendMessages({ messageId: 'request-2', body: 'other' });
    expect(deduping.queue('q-dedupe').active.map((m) => [m.messageId, m.body])).toEqual([
      ['request-1', 'first'],
      ['request-2', 'other'],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 450));
    await sender.sendMessages({ messageId: 'request-1', body: 'after the window' });
    await sender.close();
    expect(deduping.queue('q-dedupe').active.map((m) => m.body)).toEqual([
      'first',
      'other',
      'after the window',
    ]);
  } finally {
    await dedupingClient.close();
    await deduping.stop();
  }
});

test('a message whose receiving link is gone is settled over the management link (update-disposition)', async () => {
  const sender = client.createSender('q-mgmt');
  await sender.sendMessages([
    { messageId: 'm-complete', body: 1 },
    { messageId: 'm-abandon', body: 2 },
  ]);
  await sender.close();
  const first = client.createReceiver('q-mgmt');
  const received = await first.receiveMessages(2, { maxWaitTimeInMs: 3000 });
  expect(received.map((m) => m.messageId)).toEqual(['m-complete', 'm-abandon']);
  await first.close();
  // The client settles through $management when the message's own link is closed.
  const second = client.createReceiver('q-mgmt');
  await second.completeMessage(received[0]!);
  await second.abandonMessage(received[1]!);
  expect(peer.queue('q-mgmt').active.map((m) => [m.messageId, m.locked, m.deliveryCount])).toEqual([
    ['m-abandon', false, 1],
  ]);
  expect(peer.queue('q-mgmt').counts.completed).toBe(1);
  // A lock that is gone is refused as lost, not settled twice.
  await expect(second.completeMessage(received[0]!)).rejects.toMatchObject({ code: 'MessageLockLost' });
  await second.close();
});
