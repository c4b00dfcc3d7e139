/**
 * The local AMQP peer checks claims as Service Bus does (SAS signature, expiry, audience on CBS
 * put-token; a valid token before a link attaches) and answers peek-message, all tried with the
 * unmodified @azure/service-bus client, plus a bare AMQP client for a link attached without CBS.
 */
import { createHmac } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import * as rheaTypes from 'rhea';
import { startServiceBusPeer, type ServiceBusPeer } from '../../src/local/servicebus/peer';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rhea = require('rhea') as typeof rheaTypes;

const KEY = { name: 'RootManageSharedAccessKey', key: 'right-key-0123456789abcdef' };
let peer: ServiceBusPeer;

beforeAll(async () => {
  peer = await startServiceBusPeer({
    queues: ['q-auth', 'q-other', 'q-peek', 'q-peek-dlq'],
    sharedAccessKey: KEY,
  });
});
afterAll(async () => {
  await peer.stop();
});

const NO_RETRY = { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } };

function connectionWith(fields: string): string {
  return `Endpoint=sb://127.0.0.1:${peer.port};${fields};UseDevelopmentEmulator=true`;
}

/** A SAS token as the docs define it: HMAC-SHA256 over `<encoded uri>\n<expiry>`. */
function sasToken(resource: string, expirySeconds: number, key = KEY.key): string {
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', key).update(`${sr}\n${expirySeconds}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expirySeconds}&skn=${KEY.name}`;
}

async function withClient<T>(connection: string, use: (client: ServiceBusClient) => Promise<T>): Promise<T> {
  const client = new ServiceBusClient(connection, NO_RETRY);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

test('a wrong key: the send fails with UnauthorizedAccess (InvalidSignature) and nothing is enqueued', async () => {
  await withClient(
    connectionWith(`SharedAccessKeyName=${KEY.name};SharedAccessKey=wrong-key`),
    async (client) => {
      const sender = client.createSender('q-auth');
      await expect(sender.sendMessages({ body: 'x' })).rejects.toMatchObject({
        code: 'UnauthorizedAccess',
        message: expect.stringContaining('InvalidSignature') as unknown,
      });
    },
  );
  expect(peer.queue('q-auth').counts.active).toBe(0);
});

test('a wrong key: receiving fails and the waiting message stays unlocked with no delivery counted', async () => {
  await withClient(peer.connectionString, (client) =>
    client.createSender('q-auth').sendMessages({ messageId: 'auth-1', body: 'kept' }),
  );
  await withClient(
    connectionWith(`SharedAccessKeyName=${KEY.name};SharedAccessKey=wrong-key`),
    async (client) => {
      const receiver = client.createReceiver('q-auth');
      await expect(receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 })).rejects.toMatchObject({
        code: 'UnauthorizedAccess',
      });
    },
  );
  const [waiting] = peer.queue('q-auth').active;
  expect(waiting).toMatchObject({ messageId: 'auth-1', locked: false, deliveryCount: 0 });
});

test('an expired token is refused with ExpiredToken', async () => {
  const expired = sasToken(`sb://127.0.0.1:${peer.port}/q-auth`, Math.floor(Date.now() / 1000) - 60);
  await withClient(connectionWith(`SharedAccessSignature=${expired}`), async (client) => {
    await expect(client.createSender('q-auth').sendMessages({ body: 'late' })).rejects.toMatchObject({
      code: 'UnauthorizedAccess',
      message: expect.stringContaining('ExpiredToken: The token is expired') as unknown,
    });
  });
});

