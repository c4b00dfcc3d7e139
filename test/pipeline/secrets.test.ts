/**
 * A happy path with every credential the factory can hold in play — client secret, certificate,
 * workload identity, managed identity header, a Service Bus connection string with its SAS key,
 * the approval signing key, function/master/system keys — started and read through the HTTP API,
 * approved by signed decisions over Service Bus (local AMQP peer, real clients on both sides): no
 * credential in the host log, the console, any instance's status or history, the API answers or
 * the approval requests the factory sent (secrets-scan.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { CLOUDEVENTS_CONTENT_TYPE, toDecisionEvent } from '../../src/domain/approvals';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { HttpFrontEnd } from '../../src/local/host/http/server';
import { startServiceBusPeer, type ServiceBusPeer } from '../../src/local/servicebus/peer';
import { bindServiceBusTriggers, type ServiceBusTriggers } from '../../src/local/servicebus/trigger';
import { keyedApi, randomHostKeys, startFactory, startFrontEnd, type Factory } from './harness';
import { SecretsScan } from './secrets-scan';

const QUEUES = ['approval-requests', 'approval-decisions', 'approval-rejects'];

describe('no credential anywhere in what a build produces', () => {
  const scan = new SecretsScan();
  const signingKey = randomBytes(32);
  const keys = randomHostKeys();
  let peer: ServiceBusPeer;
  let factory: Factory;
  let front: HttpFrontEnd;
  let triggers: ServiceBusTriggers;
  let bus: ServiceBusClient;
  let restoreConsole = () => undefined as void;
  const api = keyedApi(scan.fetch.bind(scan), () => front.url, keys.host);

  beforeAll(async () => {
    peer = await startServiceBusPeer({ queues: QUEUES, lockDurationMs: 5000 });
    restoreConsole = scan.captureConsole();
    factory = await startFactory(
      {},
      {
        ServiceBusConnection: peer.connectionString,
        APPROVAL_SIGNING_KEY: `base64:${signingKey.toString('base64')}`,
        APPROVAL_REQUESTS_QUEUE: 'approval-requests',
        APPROVAL_DECISIONS_QUEUE: 'approval-decisions',
        APPROVAL_REJECTS_QUEUE: 'approval-rejects',
      },
      // The decisions trigger checks deadlines against the broker's (real) enqueue time.
      Date.now(),
    );
    scan.watchHistories(factory);
    front = await startFrontEnd(factory, keys);
    triggers = bindServiceBusTriggers({
      functions: factory.host.registry.byTriggerType('serviceBusTrigger'),
      env: factory.env,
      invoke: factory.host.invokeFunction.bind(factory.host),
      durableClient: {
        engine: factory.host.engine,
        taskHubName: factory.env.TASK_HUB_NAME ?? 'ImageFactoryTest',
        front,
        systemKey: keys.system,
      },
      log: (line) => factory.log.push(line),
    });
    bus = new ServiceBusClient(peer.connectionString);
  });
  afterAll(async () => {
    restoreConsole();
    await bus?.close();
    await triggers?.close();
    await front?.close();
    await factory?.stop();
    await peer?.stop();
  });

  it('builds, tests and promotes ubuntu-2204-base through the API and signed Service Bus decisions', async () => {
    const started = await api('POST', '/api/builds', {
      pipeline: 'ubuntu-2204-base',
      reason: 'secrets scan',
    });
    expect(started.status).toBe(202);
    const id = (JSON.parse(started.text) as { id: string }).id;
    const requests = bus.createReceiver('approval-requests');
    const decisions = bus.createSender('approval-decisions');
    const statusOf = async () => (await factory.host.getStatus(id))?.customStatus as BuildCustomStatus | null;
    try {
      await factory.host.drive({
        until: async () => {
          const pending = (await statusOf())?.pendingApproval;
          if (pending) {
            // What release management receives is scanned too.
            for (const message of await requests.receiveMessages(5, { maxWaitTimeInMs: 2000 })) {
              scan.record(`approval request message ${String(message.messageId)}`, message.body);
              await requests.completeMessage(message);
            }
            const event = toDecisionEvent(
              {
                requestId: pending.requestId,
                buildId: pending.buildId,
                stage: pending.stage,
                imageVersion: pending.imageVersion,
                decision: 'approved',
                approver: 'alice@contoso.com',
                changeTicket: 'CHG0012345',
                decidedAt: new Date(factory.clock.now()).toISOString(),
              },
              { id: randomUUID(), source: '/servicenow/change', time: new Date().toISOString(), signingKey },
            );
            await decisions.sendMessages({
              contentType: CLOUDEVENTS_CONTENT_TYPE,
              body: event,
              messageId: event.id,
            });
            // The trigger runs in real time: wait for the build to take the decision before the
            // virtual clock may jump to the approval deadline.
            const giveUp = Date.now() + 15_000;
            while ((await statusOf())?.pendingApproval?.requestId === pending.requestId) {
              if (Date.now() > giveUp)
                throw new Error(
                  `decision for ${pending.stage} not taken: ${factory.log.slice(-3).join('\n')}`,
                );
              await new Promise((resolve) => setTimeout(resolve, 20));
            }
          }
          const runtime = (await factory.host.getStatus(id))?.runtimeStatus;
          return runtime !== 'Running' && runtime !== 'Pending';
        },
      });
    } finally {
      await requests.close();
      await decisions.close();
    }
    const finished = await api('GET', `/api/builds/${id}`);
    expect((JSON.parse(finished.text) as { outcome: string }).outcome).toBe('succeeded');
    expect((await api('GET', `/api/builds/${id}/view`)).status).toBe(200);
    expect((await api('GET', '/api/builds')).status).toBe(200);
    expect((await api('GET', '/api/pipelines')).status).toBe(200);

    scan.addFactorySecrets(factory);
    scan.addSecret('function key', keys.host);
    scan.addSecret('master key', keys.master);
    scan.addSecret('durable extension system key', keys.system);
    scan.addSecret('approval signing key (hex)', signingKey.toString('hex'));
    await scan.collectFactory(factory);
    expect(scan.secretNames).toEqual(
      expect.arrayContaining(['Service Bus SAS key', 'approval signing key', 'client secret']),
    );
    expect(scan.sources.filter((source) => source.startsWith('approval request message'))).toHaveLength(2);
    expect(scan.selfCheck()).toEqual([]);
    expect(scan.findings()).toEqual([]);
  });
});
