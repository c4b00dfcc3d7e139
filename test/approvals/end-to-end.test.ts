/**
 * End to end: local durable host running the real approvals trigger, local AMQP peer, the real
 * @azure/service-bus client on both sides. Accepted decisions reach the waiting orchestration;
 * forged, unsigned, mismatched, late and duplicate ones land in approval-rejects and change nothing.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { approvalsBench, decisionFor, requestFor } from './fixtures/approvals-world';
import { signDecision, toDecisionEvent } from '../../src/domain/approvals';
import type { ApprovalDecision } from '../../src/ports/approvals';

const KEY = Buffer.alloc(32, 42);
const bench = approvalsBench(KEY, ['b-wait', 'b-late', 'b-dup', 'b-script']);
const { logs, until, status, waitingBuild, sendRaw, rejectsFor, settled } = bench;

const send = (decision: ApprovalDecision, signingKey: Buffer | null = KEY, id = randomUUID()) =>
  sendRaw(
    toDecisionEvent(decision, {
      id,
      source: '/servicenow/change',
      time: new Date().toISOString(),
      ...(signingKey ? { signingKey } : {}),
    }),
    id,
  );

test('the trigger listens on the queue named by %APPROVAL_DECISIONS_QUEUE%', () => {
  expect(bench.world.triggers.listening).toEqual([
    { name: 'approvalDecisions', queue: 'approval-decisions' },
  ]);
});

test('forged, unsigned and mismatched decisions go to approval-rejects and change nothing; the valid one is taken', async () => {
  const request = requestFor('b-wait');
  await waitingBuild(request, 0);
  const refused = [
    ['bad-signature', await send(decisionFor(request, { decision: 'rejected' }), Buffer.alloc(32, 1))],
    ['unsigned', await send(decisionFor(request, { decision: 'rejected' }), null)],
    ['mismatch', await send(decisionFor(request, { decision: 'rejected', imageVersion: '2026.0101.9999' }))],
    [
      'malformed',
      await sendRaw({
        type: 'com.imagefactory.approval.decided',
        data: { ...decisionFor(request), decision: 'maybe' },
      }),
    ],
  ] as const;
  await until(() => refused.every(([, id]) => rejectsFor(id).length === 1));
  for (const [reason, id] of refused) {
    const [rejected] = rejectsFor(id);
    expect(rejected!.applicationProperties).toMatchObject({
      reason,
      buildId: 'b-wait',
      requestId: request.requestId,
    });
    expect(String(rejected!.applicationProperties.detail)).not.toContain(KEY.toString('base64'));
  }
  expect((await status('b-wait')).runtimeStatus).toBe('Running');
  // The trigger completes a message after its function returns (as the Functions host does), so
  // the refusals can reach approval-rejects a moment before their decisions are settled.
  await settled();
  // The build still waits for its decision: the first valid one is what it gets.
  const valid = decisionFor(request);
  const validId = await send(valid);
  const done = await bench.world.host.waitFor('b-wait', { timeoutMs: 15_000 });
  expect(done.runtimeStatus).toBe('Completed');
  expect(done.output).toEqual({
    decision: { ...valid, proof: { eventId: validId, signature: signDecision(KEY, validId, valid) } },
  });
  expect(logs.join('\n')).not.toContain(KEY.toString('base64'));
});

test('a late decision is refused and the build keeps waiting', async () => {
  const request = requestFor('b-late', new Date(Date.now() - 1000).toISOString());
  await waitingBuild(request);
  const id = await send(decisionFor(request, { decidedAt: new Date(Date.now() - 2000).toISOString() }));
  await until(() => rejectsFor(id).length === 1);
  expect(rejectsFor(id)[0]!.applicationProperties.reason).toBe('late');
  expect((await status('b-late')).runtimeStatus).toBe('Running');
});

test('a duplicate decision is refused; a decision for an unknown build has no pending request', async () => {
  const request = requestFor('b-dup');
  await waitingBuild(request);
  const first = decisionFor(request);
  const firstId = await send(first);
  await until(async () =>
    JSON.stringify((await status('b-dup')).customStatus).includes('"decision":"approved"'),
  );
  const again = await send(decisionFor(request, { decision: 'rejected' }));
  await until(() => rejectsFor(again).length === 1);
  expect(rejectsFor(again)[0]!.applicationProperties.reason).toBe('duplicate');
  const done = await bench.world.host.waitFor('b-dup', { timeoutMs: 15_000 });
  expect(done.output).toEqual({
    decision: { ...first, proof: { eventId: firstId, signature: signDecision(KEY, firstId, first) } },
  });

  const unknown = await send(decisionFor(requestFor('b-nobody')));
  await until(() => rejectsFor(unknown).length === 1);
  expect(rejectsFor(unknown)[0]!.applicationProperties.reason).toBe('no-pending-request');
});

test('npm run approve (scripts/approve.ts): finds the pending request, signs and sends it through Service Bus', async () => {
  const request = requestFor('b-script');
  await waitingBuild(request, 0);
  // The fixture app has no /api/builds route: the script falls back to the Durable status API.
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>(
    (resolve) => {
      execFile(
        process.execPath,
        [
          require.resolve('tsx/cli'),
          'scripts/approve.ts',
          'b-script',
          'TEST',
          '--ticket',
          'CHG0009999',
          '--reject',
          '--approver',
          'sam',
          '--comment',
          'CAB said no',
        ],
        {
          env: {
            PATH: process.env.PATH,
            FACTORY_URL: bench.world.front.url,
            FACTORY_KEY: 'master',
            ServiceBusConnection: bench.world.peer.connectionString,
            APPROVAL_SIGNING_KEY: `base64:${KEY.toString('base64')}`,
          },
          timeout: 30_000,
        },
        (error, out, err) =>
          resolve({ stdout: out, stderr: err, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
      );
    },
  );
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain('rejected TEST of build b-script');
  expect(stdout).toContain('signed');
  expect(stdout).not.toContain(KEY.toString('base64'));
  const done = await bench.world.host.waitFor('b-script', { timeoutMs: 15_000 });
  expect(done.output).toEqual({
    decision: expect.objectContaining({
      requestId: request.requestId,
      decision: 'rejected',
      approver: 'sam',
      changeTicket: 'CHG0009999',
      comment: 'CAB said no',
    }) as unknown,
  });
});
