/**
 * No decision lost (issue 14 item 4): every decision the factory can read ends raised or on
 * approval-rejects with a reason; the dead-letter queue is only for outages. Ids a Durable URL cannot
 * carry are refused by the schema (zod and the published JSON Schema alike); a decision for a build
 * that ended, timed out or vanished is refused, never raised into the void.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { approvalsBench, decisionFor, requestFor } from './fixtures/approvals-world';
import {
  APPROVAL_DECIDED_TYPE,
  approvalDecisionEventSchema,
  createDecisionHandler,
  SIGALG_HMAC_SHA256,
  signDecision,
  type Refusal,
} from '../../src/domain/approvals';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { ApprovalDecision, ApprovalRequest } from '../../src/ports/approvals';

const KEY = Buffer.alloc(32, 42);
const BAD_IDS = ['b-path/..', '.', '..', 'a/..', 'a/b', '@b', 'a#b', 'a?b', 'a\\b', 'a\u0007b'];

/** Built by hand, as a sender that never saw our schema would: toDecisionEvent refuses bad ids. */
const eventFor = (decision: ApprovalDecision, id = randomUUID()) => ({
  specversion: '1.0',
  id,
  source: '/servicenow/change',
  type: APPROVAL_DECIDED_TYPE,
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data: decision,
  sigalg: SIGALG_HMAC_SHA256,
  signature: signDecision(KEY, id, decision),
});

describe('ids a Durable instance URL cannot carry', () => {
  const published = JSON.parse(
    readFileSync(join(__dirname, '../../schemas/approval-decision.schema.json'), 'utf8'),
  ) as { properties: { data: { properties: Record<string, { pattern: string }> } } };

  test.each(BAD_IDS)('%j as buildId, requestId or stage is refused by zod and the JSON Schema', (bad) => {
    const request = requestFor('b-1');
    for (const field of ['buildId', 'requestId', 'stage'] as const) {
      const event = eventFor(decisionFor(request, { [field]: bad }));
      const parsed = approvalDecisionEventSchema.safeParse(event);
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual([`data.${field}`]);
      const pattern = published.properties.data.properties[field]!.pattern;
      expect(new RegExp(pattern, 'u').test(bad)).toBe(false);
    }
  });

  test('the ids the factory makes still pass', () => {
    const pattern = new RegExp(published.properties.data.properties.buildId!.pattern, 'u');
    for (const id of ['ubuntu-2204-base-0123456789abcdef0123', 'cadence-ubuntu-20261112T0600Z', 'b-1:TEST:1'])
      expect(pattern.test(id)).toBe(true);
  });
});

