/**
 * The bridge end to end: the local Service Bus peer, the factory's real approvals trigger and a
 * waiting build on the local durable host (test/approvals/fixtures/approvals-world.ts), the
 * ServiceNow simulator, and the bridge as `npm run bridge` wires it (startBridge with settings).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startApprovalsWorld, type ApprovalsWorld } from '../../test/approvals/fixtures/approvals-world';
import { CLOUDEVENTS_CONTENT_TYPE, signDecision, toRequestEvent } from '../../src/domain/approvals';
import type { ApprovalRequest } from '../../src/ports/approvals';
import { MARK_ANSWERED, MARK_AWAITING, MARK_EXPIRED } from '../src/bridge';
import { loadConfig } from '../src/config';
import { startServiceNowSim, type ServiceNowSim } from '../src/local/servicenow-sim';
import { startBridge, type RunningBridge } from '../src/run';
import { bridgeEnv, OAUTH_CLIENT, until, virtualClock } from './support/harness';

const KEY = Buffer.alloc(32, 7);
const INBOUND_SECRET = 'inbound-secret-0123456789abcdef-0123';
const logs: string[] = [];
let world: ApprovalsWorld;
let sim: ServiceNowSim;
const running: RunningBridge[] = [];
const builds: string[] = [];

beforeAll(async () => {
  world = await startApprovalsWorld(KEY, logs);
});
afterAll(async () => {
  await world?.stop(builds);
});
beforeEach(async () => {
  sim = await startServiceNowSim({
    oauthClients: { [OAUTH_CLIENT.id]: { secret: OAUTH_CLIENT.secret, user: OAUTH_CLIENT.user } },
  });
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  await sim.stop();
});

async function bridge(clock = virtualClock(), extra: Record<string, string> = {}, poll = false) {
  const config = loadConfig(bridgeEnv(sim, world.peer.connectionString, KEY, extra));
  const started = await startBridge(config, { clock, log: (line) => logs.push(line), poll });
  running.push(started);
  return { ...started, clock };
}

const requestFor = (buildId: string, deadlineInMs = 3_600_000): ApprovalRequest => ({
  requestId: `${buildId}:TEST:1`,
  buildId,
  pipeline: 'ubuntu-base',
  stage: 'TEST',
  imageVersion: '2026.0101.1200',
  recipeHash: 'sha256:abc',
  testSummary: '12/12 checks passed',
  requestedAt: new Date(Date.now() - 1000).toISOString(),
  deadline: new Date(Date.now() + deadlineInMs).toISOString(),
});

/**
 * Starts the waiting build (unless `withBuild` is false) and sends its request as the factory does.
 * The build ends as soon as it is decided unless `lingerMs` keeps it running for a second decision.
 */
async function ask(request: ApprovalRequest, withBuild = true, lingerMs = 0): Promise<void> {
  if (withBuild) {
    builds.push(request.buildId);
    await world.host.startNew('approvalFixture', {
      instanceId: request.buildId,
      input: { request, waitMs: 3_600_000, lingerMs },
    });
  }
  const sender = world.client.createSender('approval-requests');
  await sender.sendMessages({
    messageId: request.requestId,
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    body: toRequestEvent(request, new Date().toISOString()),
  });
  await sender.close();
}

const changes = () => sim.table('change_request');
const changeFor = (request: ApprovalRequest) => changes().find((c) => c.correlation_id === request.requestId);
const requestsSettled = () => world.peer.queue('approval-requests').counts.active === 0;
const status = async (id: string) => (await world.host.getStatus(id))!;

