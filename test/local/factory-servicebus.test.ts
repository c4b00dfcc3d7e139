/**
 * The local factory as `npm start` runs it, with the settings of local.settings.sample.json: the
 * local AMQP peer behind ServiceBusConnection, the approvals trigger, signing on. Release
 * management is played by a real @azure/service-bus client that answers each request the moment
 * it arrives. Time runs 3000× (a scaled real clock, as `npm start`): Service Bus is real I/O, so
 * the virtual clock's jumps would outrun it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceBusClient, type ServiceBusReceiver, type ServiceBusSender } from '@azure/service-bus';
import { startLocalFactory, type LocalFactory } from '../../src/local/factory';
import { localPeerPlan } from '../../src/local/servicebus/local-bus';
import { ScaledClock } from '../../src/shared/clock';
import { answerRequest, bodyAsJson, parseSigningKey } from '../../src/domain/approvals';
import { sendSignedDecision } from '../approvals/fixtures/release-management';
import type { ApprovalRequest } from '../../src/ports/approvals';
import type { BuildCustomStatus } from '../../src/domain/build-status';

const sample = (
  JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> }
).Values;
const KEY = 'test-function-key';

let factory: LocalFactory;
let dataDirectory: string;
let client: ServiceBusClient;
let requests: ServiceBusReceiver;
let decisions: ServiceBusSender;
const logs: string[] = [];
let buildId: string | undefined;
/** The build's pending request id, read the moment the peer enqueues each of its requests. */
const pendingAtEnqueue: (string | undefined)[] = [];

beforeAll(async () => {
  dataDirectory = mkdtempSync(path.join(tmpdir(), 'local-factory-sb-'));
  const settings = Object.fromEntries(Object.entries(sample).filter(([, value]) => value !== ''));
  factory = await startLocalFactory({
    clock: new ScaledClock(3000),
    dataDirectory,
    settings: {
      ...settings,
      // The sample's connection, on any free port (5672 may be taken on a CI machine).
      ServiceBusConnection: settings.ServiceBusConnection!.replace(':5672', ':0'),
      // The hourly patch cadence fires every 1.2 s at this speed; its builds of the same pipeline
      // share the custom staging resource group and would make this build wait its turn.
      'AzureWebJobs.patchCadence.Disabled': 'true',
    },
    httpPort: 0,
    functionKey: KEY,
    simulator: { seed: 1, tokenLifetimeMs: 365 * 24 * 3600_000 },
    log: (line) => {
      logs.push(line);
      // Message id = request id. The engine's status is read synchronously, before the send returns.
      const enqueued = /\[sb-peer\] approval-requests: enqueued #\d+ id=(\S+)/.exec(line);
      if (buildId !== undefined && enqueued?.[1]?.startsWith(buildId))
        void factory.host.engine.getStatus(buildId).then((status) => {
          pendingAtEnqueue.push(
            (status?.customStatus as BuildCustomStatus | null)?.pendingApproval?.requestId,
          );
        });
    },
  });
  client = new ServiceBusClient(factory.serviceBus!.connectionString);
  requests = client.createReceiver('approval-requests');
  decisions = client.createSender('approval-decisions');
}, 30_000);

afterAll(async () => {
  await requests?.close();
  await decisions?.close();
  await client?.close();
  await factory?.stop();
  rmSync(dataDirectory, { recursive: true, force: true });
});

