/**
 * What the approvals trigger does with one decision message. No SDK types: the functions file wires
 * the Durable client and the Service Bus rejects sender in.
 */
import type { BuildCustomStatus } from '../build-status';
import { approvalEventName, type ApprovalRequest, type RaisedApprovalDecision } from '../../ports/approvals';
import { bodyAsJson, isSafeId } from './contract';
import type { SignatureMatch, SigningKeys } from './signing';
import { evaluateDecision, type DecisionEvaluation, type RefusalReason } from './evaluate';

export interface Refusal {
  reason: RefusalReason;
  detail: string;
  /** Which key generation the signature matched: current, previous, previous-expired, none. */
  keyGeneration?: string;
  originalMessageId?: string;
  buildId?: string;
  requestId?: string;
  refusedAt: string;
}

/** The Durable client, per invocation (its binding data comes with each trigger call). */
export interface BuildAccess {
  /**
   * customStatus of the build orchestration (instance id = buildId); undefined when unknown. A build
   * that no longer runs (completed, failed, terminated) waits for nothing: no pendingApproval.
   */
  getBuildStatus(buildId: string): Promise<Partial<BuildCustomStatus> | undefined>;
  /** 'not-found' when no such instance exists (it was purged or never started); throws on outages. */
  raiseEvent(buildId: string, eventName: string, decision: RaisedApprovalDecision): Promise<RaiseResult>;
}

export type RaiseResult = 'raised' | 'not-found' | void;

export interface DecisionHandlerDependencies {
  /** Sends the refused message, unchanged, to the rejects queue with the refusal as properties. */
  sendToRejects(body: unknown, refusal: Refusal): Promise<void>;
  /** The current key, or the current and (during a rotation) the previous key. */
  signingKey?: Buffer | SigningKeys;
  now(): string;
  log(line: string): void;
}

export interface DecisionMetadata {
  messageId?: unknown;
  deliveryCount?: unknown;
}

/** Ids only when they pass the contract's id rule: only such ids reach a Durable URL. */
function peek(body: unknown): { buildId?: string; requestId?: string } {
  const data = (bodyAsJson(body) as { data?: Record<string, unknown> } | null | undefined)?.data;
  const pick = (v: unknown) => (isSafeId(v) ? v : undefined);
  const buildId = pick(data?.buildId);
  const requestId = pick(data?.requestId);
  return { ...(buildId ? { buildId } : {}), ...(requestId ? { requestId } : {}) };
}

/**
 * A build that ended between the status read and the raise (its deadline timer won, or it was
 * canceled) takes no events: the extension answers 410 and the client returns as if it had raised.
 * Read again: a request neither pending any more nor decided was not answered by this decision.
 * A failed re-read is not an outage of this decision (the raise went through): it counts as raised.
 */
async function endedBeforeRaise(
  builds: BuildAccess,
  decision: { buildId: string; requestId: string },
): Promise<{ reason: RefusalReason; detail: string } | undefined> {
  let after: Partial<BuildCustomStatus> | undefined;
  try {
    after = await builds.getBuildStatus(decision.buildId);
  } catch {
    return undefined;
  }
  if (after?.pendingApproval?.requestId === decision.requestId) return undefined;
  const approval = after?.stages?.find((s) => s.approval?.requestId === decision.requestId)?.approval;
  if (approval?.decision === 'approved' || approval?.decision === 'rejected') return undefined;
  if (approval?.decision === 'timedOut')
    return {
      reason: 'late',
      detail: `request ${decision.requestId} of build ${decision.buildId} timed out while this decision was raised`,
    };
  return {
    reason: 'no-pending-request',
    detail: `build ${decision.buildId} ended while this decision was raised; it was not applied`,
  };
}

/**
 * Returns the handler. Every message ends raised or on the rejects queue with a reason; it throws
 * only when Durable or Service Bus fail (the message is then abandoned and retried, and dead-lettered
 * by Service Bus after max delivery count): the dead-letter queue is for outages, never for content.
 */
