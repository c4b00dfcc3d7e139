/**
 * Message contract, schema files, signatures and every refusal of evaluateDecision.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  answerRequest,
  approvalDecisionEventSchema,
  approvalJsonSchemas,
  approvalRequestEventSchema,
  canonicalDecision,
  evaluateDecision,
  parseSigningKey,
  signDecision,
  toDecisionEvent,
  toRequestEvent,
  verifyDecisionSignature,
} from '../../src/domain/approvals';
import { approvalsSettingsSchema } from '../../src/config/approvals';
import type { ApprovalDecision, ApprovalRequest } from '../../src/ports/approvals';

const KEY = parseSigningKey(`base64:${Buffer.alloc(32, 7).toString('base64')}`);
const request: ApprovalRequest = {
  requestId: 'b-1:TEST:1',
  buildId: 'b-1',
  pipeline: 'ubuntu-base',
  stage: 'TEST',
  imageVersion: '2026.0101.1200',
  recipeHash: 'sha256:abc',
  testSummary: '12 passed',
  requestedAt: '2026-01-01T12:00:00.000Z',
  deadline: '2026-01-02T12:00:00.000Z',
};
const decision: ApprovalDecision = answerRequest(request, {
  decision: 'approved',
  approver: 'jane.doe',
  changeTicket: 'CHG0001234',
  decidedAt: '2026-01-01T13:00:00.000Z',
});
const NOW = '2026-01-01T13:00:05.000Z';
const signed = (d: ApprovalDecision = decision, id = 'evt-1') =>
  toDecisionEvent(d, { id, source: '/servicenow/change', time: NOW, signingKey: KEY });

describe('contract', () => {
  test('request event round-trips through JSON and the schema', () => {
    const event = toRequestEvent(request, request.requestedAt);
    expect(event).toMatchObject({
      specversion: '1.0',
      id: request.requestId,
      type: 'com.imagefactory.approval.requested',
      datacontenttype: 'application/json',
      subject: 'b-1/TEST',
    });
    expect(approvalRequestEventSchema.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  test('decision event round-trips; unknown fields and wrong types are refused with paths', () => {
    const event = signed();
    expect(approvalDecisionEventSchema.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
    const bad = approvalDecisionEventSchema.safeParse({
      ...event,
      data: { ...decision, decision: 'maybe', extra: 1 },
    });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['data.decision', 'data']));
  });

  test('committed JSON Schemas equal the ones generated from zod', () => {
    for (const [file, schema] of Object.entries(approvalJsonSchemas())) {
      const path = join(__dirname, '../../schemas', file);
      // UPDATE_SCHEMAS=1 npx jest test/approvals/contract.test.ts && npx prettier --write schemas
      if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(path, `${JSON.stringify(schema, null, 2)}\n`);
      // Compared as JSON (the files are Prettier-formatted).
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(schema);
    }
  });

  test('settings: a short or non-base64 signing key is refused without echoing it', () => {
    const short = approvalsSettingsSchema.safeParse({ APPROVAL_SIGNING_KEY: 'tooShortSecret' });
    expect(short.success).toBe(false);
    expect(JSON.stringify(short.error!.issues)).not.toContain('tooShortSecret');
    expect(approvalsSettingsSchema.safeParse({ APPROVAL_SIGNING_KEY: 'base64:!!!' }).success).toBe(false);
    const ok = approvalsSettingsSchema.parse({ APPROVAL_SIGNING_KEY: '', ServiceBusConnection: '' });
    expect(ok.APPROVAL_SIGNING_KEY).toBeUndefined();
    expect(ok.ServiceBusConnection).toBeUndefined();
    expect(ok.APPROVAL_REJECTS_QUEUE).toBe('approval-rejects');
  });
});

describe('signing', () => {
  test('canonical form: sorted keys at every depth, no whitespace, data then id', () => {
    expect(canonicalDecision('e', { b: 1, a: { d: [2, { z: 1, y: 'x' }], c: null } })).toBe(
      '{"data":{"a":{"c":null,"d":[2,{"y":"x","z":1}]},"b":1},"id":"e"}',
    );
  });

  test('a known vector (so other languages can check their implementation)', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    // HMAC-SHA256(key, '{"data":{"a":1},"id":"evt-1"}'), base64
    expect(signDecision(key, 'evt-1', { a: 1 })).toBe('MmAEmI8JMfdR/rcoDoSyLZRsKcnFG1OyarRyseTNC6I=');
  });

  test('verification fails for another key, another id or changed data', () => {
    const sig = signDecision(KEY, 'evt-1', decision);
    expect(verifyDecisionSignature(KEY, 'evt-1', decision, sig)).toBe(true);
    expect(verifyDecisionSignature(Buffer.alloc(32, 8), 'evt-1', decision, sig)).toBe(false);
    expect(verifyDecisionSignature(KEY, 'evt-2', decision, sig)).toBe(false);
    expect(verifyDecisionSignature(KEY, 'evt-1', { ...decision, decision: 'rejected' }, sig)).toBe(false);
  });
});

describe('evaluateDecision', () => {
  test('accepts a signed, matching, timely decision (object, JSON text or bytes)', () => {
    const event = signed();
    for (const body of [event, JSON.stringify(event), Buffer.from(JSON.stringify(event))])
      expect(evaluateDecision(body, request, NOW, KEY)).toEqual({
        accept: true,
        decision,
        eventId: 'evt-1',
        signature: signDecision(KEY, 'evt-1', decision),
        keyGeneration: 'current',
      });
  });

  test('accepts an unsigned decision when no key is configured', () => {
    const unsigned = toDecisionEvent(decision, { id: 'evt-2', source: '/x', time: NOW });
    expect(evaluateDecision(unsigned, request, NOW).accept).toBe(true);
  });

  test.each([
    ['not JSON', 'malformed', '{nope'],
    ['not a CloudEvent', 'malformed', { hello: 1 }],
    ['wrong type', 'malformed', { ...signed(), type: 'com.other' }],
  ])('%s → %s', (_, reason, body) => {
    const result = evaluateDecision(body, request, NOW, KEY);
    expect(result).toMatchObject({ accept: false, reason });
  });

  test('malformed by a huge unknown attribute: the detail names it without repeating it whole', () => {
    const huge = `a${'x'.repeat(9_999)}`;
    const result = evaluateDecision({ ...signed(), [huge]: 1 }, request, NOW, KEY);
    expect(result).toMatchObject({ accept: false, reason: 'malformed' });
    const detail = (result as { detail: string }).detail;
    expect(detail).toMatch(/^\(event\): Unrecognized key: "axx.*\(10000 characters\)"$/);
    expect(detail.length).toBeLessThan(200);
  });

  test('unsigned when a key is configured', () => {
    const unsigned = toDecisionEvent(decision, { id: 'evt-3', source: '/x', time: NOW });
    expect(evaluateDecision(unsigned, request, NOW, KEY)).toMatchObject({
      accept: false,
      reason: 'unsigned',
    });
  });

  test('bad-signature: forged with another key, or data changed after signing; detail has no signature', () => {
    const forged = toDecisionEvent(decision, {
      id: 'evt-4',
      source: '/x',
      time: NOW,
      signingKey: Buffer.alloc(32, 9),
    });
    const result = evaluateDecision(forged, request, NOW, KEY);
    expect(result).toMatchObject({ accept: false, reason: 'bad-signature' });
    expect(JSON.stringify(result)).not.toContain(forged.signature!);
    const tampered = { ...signed(), data: { ...decision, approver: 'mallory' } };
    expect(evaluateDecision(tampered, request, NOW, KEY)).toMatchObject({ reason: 'bad-signature' });
  });

  test('no-pending-request', () => {
    expect(evaluateDecision(signed(), undefined, NOW, KEY)).toMatchObject({ reason: 'no-pending-request' });
  });

  test.each([
    ['requestId', 'b-1:TEST:2'],
    ['buildId', 'b-2'],
    ['stage', 'PROD'],
    ['imageVersion', '2026.0101.1300'],
  ] as const)('mismatch on %s', (field, value) => {
    const result = evaluateDecision(signed({ ...decision, [field]: value }), request, NOW, KEY);
    expect(result).toMatchObject({ accept: false, reason: 'mismatch' });
    expect(result.accept ? '' : result.detail).toContain(field);
  });

  test('late: processed after the deadline, or decided after it', () => {
    expect(evaluateDecision(signed(), request, '2026-01-02T12:00:00.001Z', KEY)).toMatchObject({
      reason: 'late',
    });
    const decidedLate = signed({ ...decision, decidedAt: '2026-01-03T00:00:00.000Z' });
    expect(evaluateDecision(decidedLate, request, NOW, KEY)).toMatchObject({ reason: 'late' });
  });

  test('duplicate: the request was already decided', () => {
    expect(evaluateDecision(signed(), request, NOW, KEY, new Set([request.requestId]))).toMatchObject({
      reason: 'duplicate',
    });
  });
});