const api = async (route: string, init: RequestInit = {}) => {
  const response = await fetch(`${factory.http.url}${route}`, {
    ...init,
    headers: { 'x-functions-key': KEY, 'content-type': 'application/json', ...init.headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

test('the sample settings name the local peer, and a real namespace or no connection starts none', () => {
  expect(localPeerPlan(sample.ServiceBusConnection)).toEqual({
    port: 5672,
    sharedAccessKey: { name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' },
  });
  expect(
    localPeerPlan('Endpoint=sb://sb-x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b'),
  ).toBeUndefined();
  expect(localPeerPlan('')).toBeUndefined();
  expect(factory.serviceBusTriggers?.listening).toEqual([
    { name: 'approvalDecisions', queue: 'approval-decisions' },
  ]);
});

test('the host keys are random and distinct: master and system are not the function key', () => {
  const { function: fn, master, system } = factory.keys;
  expect(fn).toBe(KEY);
  expect(new Set([fn, master, system]).size).toBe(3);
  // 32 random bytes each, base64url.
  expect(master).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(system).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test('a build approved over Service Bus the instant each request arrives completes; an unsigned event raised through the Durable link is ignored', async () => {
  const started = await api('/api/builds', {
    method: 'POST',
    body: JSON.stringify({ pipeline: 'ubuntu-2204-base', reason: 'service bus end to end' }),
  });
  expect(started.status).toBe(202);
  buildId = started.body.id as string;
  const sendEventPostUri = started.body.sendEventPostUri as string;
  const answered: string[] = [];
  const signingKey = parseSigningKey(sample.APPROVAL_SIGNING_KEY!);

  const giveUp = Date.now() + 90_000;
  for (;;) {
    const view = await api(`/api/builds/${buildId}`);
    if (!['Running', 'Pending'].includes(view.body.runtimeStatus as string)) break;
    if (Date.now() > giveUp)
      throw new Error(`build still ${String(view.body.step)}; log:\n${logs.slice(-20).join('\n')}`);
    const [message] = await requests.receiveMessages(1, { maxWaitTimeInMs: 200 });
    if (message === undefined) continue;
    const request = (bodyAsJson(message.body) as { data: ApprovalRequest }).data;
    await requests.completeMessage(message);
    if (request.buildId !== buildId) continue; // only this build is answered
    const decision = answerRequest(request, {
      decision: 'approved',
      approver: 'release.manager@contoso.com',
      changeTicket: `CHG00${request.stage === 'TEST' ? 1 : 2}`,
      // The factory runs on a sped-up clock, ahead of ours: a decision may not predate its request.
      decidedAt: new Date(Math.max(Date.now(), Date.parse(request.requestedAt))).toISOString(),
    });
    if (request.stage === 'TEST') {
      // The API's Durable links carry no key: reading a build is not enough to raise its events.
      const link = sendEventPostUri.replace('{eventName}', `approval:${request.stage}`);
      const raise = (url: string) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(decision),
        });
      expect((await raise(link)).status).toBe(401);
      // The function key (the one npm start prints) does not open the Durable webhooks either.
      expect((await raise(`${link}&code=${KEY}`)).status).toBe(401);
      // With the master key an exact but unsigned decision still must not count.
      expect((await raise(`${link}&code=${factory.keys.master}`)).status).toBe(202);
    }
    await sendSignedDecision(decisions, decision, signingKey);
    answered.push(request.stage);
  }

  const done = await api(`/api/builds/${buildId}`);
  // On failure, why (the status carries the failure code, step and message).
  expect({ runtimeStatus: done.body.runtimeStatus, failure: done.body.failure }).toEqual({
    runtimeStatus: 'Completed',
    failure: undefined,
  });
  expect(answered).toEqual(['TEST', 'PROD']);
  // What the trigger matches a decision against is visible before the request leaves: an approver
  // who answers at once is never refused as having no pending request.
  expect(pendingAtEnqueue).toEqual([`${buildId}-TEST-1`, `${buildId}-PROD-1`]);
  const stages = done.body.stages as BuildCustomStatus['stages'];
  expect(stages.map((s) => [s.name, s.approval?.decision, s.approval?.changeTicket])).toEqual([
    ['ENG', undefined, undefined],
    ['TEST', 'approved', 'CHG001'],
    ['PROD', 'approved', 'CHG002'],
  ]);
  // The forged event was recorded as ignored, with why; nothing was refused on the queue.
  const instance = await factory.host.getStatus(buildId);
  const output = instance?.output as {
    ignoredDecisions: { stage: string; reason: string; detail?: string }[];
  };
  expect(output.ignoredDecisions).toEqual([
    expect.objectContaining({
      stage: 'TEST',
      reason: 'unverified',
      detail: expect.stringMatching(/^unsigned/),
    }),
  ]);
  expect(factory.serviceBus!.queue('approval-rejects').counts.active).toBe(0);
  expect(factory.serviceBus!.queue('approval-decisions').counts).toMatchObject({
    active: 0,
    deadLettered: 0,
  });
}, 120_000);
