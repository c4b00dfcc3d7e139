/**
 * Issue 14 item 3: the signing key is checked at start-up (no unresolved Key Vault reference, random
 * bytes when hosted), a decision cannot predate its request, and the key can be rotated with an
 * overlap that the trigger and the build's re-check (verifyApprovalDecision) judge alike.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';
import { approvalSigningKeys } from '../../src/config/approvals';
import { createPipelineActivities } from '../../src/activities/pipeline';
import {
  answerRequest,
  createDecisionHandler,
  evaluateDecision,
  type Refusal,
  signDecision,
  toDecisionEvent,
  type SigningKeys,
} from '../../src/domain/approvals';
import { Activities, type DecisionVerification } from '../../src/domain/pipeline/activities';
import type { ApprovalDecision, ApprovalRequest } from '../../src/ports/approvals';
import { FactoryError } from '../../src/shared/errors';

const b64 = (bytes: Buffer) => `base64:${bytes.toString('base64')}`;
const REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/approval-signing-key/)';

function configError(env: Record<string, string>): string {
  try {
    loadConfig({ TASK_HUB_NAME: 'ImageFactory', ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(FactoryError);
    return (error as FactoryError).message;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('start-up check of the signing key', () => {
  test('an unresolved Key Vault reference is refused, naming the setting and the cause, not the value', () => {
    const message = configError({ APPROVAL_SIGNING_KEY: REFERENCE });
    expect(message).toContain('APPROVAL_SIGNING_KEY');
    expect(message).toMatch(/unresolved Key Vault reference/);
    expect(message).toMatch(/App Service passes the literal/);
    expect(message).not.toContain('kv-x');
    // Locally too: the reference text is guessable, whatever the hosting.
    expect(configError({ APPROVAL_SIGNING_KEY: `  ${REFERENCE}`, WEBSITE_INSTANCE_ID: 'abc' })).toMatch(
      /APPROVAL_SIGNING_KEY: is an unresolved Key Vault reference/,
    );
  });

  test('hosted (WEBSITE_INSTANCE_ID or WEBSITE_SITE_NAME set) the key must be base64: with at least 32 bytes', () => {
    const text = 'a-typed-passphrase-that-is-long-enough-0123';
    const hosted = { WEBSITE_INSTANCE_ID: '0f1e2d3c' };
    const message = configError({ ...hosted, APPROVAL_SIGNING_KEY: text });
    expect(message).toMatch(/APPROVAL_SIGNING_KEY: outside local runs the key must be "base64:/);
    expect(message).not.toContain(text);
    expect(configError({ ...hosted, APPROVAL_SIGNING_KEY: b64(randomBytes(16)) })).toMatch(
      /APPROVAL_SIGNING_KEY: too short \(16 bytes/,
    );
    // Either platform setting marks a hosted run.
    expect(configError({ WEBSITE_SITE_NAME: 'func-abc', APPROVAL_SIGNING_KEY: text })).toMatch(
      /outside local runs/,
    );
    expect(
      loadConfig({ TASK_HUB_NAME: 'ImageFactory', ...hosted, APPROVAL_SIGNING_KEY: b64(randomBytes(32)) })
        .APPROVAL_SIGNING_KEY,
    ).toMatch(/^base64:/);
    // Local runs keep accepting a text key (the sample's).
    expect(
      loadConfig({ TASK_HUB_NAME: 'ImageFactory', APPROVAL_SIGNING_KEY: text }).APPROVAL_SIGNING_KEY,
    ).toBe(text);
  });

  test('the previous key is read only with an overlap end, and then checked like the current one', () => {
    const current = b64(randomBytes(32));
    // Infra always references the previous secret; unresolved between rotations, it is not read.
    const idle = loadConfig({
      TASK_HUB_NAME: 'ImageFactory',
      WEBSITE_INSTANCE_ID: 'x',
      APPROVAL_SIGNING_KEY: current,
      APPROVAL_SIGNING_KEY_PREVIOUS: REFERENCE,
    });
    expect(approvalSigningKeys(idle)?.previous).toBeUndefined();
    expect(
      configError({
        APPROVAL_SIGNING_KEY: current,
        APPROVAL_SIGNING_KEY_PREVIOUS: REFERENCE,
        APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: '2026-12-08T12:00:00Z',
      }),
    ).toMatch(/APPROVAL_SIGNING_KEY_PREVIOUS: is an unresolved Key Vault reference/);
    expect(
      configError({
        APPROVAL_SIGNING_KEY: current,
        APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: '2026-12-08T12:00:00Z',
      }),
    ).toMatch(/APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: is set but APPROVAL_SIGNING_KEY_PREVIOUS is empty/);
    expect(
      configError({
        APPROVAL_SIGNING_KEY: current,
        APPROVAL_SIGNING_KEY_PREVIOUS: b64(randomBytes(32)),
        APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: '8 December',
      }),
    ).toMatch(/APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: must be an ISO 8601 time with a zone/);
  });
});

const request: ApprovalRequest = {
  requestId: 'b-1:TEST:1',
  buildId: 'b-1',
  pipeline: 'ubuntu-base',
  stage: 'TEST',
  imageVersion: '2026.0101.1200',
  recipeHash: 'sha256:abc',
  testSummary: '12 passed',
  requestedAt: '2026-01-01T12:00:00.000Z',
  deadline: '2026-01-03T12:00:00.000Z',
};
const decide = (decidedAt: string): ApprovalDecision =>
  answerRequest(request, {
    decision: 'approved',
    approver: 'jane.doe',
    changeTicket: 'CHG0001234',
    decidedAt,
  });

test('a decision decided before its request was made is refused as bad-time', () => {
  const key = randomBytes(32);
  const early = decide('2026-01-01T11:59:59.000Z');
  const event = toDecisionEvent(early, {
    id: 'e-1',
    source: '/cab',
    time: '2026-01-01T13:00:00Z',
    signingKey: key,
  });
  const result = evaluateDecision(event, request, '2026-01-01T13:00:00.000Z', key);
  expect(result).toMatchObject({ accept: false, reason: 'bad-time' });
  expect(!result.accept && result.detail).toContain(
    'before request b-1:TEST:1 was made (2026-01-01T12:00:00.000Z)',
  );
  const onTime = decide('2026-01-01T12:00:00.000Z');
  const ok = toDecisionEvent(onTime, {
    id: 'e-2',
    source: '/cab',
    time: '2026-01-01T13:00:00Z',
    signingKey: key,
  });
  expect(evaluateDecision(ok, request, '2026-01-01T13:00:00.000Z', key).accept).toBe(true);
});

describe('key rotation', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const until = '2026-01-02T12:00:00.000Z';
  const keys: SigningKeys = { current: newKey, previous: { key: oldKey, until } };
  const decision = decide('2026-01-01T13:00:00.000Z');
  const during = '2026-01-02T11:59:59.000Z';
  const after = '2026-01-02T12:00:01.000Z';

  // The re-check is asked at several times, back and forth: a settable clock.
  let nowMs = 0;
  const clock = { now: () => nowMs };
  const activities = createPipelineActivities({
    // verifyApprovalDecision uses only the key and the clock.
    azure: undefined as never,
    approvals: undefined as never,
    clock,
    quickRetryPauseMs: 1,
    log: () => undefined,
    buildSlotsPerSubscriptionRegion: 1,
    approvalSigningKey: keys,
  });
  const recheck = (signature: string, at: string): Promise<DecisionVerification> => {
    nowMs = Date.parse(at);
    return (activities[Activities.verifyApprovalDecision] as (i: unknown) => Promise<DecisionVerification>)({
      decision,
      proof: { eventId: 'e-9', signature },
    });
  };
  const trigger = (signingKey: Buffer, at: string) =>
    evaluateDecision(
      toDecisionEvent(decision, { id: 'e-9', source: '/cab', time: at, signingKey }),
      request,
      at,
      keys,
    );

  test('the previous key counts during the overlap and not after; trigger and re-check agree', async () => {
    expect(trigger(oldKey, during)).toMatchObject({ accept: true, keyGeneration: 'previous' });
    expect(await recheck(signDecision(oldKey, 'e-9', decision), during)).toMatchObject({
      verified: true,
      keyGeneration: 'previous',
    });

    const late = trigger(oldKey, after);
    expect(late).toMatchObject({ accept: false, reason: 'bad-signature', keyGeneration: 'previous-expired' });
    expect(!late.accept && late.detail).toContain(`previous key, whose overlap ended at ${until}`);
    const lateRecheck = await recheck(signDecision(oldKey, 'e-9', decision), after);
    expect(lateRecheck).toMatchObject({ verified: false, keyGeneration: 'previous-expired' });
    expect(lateRecheck.detail).toContain(`overlap ended at ${until}`);

    for (const at of [during, after]) {
      expect(trigger(newKey, at)).toMatchObject({ accept: true, keyGeneration: 'current' });
      expect(await recheck(signDecision(newKey, 'e-9', decision), at)).toMatchObject({
        verified: true,
        keyGeneration: 'current',
      });
      const forged = randomBytes(32);
      const refused = trigger(forged, at);
      expect(refused).toMatchObject({ accept: false, reason: 'bad-signature', keyGeneration: 'none' });
      expect(!refused.accept && refused.detail).toContain('matches no configured key');
      expect(await recheck(signDecision(forged, 'e-9', decision), at)).toMatchObject({
        verified: false,
        keyGeneration: 'none',
      });
    }
  });

  test('the handler logs the key generation, and puts it on the refusal', async () => {
    const rejects: Refusal[] = [];
    const logs: string[] = [];
    let now = during;
    const handle = createDecisionHandler({
      sendToRejects: (_body, refusal) => {
        rejects.push(refusal);
        return Promise.resolve();
      },
      signingKey: keys,
      now: () => now,
      log: (line) => logs.push(line),
    });
    const raised: unknown[] = [];
    const access = {
      getBuildStatus: () => Promise.resolve({ pendingApproval: request, stages: [] }),
      raiseEvent: (_id: string, _name: string, d: unknown) => {
        raised.push(d);
        return Promise.resolve();
      },
    };
    const event = (id: string) =>
      toDecisionEvent(decision, { id, source: '/cab', time: now, signingKey: oldKey });
    now = after;
    await handle(event('e-late'), { messageId: 'm-late' }, access);
    expect(rejects).toEqual([
      expect.objectContaining({
        reason: 'bad-signature',
        keyGeneration: 'previous-expired',
        originalMessageId: 'm-late',
      }),
    ]);
    expect(logs.join('\n')).toMatch(/refused \(bad-signature, key previous-expired\)/);
    now = during;
    await handle(event('e-ok'), { messageId: 'm-ok' }, access);
    expect(raised).toHaveLength(1);
    expect(logs.join('\n')).toMatch(/accepted: .*message m-ok, key previous\)/);
  });

  test('settings produce the key pair, with the overlap end normalised', () => {
    const config = loadConfig({
      TASK_HUB_NAME: 'ImageFactory',
      APPROVAL_SIGNING_KEY: b64(newKey),
      APPROVAL_SIGNING_KEY_PREVIOUS: b64(oldKey),
      APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: '2026-01-02T13:00:00+01:00',
    });
    expect(approvalSigningKeys(config)).toEqual({ current: newKey, previous: { key: oldKey, until } });
  });
});
