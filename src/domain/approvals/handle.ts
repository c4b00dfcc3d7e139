/**
 * What the approvals trigger does with one decision message. No SDK types: the functions file wires
 * the Durable client and the Service Bus rejects sender in.
 */
import type { BuildCustomStatus } from '../build-status';
import { approvalEventName, type ApprovalRequest, type RaisedApprovalDecision } from '../../ports/approvals';
import { bodyAsJson } from './contract';
import type { SigningKeys } from './signing';
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
  /** customStatus of the build orchestration (instance id = buildId); undefined when unknown. */
  getBuildStatus(buildId: string): Promise<Partial<BuildCustomStatus> | undefined>;
  raiseEvent(buildId: string, eventName: string, decision: RaisedApprovalDecision): Promise<void>;
}

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

const SAFE_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

function peek(body: unknown): { buildId?: string; requestId?: string } {
  const data = (bodyAsJson(body) as { data?: Record<string, unknown> } | undefined)?.data;
  const pick = (v: unknown) => (typeof v === 'string' && SAFE_ID.test(v) ? v : undefined);
  const buildId = pick(data?.buildId);
  const requestId = pick(data?.requestId);
  return { ...(buildId ? { buildId } : {}), ...(requestId ? { requestId } : {}) };
}

/**
 * Returns the handler. Throws only when Durable or Service Bus fail (the message is then abandoned
 * and retried, and dead-lettered by Service Bus after max delivery count): a message is never lost.
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
    if (buildId !== undefined) {
      const status = await builds.getBuildStatus(buildId);
      pending = status?.pendingApproval;
      for (const stage of status?.stages ?? [])
        if (stage.approval?.decision !== undefined) decided.add(stage.approval.requestId);
    }
    // A decision raised by us but not yet consumed is still pending in the status: keep it a duplicate.
    const evaluation = evaluateDecision(body, pending, now, deps.signingKey, decided);
    const messageId = typeof metadata.messageId === 'string' ? metadata.messageId : undefined;
    if (evaluation.accept) {
      const { decision } = evaluation;
      // The signature travels with the decision: the build has it checked again before acting.
      const event: RaisedApprovalDecision =
        evaluation.signature === undefined
          ? decision
          : { ...decision, proof: { eventId: evaluation.eventId, signature: evaluation.signature } };
      await builds.raiseEvent(decision.buildId, approvalEventName(decision.stage), event);
      raised.add(decision.requestId);
      if (raised.size > 10_000) raised.delete(raised.values().next().value as string);
      deps.log(
        `approval decision accepted: ${decision.decision} ${decision.stage} of build ${decision.buildId} (request ${decision.requestId}, ${decision.changeTicket}, message ${messageId ?? '-'}${evaluation.keyGeneration === undefined ? '' : `, key ${evaluation.keyGeneration}`})`,
      );
      return evaluation;
    }
    const refusal: Refusal = {
      reason: evaluation.reason,
      detail: evaluation.detail,
      refusedAt: now,
      ...(evaluation.keyGeneration === undefined ? {} : { keyGeneration: evaluation.keyGeneration }),
      ...(messageId === undefined ? {} : { originalMessageId: messageId }),
      ...(buildId === undefined ? {} : { buildId }),
      ...(requestId === undefined ? {} : { requestId }),
    };
    await deps.sendToRejects(body, refusal);
    deps.log(
      `approval decision refused (${evaluation.reason}${evaluation.keyGeneration === undefined ? '' : `, key ${evaluation.keyGeneration}`}): ${evaluation.detail}; message ${messageId ?? '-'} sent to the rejects queue`,
    );
    return evaluation;
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