test('approved: one normal change per request, carrying it; the CAB approval reaches the build signed', async () => {
  // One connection per queue, each scoped to its queue (EntityPath), as SAS policies on the queues are.
  const perQueue = (queue: string) => `${world.peer.connectionString};EntityPath=${queue}`;
  const { bridge: b } = await bridge(virtualClock(), {
    BRIDGE_SERVICEBUS_CONNECTION: '',
    BRIDGE_REQUESTS_CONNECTION: perQueue('approval-requests'),
    BRIDGE_REJECTS_CONNECTION: perQueue('approval-rejects'),
    BRIDGE_DECISIONS_CONNECTION: perQueue('approval-decisions'),
  });
  const request = requestFor('b-approve');
  await ask(request);
  // The same request sent again (another message id: duplicate detection would drop a same-id copy).
  const again = world.client.createSender('approval-requests');
  await again.sendMessages({
    messageId: randomUUID(),
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    body: toRequestEvent(request, new Date().toISOString()),
  });
  await again.close();
  await until(() => changes().length === 1 && requestsSettled(), logs);
  await until(() => logs.some((l) => l.includes(`request ${request.requestId}: already has change`)), logs);
  expect(changes()).toHaveLength(1);
  const change = changeFor(request)!;
  expect(change).toMatchObject({
    type: 'normal',
    state: '-5',
    correlation_id: request.requestId,
    correlation_display: MARK_AWAITING,
    end_date: request.deadline.slice(0, 19).replace('T', ' '),
    sys_created_by: OAUTH_CLIENT.user,
  });
  expect(change.short_description).toContain('ubuntu-base 2026.0101.1200 to TEST');
  expect(change.description).toContain('sha256:abc');
  expect(change.description).toContain('12/12 checks passed');
  expect(sim.calls).toContain('POST /api/sn_chg_rest/change/normal');

  expect(await b.pollOnce()).toMatchObject({ open: 1, sent: 0 });
  sim.approve(change.number!, 'jane.doe', 'CAB 22/11');
  expect(await b.pollOnce()).toMatchObject({ sent: 1 });
  const done = await world.host.waitFor(request.buildId, { timeoutMs: 20_000 });
  expect(done.runtimeStatus).toBe('Completed');
  const decision = (
    done.output as { decision: Record<string, unknown> & { proof: { eventId: string; signature: string } } }
  ).decision;
  expect(decision).toMatchObject({
    requestId: request.requestId,
    buildId: request.buildId,
    stage: 'TEST',
    imageVersion: request.imageVersion,
    decision: 'approved',
    approver: 'jane.doe',
    changeTicket: change.number,
    comment: 'CAB 22/11',
  });
  const { proof, ...data } = decision;
  expect(proof.signature).toBe(signDecision(KEY, proof.eventId, data));
  expect(change.correlation_display).toBe(MARK_ANSWERED);
  expect(sim.workNotes(change.number!).join('\n')).toContain('decision "approved" sent');
  // Answered once: the next poll has nothing left to do.
  expect(await b.pollOnce()).toMatchObject({ sent: 0, open: 0 });
  expect(logs.join('\n')).not.toContain(KEY.toString('base64'));
  expect(logs.join('\n')).not.toContain(OAUTH_CLIENT.secret);
});

test('rejected: the outbound-REST endpoint checks the change at once; a call without the secret is refused', async () => {
  const { inbound } = await bridge(virtualClock(), {
    BRIDGE_INBOUND_PORT: '0',
    BRIDGE_INBOUND_SECRET: INBOUND_SECRET,
  });
  const request = requestFor('b-reject');
  await ask(request);
  await until(() => changeFor(request) !== undefined && requestsSettled(), logs);
  const change = changeFor(request)!;
  sim.reject(change.number!, 'cab.chair', 'not this week');
  const post = (headers: Record<string, string>) =>
    fetch(inbound!.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ sys_id: change.sys_id }),
    });
  expect((await post({ 'x-bridge-secret': 'wrong' })).status).toBe(401);
  expect((await post({})).status).toBe(401);
  expect(change.correlation_display).toBe(MARK_AWAITING);
  const accepted = await post({ 'x-bridge-secret': INBOUND_SECRET });
  expect(accepted.status).toBe(200);
  expect(await accepted.json()).toEqual({ result: 'sent' });
  expect(logs.join('\n')).not.toContain(INBOUND_SECRET);
  const done = await world.host.waitFor(request.buildId, { timeoutMs: 20_000 });
  expect((done.output as { decision: object }).decision).toMatchObject({
    decision: 'rejected',
    approver: 'cab.chair',
    comment: 'not this week',
    changeTicket: change.number,
  });
});