test('a token for another entity is refused with InvalidAudience; one for the namespace covers every entity', async () => {
  const later = Math.floor(Date.now() / 1000) + 600;
  const forOther = sasToken(`sb://127.0.0.1:${peer.port}/q-other`, later);
  await withClient(connectionWith(`SharedAccessSignature=${forOther}`), async (client) => {
    await expect(client.createSender('q-auth').sendMessages({ body: 'wrong queue' })).rejects.toMatchObject({
      code: 'UnauthorizedAccess',
      message: expect.stringContaining('InvalidAudience') as unknown,
    });
  });
  const forNamespace = sasToken(`sb://127.0.0.1:${peer.port}/`, later);
  await withClient(connectionWith(`SharedAccessSignature=${forNamespace}`), (client) =>
    client.createSender('q-other').sendMessages({ messageId: 'ns-1', body: 'namespace token' }),
  );
  expect(peer.queue('q-other').active.map((m) => m.messageId)).toEqual(['ns-1']);
});

test('a link attached without put-token is detached with amqp:unauthorized-access and moves nothing', async () => {
  const container = rhea.create_container({ id: 'bare-client' });
  const connection = container.connect({ host: '127.0.0.1', port: peer.port, reconnect: false });
  try {
    const error = await new Promise<{ condition: string; description: string }>((resolve, reject) => {
      const sender = connection.open_sender({ target: { address: 'q-other' } });
      sender.on('sendable', () => sender.send({ message_id: 'sneaked', body: 'no token' }));
      sender.on('sender_close', (context: rheaTypes.EventContext) =>
        resolve(context.sender!.error as { condition: string; description: string }),
      );
      connection.on('disconnected', () => reject(new Error('disconnected before the link was refused')));
    });
    expect(error.condition).toBe('amqp:unauthorized-access');
    expect(error.description).toContain("'Send' claim(s) are required");
  } finally {
    connection.close();
  }
  expect(peer.queue('q-other').active.map((m) => m.messageId)).not.toContain('sneaked');
});

test('peekMessages returns messages in sequence order without locking them, from a sequence number on', async () => {
  await withClient(peer.connectionString, async (client) => {
    const sender = client.createSender('q-peek');
    await sender.sendMessages([
      { messageId: 'p-1', body: { n: 1 } },
      { messageId: 'p-2', body: { n: 2 } },
      { messageId: 'p-3', body: { n: 3 } },
    ]);
    const receiver = client.createReceiver('q-peek');
    const firstTwo = await receiver.peekMessages(2);
    expect(firstTwo.map((m) => [m.messageId, m.body, m.deliveryCount])).toEqual([
      ['p-1', { n: 1 }, 0],
      ['p-2', { n: 2 }, 0],
    ]);
    // The next peek continues after the last peeked sequence number.
    const rest = await receiver.peekMessages(5);
    expect(rest.map((m) => m.messageId)).toEqual(['p-3']);
    const third = rest[0]!.sequenceNumber!;
    const fromThird = await receiver.peekMessages(5, { fromSequenceNumber: third });
    expect(fromThird.map((m) => m.messageId)).toEqual(['p-3']);
    // Past the end: Service Bus answers 204, the client returns nothing.
    expect(await receiver.peekMessages(5, { fromSequenceNumber: third.add(1) })).toEqual([]);
    await receiver.close();
    await sender.close();
  });
  expect(peer.queue('q-peek').counts).toMatchObject({ active: 3, locked: 0 });
});

test('peek works on the dead-letter queue too', async () => {
  await withClient(peer.connectionString, async (client) => {
    await client.createSender('q-peek-dlq').sendMessages({ messageId: 'dead-1', body: 'bad' });
    const receiver = client.createReceiver('q-peek-dlq');
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    await receiver.deadLetterMessage(message!, {
      deadLetterReason: 'test',
      deadLetterErrorDescription: 'why',
    });
    await receiver.close();
    const dlq = client.createReceiver('q-peek-dlq', { subQueueType: 'deadLetter' });
    const peeked = await dlq.peekMessages(5);
    await dlq.close();
    expect(peeked.map((m) => [m.messageId, m.deadLetterReason])).toEqual([['dead-1', 'test']]);
  });
  expect(peer.queue('q-peek-dlq').counts.deadLettered).toBe(1);
});
