/**
 * With APPROVAL_SIGNING_KEY set, the build itself checks the decision's signature before acting:
 * an event raised straight through the Durable API (whose links carry the system key) without a
 * valid proof is recorded as ignored and the build keeps waiting; the signed one moves it on.
 */
import { signDecision } from '../../src/domain/approvals';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';
import { decisionFor, startFactory, type Factory } from './harness';

const SIGNING_KEY = 'pipeline-test-signing-key-0123456789abcdef';

let factory: Factory;
beforeAll(async () => {
  factory = await startFactory({}, { APPROVAL_SIGNING_KEY: SIGNING_KEY });
});
afterAll(async () => {
  await factory.stop();
});

it('unsigned and wrongly signed decisions are ignored with the reason; the signed one is acted on', async () => {
  const id = await factory.start(factory.pipelines.get('ubuntu-2204-base')!, 'signed-approvals');
  const pending = (await factory.untilApprovalPending(id, 'TEST')).pendingApproval!;
  const decision: ApprovalDecision = decisionFor(pending, factory.clock, {
    decision: 'approved',
    approver: 'mallory@contoso.com',
    changeTicket: 'CHG0000001',
  });
  const ignoredCount = async () => ((await factory.status(id)).message ?? '').match(/ignored/g)?.length ?? 0;
  await factory.host.raiseEvent(id, approvalEventName('TEST'), decision);
  await factory.host.drive({ until: async () => (await ignoredCount()) > 0 });
  expect((await factory.status(id)).message).toContain('unsigned');
  const wrongKey = Buffer.from('another-key-another-key-another-key!!');
  await factory.host.raiseEvent(id, approvalEventName('TEST'), {
    ...decision,
    proof: { eventId: 'e-1', signature: signDecision(wrongKey, 'e-1', decision) },
  });
  await factory.host.drive({
    until: async () => /bad-signature/.test((await factory.status(id)).message ?? ''),
  });
  let status = await factory.status(id);
  expect(status.stages[1]?.state).toBe('awaitingApproval');
  expect(status.pendingApproval).toEqual(pending);

  const genuine = { ...decision, approver: 'alice@contoso.com' };
  await factory.host.raiseEvent(id, approvalEventName('TEST'), {
    ...genuine,
    proof: { eventId: 'e-2', signature: signDecision(Buffer.from(SIGNING_KEY), 'e-2', genuine) },
  });
  status = await factory.untilApprovalPending(id, 'PROD');
  expect(status.stages[1]?.approval).toMatchObject({ decision: 'approved', approver: 'alice@contoso.com' });
  await factory.host.raiseEvent(id, 'cancel', { reason: 'test over', requestedBy: 'test' });
  const output = (await factory.host.waitFor(id)).output as {
    ignoredDecisions: { reason: string; detail?: string; approver: string }[];
  };
  expect(output.ignoredDecisions).toEqual([
    expect.objectContaining({
      reason: 'unverified',
      approver: 'mallory@contoso.com',
      detail: expect.stringMatching(/^unsigned/),
    }),
    expect.objectContaining({ reason: 'unverified', detail: expect.stringMatching(/^bad-signature/) }),
  ]);
});