test('a crash between creating the change and completing the message: after the restart, no second change', async () => {
  // The bridge runs as `npm run bridge` does, in its own process, and is killed (SIGKILL) the
  // moment ServiceNow has created the change, before it can complete the message.
  const env = bridgeEnv(sim, world.peer.connectionString, KEY, { BRIDGE_POLL_INTERVAL_MS: '600000' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'bridge/src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout.on('data', (chunk: Buffer) => logs.push(`[child] ${chunk.toString().trim()}`));
  child.stderr.on('data', (chunk: Buffer) => logs.push(`[child:err] ${chunk.toString().trim()}`));
  sim.afterCreate = () => {
    sim.afterCreate = undefined;
    child.kill('SIGKILL');
  };
  const request = requestFor('b-crash');
  await ask(request);
  await exited;
  expect(changes()).toHaveLength(1);
  // The message is still on the queue (locked by the dead bridge until its lock expires).
  expect(world.peer.queue('approval-requests').counts.active).toBe(1);
  const second = await bridge();
  await until(requestsSettled, logs);
  expect(changes()).toHaveLength(1);
  expect(logs).toContain(`request ${request.requestId}: already has change ${changeFor(request)!.number}`);
  sim.approve(changeFor(request)!.number!, 'jane.doe');
  expect(await second.bridge.pollOnce()).toMatchObject({ sent: 1 });
  expect((await world.host.waitFor(request.buildId, { timeoutMs: 20_000 })).runtimeStatus).toBe('Completed');
});

test('ServiceNow outage (5xx, then refused connections): the bridge backs off and loses nothing', async () => {
  const clock = virtualClock();
  const { bridge: b } = await bridge(clock);
  sim.failWith(503);
  const request = requestFor('b-outage');
  await ask(request);
  await until(() => clock.slept.length >= 8, logs);
  await sim.stop(); // now connections are refused
  const sleptBefore = clock.slept.length;
  await until(() => clock.slept.length >= sleptBefore + 8, logs);
  await expect(b.pollOnce()).rejects.toMatchObject({ code: 'ServiceNowUnavailable' });
  expect(changes()).toHaveLength(0);
  expect(world.peer.queue('approval-requests').counts).toMatchObject({ active: 1, deadLettered: 0 });
  // Back-off: each wait at least as long as the one before within a series, doubling from 1 s.
  expect(clock.slept.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
  sim.failWith(undefined);
  await sim.start();
  await until(() => changes().length === 1 && requestsSettled(), logs);
  expect(world.peer.queue('approval-requests').counts.deadLettered).toBe(0);
  sim.approve(changeFor(request)!.number!, 'jane.doe');
  expect(await b.pollOnce()).toMatchObject({ sent: 1 });
  expect((await world.host.waitFor(request.buildId, { timeoutMs: 20_000 })).runtimeStatus).toBe('Completed');
});

test('rights refused (403) hold the request until they are fixed: nothing dead-lettered, one change', async () => {
  const clock = virtualClock();
  await bridge(clock);
  sim.failWith(403);
  const request = requestFor('b-rights');
  await ask(request);
  await until(() => clock.slept.length >= 3, logs);
  expect(
    logs.some((l) => l.includes('ServiceNow refused the credentials or rights of the integration user')),
  ).toBe(true);
  expect(world.peer.queue('approval-requests').counts).toMatchObject({ active: 1, deadLettered: 0 });
  sim.failWith(undefined);
  await until(() => changes().length === 1 && requestsSettled(), logs);
  expect(world.peer.queue('approval-requests').counts.deadLettered).toBe(0);
});

test('a crash after the decision was sent, before the change was marked: the restart sends it with the same message id', async () => {
  const from = logs.length;
  const first = await bridge();
  const request = requestFor('b-resend');
  // Running a while after its decision, so that the copy below meets a decided build.
  await ask(request, true, 3000);
  await until(() => changeFor(request) !== undefined && requestsSettled(), logs);
  const change = changeFor(request)!;
  sim.approve(change.number!, 'jane.doe');
  // ServiceNow stops taking updates: the decision is out, the change keeps its "awaiting" marker.
  sim.intercept = (method) => (method === 'PATCH' ? 500 : undefined);
  await expect(first.bridge.pollOnce()).rejects.toMatchObject({ code: 'ServiceNowUnavailable' });
  await first.stop();
  expect(change.correlation_display).toBe(MARK_AWAITING);
  sim.intercept = undefined;
  const second = await bridge();
  expect(await second.bridge.pollOnce()).toMatchObject({ sent: 1 });
  const sends = logs
    .slice(from)
    .filter((l) => l.startsWith(`change ${change.number}: approved by jane.doe sent as `));
  expect(sends).toHaveLength(2);
  // Same id both times: Service Bus duplicate detection (P1D on every queue in infra) drops the copy.
  // The suite's peer runs without it, so here the factory sees the copy and refuses it as duplicate.
  expect(sends[0]).toBe(sends[1]);
  expect(change.correlation_display).toBe(MARK_ANSWERED);
  const done = await world.host.waitFor(request.buildId, { timeoutMs: 20_000 });
  expect((done.output as { decision: object }).decision).toMatchObject({
    decision: 'approved',
    approver: 'jane.doe',
  });
});

test('the polling loop backs off while ServiceNow fails and answers once it is back', async () => {
  const clock = virtualClock();
  const request = requestFor('b-poll');
  await ask(request);
  // Opened by a bridge without polling, so the loop below only has the watching to do.
  const opener = await bridge();
  await until(() => changeFor(request) !== undefined && requestsSettled(), logs);
  await opener.stop();
  sim.failWith(503);
  const from = logs.length;
  await bridge(clock, { BRIDGE_POLL_INTERVAL_MS: '1000', BRIDGE_POLL_MAX_INTERVAL_MS: '8000' }, true);
  await until(() => logs.slice(from).filter((l) => l.startsWith('poll failed')).length >= 4, logs);
  const waits = logs
    .slice(from)
    .filter((l) => l.startsWith('poll failed'))
    .map((l) => Number(/next poll in (\d+) ms/.exec(l)![1]));
  expect(waits.slice(0, 4)).toEqual([2000, 4000, 8000, 8000]);
  sim.failWith(undefined);
  sim.approve(changeFor(request)!.number!, 'jane.doe');
  const done = await world.host.waitFor(request.buildId, { timeoutMs: 20_000 });
  expect((done.output as { decision: object }).decision).toMatchObject({ decision: 'approved' });
});

test('a canceled change answers rejected', async () => {
  const { bridge: b } = await bridge();
  const request = requestFor('b-cancel');
  await ask(request);
  await until(() => changeFor(request) !== undefined && requestsSettled(), logs);
  const change = changeFor(request)!;
  sim.cancel(change.number!, 'release.manager');
  expect(change.state).toBe('4');
  expect(await b.pollOnce()).toMatchObject({ sent: 1 });
  const done = await world.host.waitFor(request.buildId, { timeoutMs: 20_000 });
  expect((done.output as { decision: object }).decision).toMatchObject({
    decision: 'rejected',
    approver: 'release.manager',
    changeTicket: change.number,
    comment: `change ${change.number} was canceled`,
  });
});

test('a change still open at the deadline is left alone and reported; a later approval is not sent', async () => {
  const clock = virtualClock();
  const { bridge: b } = await bridge(clock);
  const request = requestFor('b-deadline', 60_000);
  await ask(request);
  await until(() => changeFor(request) !== undefined && requestsSettled(), logs);
  const change = changeFor(request)!;
  expect(await b.pollOnce()).toMatchObject({ open: 1 });
  clock.skewMs = 120_000;
  expect(await b.pollOnce()).toMatchObject({ expired: 1, sent: 0 });
  expect(change).toMatchObject({ state: '-5', approval: 'not requested', correlation_display: MARK_EXPIRED });
  expect(sim.workNotes(change.number!).join('\n')).toContain('no decision before the deadline');
  expect(logs.some((l) => l.includes(`change ${change.number}`) && l.includes('REPORT'))).toBe(true);
  sim.approve(change.number!, 'late.approver');
  expect(await b.pollOnce()).toMatchObject({ sent: 0, expired: 0 });
  expect((await status(request.buildId)).runtimeStatus).toBe('Running');
  expect(logs.some((l) => l.includes('late.approver'))).toBe(false);
});

test('a decision the factory refuses comes back as a work note on the change, once', async () => {
  const { bridge: b } = await bridge();
  // No build waits for this request (e.g. it was canceled in the factory): the factory refuses.
  const request = requestFor('b-gone');
  await ask(request, false);
  await until(() => changeFor(request) !== undefined && requestsSettled(), logs);
  const change = changeFor(request)!;
  sim.approve(change.number!, 'jane.doe');
  expect(await b.pollOnce()).toMatchObject({ sent: 1 });
  await until(() => sim.workNotes(change.number!).some((n) => n.includes('refused')), logs);
  await until(() => world.peer.queue('approval-rejects').counts.active === 0, logs);
  const refusals = sim.workNotes(change.number!).filter((n) => n.includes('refused'));
  expect(refusals).toHaveLength(1);
  expect(refusals[0]).toMatch(/^Image Factory refused decision sn-[0-9a-f]{32}: no-pending-request — /);
  // The same refusal delivered again (e.g. the bridge died before completing it): no second note.
  const original = /decision (sn-[0-9a-f]{32})/.exec(refusals[0]!)![1]!;
  const sender = world.client.createSender('approval-rejects');
  await sender.sendMessages({
    messageId: randomUUID(),
    body: 'copy',
    applicationProperties: {
      reason: 'no-pending-request',
      requestId: request.requestId,
      originalMessageId: original,
    },
  });
  await sender.close();
  await until(() => logs.some((l) => l.includes(`refusal ${original} already noted`)), logs);
  await until(() => world.peer.queue('approval-rejects').counts.active === 0, logs);
  expect(sim.workNotes(change.number!).filter((n) => n.includes('refused'))).toHaveLength(1);
});
