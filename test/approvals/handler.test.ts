/**
 * The decision handler (createDecisionHandler) against an in-memory build (the Durable far end) and
 * an in-memory rejects queue: decisions that arrive together for one build are handled one after
 * another, so a second copy of an accepted decision is refused as a duplicate, never raised twice.
 */
import {
  answerRequest,
  createDecisionHandler,
  parseSigningKey,
  signDecision,
  toDecisionEvent,
  type Refusal,
} from '../../src/domain/approvals';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { approvalEventName, type ApprovalDecision, type ApprovalRequest } from '../../src/ports/approvals';

const KEY = parseSigningKey(`base64:${Buffer.alloc(32, 9).toString('base64')}`);
const request: ApprovalRequest = {
  requestId: 'b-7:PROD:1',
  buildId: 'b-7',
  pipeline: 'ubuntu-base',
  stage: 'PROD',
  imageVersion: '2026.0101.1200',
  recipeHash: 'sha256:abc',
  testSummary: 'ok',
  requestedAt: '2026-01-01T12:00:00.000Z',
  deadline: '2026-01-02T12:00:00.000Z',
};
const decision: ApprovalDecision = answerRequest(request, {
  decision: 'approved',
  approver: 'jane.doe',
  changeTicket: 'CHG0001234',
  decidedAt: '2026-01-01T13:00:00.000Z',
});

/** A build whose status shows the decision only some time after the event was raised. */
function slowBuild() {
  let status: Partial<BuildCustomStatus> = { buildId: 'b-7', stages: [], pendingApproval: request };
  const raised: { name: string; decision: ApprovalDecision }[] = [];
  const delay = () => new Promise((r) => setTimeout(r, 20));
  return {
    raised,
    access: {
      getBuildStatus: async () => {
        await delay();
        return status;
      },
      raiseEvent: async (_id: string, name: string, d: ApprovalDecision) => {
        await delay();
        raised.push({ name, decision: d });
        setTimeout(() => {
          status = {
            buildId: 'b-7',
            stages: [
              {
                name: 'PROD',
                tenantId: 't',
                state: 'promoting',
                approval: { requestId: d.requestId, requestedAt: '', deadline: '', decision: d.decision },
              },
            ],
          };
        }, 200);
      },
    },
  };
}

test('two copies of one decision handled at once: one is raised, the other goes to rejects as duplicate', async () => {
  const rejects: Refusal[] = [];
  const handle = createDecisionHandler({
    sendToRejects: (_body, refusal) => {
      rejects.push(refusal);
      return Promise.resolve();
    },
    signingKey: KEY,
    now: () => '2026-01-01T13:00:05.000Z',
    log: () => undefined,
  });
  const build = slowBuild();
  const event = (id: string) =>
    toDecisionEvent(decision, {
      id,
      source: '/servicenow/change',
      time: decision.decidedAt,
      signingKey: KEY,
    });
  const results = await Promise.all([
    handle(event('e1'), { messageId: 'm1' }, build.access),
    handle(event('e2'), { messageId: 'm2' }, build.access),
  ]);
  expect(results.map((r) => r.accept)).toEqual([true, false]);
  // The signature goes along: the build has it checked again before acting.
  expect(build.raised).toEqual([
    {
      name: approvalEventName('PROD'),
      decision: { ...decision, proof: { eventId: 'e1', signature: signDecision(KEY, 'e1', decision) } },
    },
  ]);
  expect(rejects).toEqual([
    expect.objectContaining({ reason: 'duplicate', originalMessageId: 'm2', buildId: 'b-7' }) as unknown,
  ]);
});

test('a failure reaching the build is thrown (the message is abandoned and retried), and the next decision still runs', async () => {
  const rejects: Refusal[] = [];
  const handle = createDecisionHandler({
    sendToRejects: (_body, refusal) => {
      rejects.push(refusal);
      return Promise.resolve();
    },
    signingKey: KEY,
    now: () => '2026-01-01T13:00:05.000Z',
    log: () => undefined,
  });
  const event = toDecisionEvent(decision, {
    id: 'e3',
    source: '/servicenow/change',
    time: decision.decidedAt,
    signingKey: KEY,
  });
  const broken = {
    getBuildStatus: () => Promise.reject(new Error('durable unavailable')),
    raiseEvent: () => Promise.resolve(),
  };
  await expect(handle(event, { messageId: 'm3' }, broken)).rejects.toThrow('durable unavailable');
  expect(rejects).toEqual([]);
  const build = slowBuild();
  await expect(handle(event, { messageId: 'm3' }, build.access)).resolves.toMatchObject({ accept: true });
  expect(build.raised).toHaveLength(1);
});
