/**
 * Key rotation as the build sees it: the app's own wiring (settings → verifyApprovalDecision) accepts a
 * decision signed with the previous key during the overlap, and after it ignores it as
 * previous-expired while the current key still works. The app's activities run on real time.
 */
import { randomBytes } from 'node:crypto';
import { signDecision } from '../../src/domain/approvals';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';
import { startFactory, type Factory } from '../pipeline/harness';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const b64 = (key: Buffer) => `base64:${key.toString('base64')}`;

async function withFactory(until: string, body: (factory: Factory) => Promise<void>): Promise<void> {
  const factory = await startFactory(
    {},
    {
      APPROVAL_SIGNING_KEY: b64(newKey),
      APPROVAL_SIGNING_KEY_PREVIOUS: b64(oldKey),
      APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: until,
    },
  );
  try {
    await body(factory);
  } finally {
    await factory.stop();
  }
}

async function pendingDecision(
  factory: Factory,
  name: string,
): Promise<{ id: string; decision: ApprovalDecision }> {
  const id = await factory.start(factory.pipelines.get('ubuntu-2204-base')!, name);
  const pending = (await factory.untilApprovalPending(id, 'TEST')).pendingApproval!;
  return {
    id,
    decision: {
      requestId: pending.requestId,
      buildId: id,
      stage: 'TEST',
      imageVersion: pending.imageVersion,
      decision: 'approved',
      approver: 'alice@contoso.com',
      changeTicket: 'CHG0000001',
      decidedAt: new Date(factory.clock.now()).toISOString(),
    },
  };
}

const raise = (factory: Factory, id: string, decision: ApprovalDecision, key: Buffer, eventId: string) =>
  factory.host.raiseEvent(id, approvalEventName('TEST'), {
    ...decision,
    proof: { eventId, signature: signDecision(key, eventId, decision) },
  });

it('during the overlap the previous key moves the build on', async () => {
  await withFactory(new Date(Date.now() + 3600_000).toISOString(), async (factory) => {
    const { id, decision } = await pendingDecision(factory, 'rotation-during');
    await raise(factory, id, decision, oldKey, 'e-old');
    const status = await factory.untilApprovalPending(id, 'PROD');
    expect(status.stages[1]?.approval).toMatchObject({ decision: 'approved', approver: 'alice@contoso.com' });
    await factory.host.raiseEvent(id, 'cancel', { reason: 'test over', requestedBy: 'test' });
    await factory.host.waitFor(id);
  });
});

it('after the overlap the previous key is ignored as previous-expired; the current key works', async () => {
  const until = new Date(Date.now() - 60_000).toISOString();
  await withFactory(until, async (factory) => {
    const { id, decision } = await pendingDecision(factory, 'rotation-after');
    await raise(factory, id, decision, oldKey, 'e-old');
    await factory.host.drive({
      until: async () => /previous-expired|overlap ended/.test((await factory.status(id)).message ?? ''),
    });
    expect((await factory.status(id)).stages[1]?.state).toBe('awaitingApproval');
    await raise(factory, id, decision, newKey, 'e-new');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.host.raiseEvent(id, 'cancel', { reason: 'test over', requestedBy: 'test' });
    const output = (await factory.host.waitFor(id)).output as {
      ignoredDecisions: { reason: string; detail?: string }[];
    };
    expect(output.ignoredDecisions).toEqual([
      expect.objectContaining({
        reason: 'unverified',
        detail: expect.stringContaining(`previous key, whose overlap ended at ${until}`),
      }),
    ]);
  });
});