describe('handler: refusals instead of lost or mislabelled decisions', () => {
  const NOW = '2026-01-02T13:00:00.000Z';
  const request: ApprovalRequest = {
    ...requestFor('b-9'),
    requestedAt: '2026-01-01T12:00:00.000Z',
    deadline: '2026-01-02T12:00:00.000Z',
  };
  const handlerWith = (rejects: Refusal[]) =>
    createDecisionHandler({
      sendToRejects: (_body, refusal) => {
        rejects.push(refusal);
        return Promise.resolve();
      },
      signingKey: KEY,
      now: () => NOW,
      log: () => undefined,
    });

  test('a decision after the build recorded its deadline is late, not a duplicate', async () => {
    const rejects: Refusal[] = [];
    const status: Partial<BuildCustomStatus> = {
      buildId: 'b-9',
      stages: [
        {
          name: 'TEST',
          tenantId: 't',
          state: 'timedOut',
          approval: {
            requestId: request.requestId,
            requestedAt: request.requestedAt,
            deadline: request.deadline,
            decision: 'timedOut',
            decidedAt: request.deadline,
          },
        },
      ],
    };
    const raised: unknown[] = [];
    const access = {
      getBuildStatus: () => Promise.resolve(status),
      raiseEvent: (...args: unknown[]) => {
        raised.push(args);
        return Promise.resolve('raised' as const);
      },
    };
    const event = eventFor(decisionFor(request, { decidedAt: '2026-01-02T11:00:00.000Z' }));
    await expect(handlerWith(rejects)(event, { messageId: 'm1' }, access)).resolves.toMatchObject({
      accept: false,
      reason: 'late',
    });
    expect(rejects).toEqual([
      expect.objectContaining({ reason: 'late', originalMessageId: 'm1', buildId: 'b-9' }) as unknown,
    ]);
    expect(raised).toEqual([]);
  });

  test('a build that vanished between status and raise: the decision is refused, not taken', async () => {
    const rejects: Refusal[] = [];
    const early = { ...request, deadline: '2026-01-03T12:00:00.000Z' };
    const access = {
      getBuildStatus: () => Promise.resolve({ buildId: 'b-9', stages: [], pendingApproval: early }),
      raiseEvent: () => Promise.resolve('not-found' as const),
    };
    const event = eventFor(decisionFor(early, { decidedAt: '2026-01-02T11:00:00.000Z' }));
    await expect(handlerWith(rejects)(event, { messageId: 'm2' }, access)).resolves.toMatchObject({
      accept: false,
      reason: 'no-pending-request',
    });
    expect(rejects).toEqual([
      expect.objectContaining({ reason: 'no-pending-request', originalMessageId: 'm2' }) as unknown,
    ]);
  });

  test.each([
    ['ended without a decision', 'no-pending-request', undefined],
    ['timed out', 'late', 'timedOut'],
  ] as const)(
    'a build that %s between status and raise (410, swallowed by the client): refused as %s',
    async (_what, reason, recorded) => {
      const rejects: Refusal[] = [];
      const early = { ...request, deadline: '2026-01-03T12:00:00.000Z' };
      const statuses: Partial<BuildCustomStatus>[] = [
        { buildId: 'b-9', stages: [], pendingApproval: early },
        {
          buildId: 'b-9',
          stages: [
            {
              name: 'TEST',
              tenantId: 't',
              state: 'timedOut',
              approval: {
                requestId: early.requestId,
                requestedAt: early.requestedAt,
                deadline: early.deadline,
                ...(recorded === undefined ? {} : { decision: recorded }),
              },
            },
          ],
        },
      ];
      const access = {
        getBuildStatus: () => Promise.resolve(statuses.shift()),
        raiseEvent: () => Promise.resolve('raised' as const),
      };
      const event = eventFor(decisionFor(early, { decidedAt: '2026-01-02T11:00:00.000Z' }));
      await expect(handlerWith(rejects)(event, { messageId: 'm4' }, access)).resolves.toMatchObject({
        accept: false,
        reason,
      });
      expect(rejects).toEqual([expect.objectContaining({ reason, originalMessageId: 'm4' }) as unknown]);
    },
  );

  test('a decision the build took (still pending, or recorded) is accepted after the second look', async () => {
    const early = { ...request, deadline: '2026-01-03T12:00:00.000Z' };
    const decision = decisionFor(early, { decidedAt: '2026-01-02T11:00:00.000Z' });
    for (const after of [
      { buildId: 'b-9', stages: [], pendingApproval: early },
      {
        buildId: 'b-9',
        stages: [
          {
            name: 'TEST',
            tenantId: 't',
            state: 'promoting' as const,
            approval: {
              requestId: early.requestId,
              requestedAt: '',
              deadline: '',
              decision: 'approved' as const,
            },
          },
        ],
      },
    ]) {
      const rejects: Refusal[] = [];
      const statuses: Partial<BuildCustomStatus>[] = [
        { buildId: 'b-9', stages: [], pendingApproval: early },
        after,
      ];
      const access = {
        getBuildStatus: () => Promise.resolve(statuses.shift()),
        raiseEvent: () => Promise.resolve('raised' as const),
      };
      await expect(handlerWith(rejects)(eventFor(decision), {}, access)).resolves.toMatchObject({
        accept: true,
      });
      expect(rejects).toEqual([]);
    }
  });
});

