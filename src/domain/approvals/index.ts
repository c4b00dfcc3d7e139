/** The approvals message contract, signing and decision rules (no SDK types). */
import type { ApprovalDecision, ApprovalRequest } from '../../ports/approvals';
import {
  approvalDecisionEventSchema,
  APPROVAL_DECIDED_TYPE,
  SIGALG_HMAC_SHA256,
  type ApprovalDecisionEvent,
} from './contract';
import { signDecision } from './signing';

export * from './contract';
export * from './signing';
export * from './evaluate';
export * from './handle';

/** The fields a decision must echo from its request exactly (what evaluateDecision matches). */
export type RequestEcho = Pick<ApprovalRequest, 'requestId' | 'buildId' | 'stage' | 'imageVersion'>;

/** Release management's answer to a request: the request's identifying fields, echoed. */
export function answerRequest(
  request: RequestEcho,
  answer: Pick<ApprovalDecision, 'decision' | 'approver' | 'changeTicket' | 'decidedAt' | 'comment'>,
): ApprovalDecision {
  return {
    requestId: request.requestId,
    buildId: request.buildId,
    stage: request.stage,
    imageVersion: request.imageVersion,
    decision: answer.decision,
    approver: answer.approver,
    changeTicket: answer.changeTicket,
    ...(answer.comment === undefined ? {} : { comment: answer.comment }),
    decidedAt: answer.decidedAt,
  };
}

/** The decision as release management sends it; signed when a key is given. */
export function toDecisionEvent(
  decision: ApprovalDecision,
  options: { id: string; source: string; time: string; signingKey?: Buffer },
): ApprovalDecisionEvent {
  const event = {
    specversion: '1.0' as const,
    id: options.id,
    source: options.source,
    type: APPROVAL_DECIDED_TYPE,
    time: options.time,
    subject: `${decision.buildId}/${decision.stage}`,
    datacontenttype: 'application/json' as const,
    data: decision,
    ...(options.signingKey === undefined
      ? {}
      : { sigalg: SIGALG_HMAC_SHA256, signature: signDecision(options.signingKey, options.id, decision) }),
  };
  return approvalDecisionEventSchema.parse(event);
}
