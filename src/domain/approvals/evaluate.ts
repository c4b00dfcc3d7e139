/**
 * Whether a decision message may change a build: only a well-formed (and, with a key, correctly
 * signed) decision that matches the build's pending request exactly and arrives before its deadline.
 */
import type { ApprovalDecision, ApprovalRequest } from '../../ports/approvals';
import { approvalDecisionEventSchema, bodyAsJson } from './contract';
import { describeMatch, matchSignature, type SignatureMatch, type SigningKeys } from './signing';
import { unknownKeysMessage } from '../../shared/text';

export type RefusalReason =
  | 'malformed'
  | 'unsigned'
  | 'bad-signature'
  | 'no-pending-request'
  | 'mismatch'
  | 'late'
  | 'bad-time'
  | 'duplicate';

export type DecisionEvaluation =
  | {
      accept: true;
      decision: ApprovalDecision;
      eventId: string;
      signature?: string;
      /** Which key generation the signature matched (absent when no key is configured). */
      keyGeneration?: SignatureMatch['generation'];
    }
  | { accept: false; reason: RefusalReason; detail: string; keyGeneration?: SignatureMatch['generation'] };

const MATCHED_FIELDS = ['requestId', 'buildId', 'stage', 'imageVersion'] as const;

/**
 * @param message the CloudEvent as received (object, JSON text or bytes)
 * @param pending the build's customStatus.pendingApproval (undefined when none is pending)
 * @param nowIso when the decision is processed; after pending.deadline it is late
 * @param signingKey APPROVAL_SIGNING_KEY bytes (and the previous key during a rotation); when
 *   given, unsigned decisions are refused
 * @param decidedRequestIds requests already decided (from the build status, and raised just now)
 * @param expiredRequestIds requests whose deadline passed with no decision (stage timed out)
 */
export function evaluateDecision(
  message: unknown,
  pending: ApprovalRequest | undefined,
  nowIso: string,
  signingKey?: Buffer | SigningKeys,
  decidedRequestIds: ReadonlySet<string> = new Set(),
  expiredRequestIds: ReadonlySet<string> = new Set(),
): DecisionEvaluation {
  const raw = bodyAsJson(message);
  const parsed = approvalDecisionEventSchema.safeParse(raw);
  if (!parsed.success) {
    // Paths and messages only: never the values (a misplaced secret must not reach a log).
    const problems = parsed.error.issues.map(
      (i) =>
        `${i.path.join('.') || '(event)'}: ${i.code === 'unrecognized_keys' ? unknownKeysMessage(i.keys) : i.message}`,
    );
    return { accept: false, reason: 'malformed', detail: problems.join('; ') };
  }
  const event = parsed.data;
  let keyGeneration: SignatureMatch['generation'] | undefined;
  if (signingKey !== undefined || event.signature !== undefined || event.sigalg !== undefined) {
    if (event.signature === undefined || event.sigalg === undefined) {
      if (signingKey !== undefined)
        return {
          accept: false,
          reason: 'unsigned',
          detail: 'decisions must carry the CloudEvents extensions sigalg=hmac-sha256 and signature',
        };
    } else if (signingKey !== undefined) {
      // Verify over the data exactly as received (strict schema: nothing was stripped).
      const data = (raw as { data: unknown }).data;
      const match = matchSignature(signingKey, event.id, data, event.signature, nowIso);
      keyGeneration = match.generation;
      if (!match.accepted)
        return {
          accept: false,
          reason: 'bad-signature',
          keyGeneration,
          detail:
            match.generation === 'none'
              ? `signature of event ${event.id} ${describeMatch(match)} (wrong key, or id/data changed after signing)`
              : `signature of event ${event.id} was ${describeMatch(match)}; sign with the current key`,
        };
    }
  }
  const decision = event.data;
  if (decidedRequestIds.has(decision.requestId))
    return {
      accept: false,
      reason: 'duplicate',
      detail: `request ${decision.requestId} of build ${decision.buildId} was already decided`,
    };
  // The build recorded the deadline, not a decision: an answer now is late, not a second answer.
  if (expiredRequestIds.has(decision.requestId))
    return {
      accept: false,
      reason: 'late',
      detail: `request ${decision.requestId} of build ${decision.buildId} timed out before this decision was processed (received ${nowIso}, decided ${decision.decidedAt})`,
    };
  if (pending === undefined)
    return {
      accept: false,
      reason: 'no-pending-request',
      detail: `build ${decision.buildId} has no pending approval request`,
    };
  const differing = MATCHED_FIELDS.filter((field) => decision[field] !== pending[field]);
  if (differing.length > 0)
    return {
      accept: false,
      reason: 'mismatch',
      detail: differing
        .map((field) => `${field} is '${decision[field]}', the pending request has '${pending[field]}'`)
        .join('; '),
    };
  const deadline = Date.parse(pending.deadline);
  if (Date.parse(nowIso) > deadline || Date.parse(decision.decidedAt) > deadline)
    return {
      accept: false,
      reason: 'late',
      detail: `the deadline of request ${pending.requestId} was ${pending.deadline}; received ${nowIso}, decided ${decision.decidedAt}`,
    };
  // A decision cannot precede the question: a clock that far off makes the audit trail a lie.
  // After `late`: a decision processed after the deadline is late whatever it claims.
  if (Date.parse(decision.decidedAt) < Date.parse(pending.requestedAt))
    return {
      accept: false,
      reason: 'bad-time',
      detail: `decidedAt ${decision.decidedAt} is before request ${pending.requestId} was made (${pending.requestedAt})`,
    };
  return {
    accept: true,
    decision,
    eventId: event.id,
    ...(event.signature === undefined ? {} : { signature: event.signature }),
    ...(keyGeneration === undefined ? {} : { keyGeneration }),
  };
}