describe('end to end: local durable host, real trigger, AMQP peer', () => {
  const bench = approvalsBench(KEY, ['b-path']);
  const { logs, until, status, waitingBuild, sendRaw, rejectsFor, settled } = bench;
  const send = (decision: ApprovalDecision) => {
    const id = randomUUID();
    return sendRaw(eventFor(decision, id), id);
  };

  test("a decision whose buildId or stage is '<id>/..', '.' or 'a/..' is refused as malformed, not dead-lettered", async () => {
    const request = requestFor('b-path');
    await waitingBuild(request);
    const sent = [
      await send(decisionFor(request, { buildId: 'b-path/..' })),
      await send(decisionFor(request, { buildId: '.' })),
      await send(decisionFor(request, { buildId: 'a/..' })),
      await send(decisionFor(request, { stage: 'TEST/..' })),
    ];
    await until(() => sent.every((id) => rejectsFor(id).length === 1));
    for (const id of sent) {
      const properties = rejectsFor(id)[0]!.applicationProperties;
      expect(properties.reason).toBe('malformed');
      expect(String(properties.detail)).toMatch(/^data\.(buildId|stage): /);
    }
    await settled();
    expect((await status('b-path')).runtimeStatus).toBe('Running');
    expect(logs.join('\n')).not.toContain('approval decision accepted');
  });

  test('odd JSON (deeply nested, proto keys, a bare value) is refused as malformed, not dead-lettered', async () => {
    const depth = 20_000;
    const bodies = [
      `{"type":"com.imagefactory.approval.decided","data":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      '{"__proto__":{"buildId":"b-path"},"data":{"constructor":{"prototype":{}}}}',
      'null',
      '"text"',
      '{"data":',
    ];
    const sent: string[] = [];
    for (const text of bodies) sent.push(await sendRaw(Buffer.from(text)));
    await until(() => sent.every((id) => rejectsFor(id).length === 1));
    for (const id of sent) expect(rejectsFor(id)[0]!.applicationProperties.reason).toBe('malformed');
    // The SDK cannot write the nested body again (JSON.stringify recurses): it is left out, said so.
    expect(rejectsFor(sent[0]!)[0]!.applicationProperties.bodyOmitted).toMatch(/nested too deeply/);
    expect(rejectsFor(sent[1]!)[0]!.applicationProperties.bodyOmitted).toBeUndefined();
    await settled();
  });

  test('a decision just under the size limit is refused as malformed even though body and refusal do not fit one message', async () => {
    const text = JSON.stringify({
      type: 'com.imagefactory.approval.decided',
      data: { comment: 'x'.repeat(261_400) },
    });
    const id = await sendRaw(Buffer.from(text));
    await until(() => rejectsFor(id).length === 1);
    const properties = rejectsFor(id)[0]!.applicationProperties;
    expect(properties.reason).toBe('malformed');
    expect(properties.bodyOmitted).toMatch(/too large/);
    await settled();
  });

  test('a decision for a build that timed out or was terminated is refused, not raised into the void', async () => {
    const timedOut = requestFor('b-ended');
    await bench.world.host.startNew('approvalFixture', {
      instanceId: 'b-ended',
      input: { request: timedOut, waitMs: 0 },
    });
    await bench.world.host.waitFor('b-ended', { timeoutMs: 15_000 });
    const terminated = requestFor('b-killed');
    await waitingBuild(terminated);
    await bench.world.host.terminate('b-killed', 'canceled by an operator');
    await until(async () => (await status('b-killed')).runtimeStatus === 'Terminated');
    // Both still show the pending request in their last customStatus.
    for (const id of ['b-ended', 'b-killed'])
      expect(JSON.stringify((await status(id)).customStatus)).toContain('pendingApproval');

    const sent = [await send(decisionFor(timedOut)), await send(decisionFor(terminated))];
    await until(() => sent.every((id) => rejectsFor(id).length === 1));
    for (const id of sent)
      expect(['late', 'no-pending-request']).toContain(rejectsFor(id)[0]!.applicationProperties.reason);
    await settled();
  });
});