export function createDecisionHandler(deps: DecisionHandlerDependencies) {
  /** Requests this process raised a decision for, until the build status shows it (race window). */
  const raised = new Set<string>();
  /** Decisions for one build are handled one after another (the trigger may run several at once). */
  const queues = new Map<string, Promise<unknown>>();

  const handle = async (
    body: unknown,
    metadata: DecisionMetadata,
    builds: BuildAccess,
  ): Promise<DecisionEvaluation> => {
    const now = deps.now();
    const { buildId, requestId } = peek(body);
    let pending: ApprovalRequest | undefined;
    const decided = new Set<string>(raised);
    const expired = new Set<string>();
    if (buildId !== undefined) {
      const status = await builds.getBuildStatus(buildId);
      pending = status?.pendingApproval;
      for (const stage of status?.stages ?? []) {
        const approval = stage.approval;
        if (approval?.decision === 'timedOut') expired.add(approval.requestId);
        else if (approval?.decision !== undefined) decided.add(approval.requestId);
      }
    }
    const messageId = typeof metadata.messageId === 'string' ? metadata.messageId : undefined;
    const refuse = async (
      reason: RefusalReason,
      detail: string,
      keyGeneration?: SignatureMatch['generation'],
    ): Promise<DecisionEvaluation> => {
      const refusal: Refusal = {
        reason,
        detail,
        refusedAt: now,
        ...(keyGeneration === undefined ? {} : { keyGeneration }),
        ...(messageId === undefined ? {} : { originalMessageId: messageId }),
        ...(buildId === undefined ? {} : { buildId }),
        ...(requestId === undefined ? {} : { requestId }),
      };
      await deps.sendToRejects(body, refusal);
      deps.log(
        `approval decision refused (${reason}${keyGeneration === undefined ? '' : `, key ${keyGeneration}`}): ${detail}; message ${messageId ?? '-'} sent to the rejects queue`,
      );
      return { accept: false, reason, detail, ...(keyGeneration === undefined ? {} : { keyGeneration }) };
    };
    let evaluation: DecisionEvaluation;
    try {
      // A decision raised by us but not yet consumed is still pending in the status: keep it a duplicate.
      evaluation = evaluateDecision(body, pending, now, deps.signingKey, decided, expired);
    } catch (error) {
      // Evaluation touches nothing outside: whatever makes it throw is in the message, so it is
      // refused rather than retried into the dead-letter queue.
      return refuse(
        'malformed',
        `the decision could not be evaluated (${error instanceof Error ? error.name : typeof error})`,
      );
    }
    if (evaluation.accept) {
      const { decision } = evaluation;
      // The signature travels with the decision: the build has it checked again before acting.
      const event: RaisedApprovalDecision =
        evaluation.signature === undefined
          ? decision
          : { ...decision, proof: { eventId: evaluation.eventId, signature: evaluation.signature } };
      const raisedTo = await builds.raiseEvent(decision.buildId, approvalEventName(decision.stage), event);
      // The build was there a moment ago (its status had the request) and is gone now: purged.
      if (raisedTo === 'not-found')
        return refuse('no-pending-request', `build ${decision.buildId} no longer exists`);
      const gone = await endedBeforeRaise(builds, decision);
      if (gone !== undefined) return refuse(gone.reason, gone.detail);
      raised.add(decision.requestId);
      if (raised.size > 10_000) raised.delete(raised.values().next().value as string);
      deps.log(
        `approval decision accepted: ${decision.decision} ${decision.stage} of build ${decision.buildId} (request ${decision.requestId}, ${decision.changeTicket}, message ${messageId ?? '-'}${evaluation.keyGeneration === undefined ? '' : `, key ${evaluation.keyGeneration}`})`,
      );
      return evaluation;
    }
    return refuse(evaluation.reason, evaluation.detail, evaluation.keyGeneration);
  };

  return (body: unknown, metadata: DecisionMetadata, builds: BuildAccess): Promise<DecisionEvaluation> => {
    const key = peek(body).buildId ?? '';
    const previous = queues.get(key) ?? Promise.resolve();
    const result = previous.then(
      () => handle(body, metadata, builds),
      () => handle(body, metadata, builds),
    );
    const tail = result.catch(() => undefined);
    queues.set(key, tail);
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key);
    });
    return result;
  };
}
