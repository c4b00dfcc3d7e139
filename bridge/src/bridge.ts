/**
 * The approval bridge: approval requests → normal changes, CAB decisions → signed decisions,
 * refusals → work notes. It keeps no state of its own: which request has a change is the change's
 * correlation_id (the request id), and which changes still wait for an answer is the change's
 * correlation_display marker, so a restart (or a second instance) picks up exactly where the last
 * one stopped. Service Bus redelivers what was not completed; ServiceNow holds everything else.
 */
import { createHash } from 'node:crypto';
import type { ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender } from '@azure/service-bus';
import {
  answerRequest,
  approvalRequestEventSchema,
  approvalRequestSchema,
  bodyAsJson,
  CLOUDEVENTS_CONTENT_TYPE,
  isSafeId,
  toDecisionEvent,
} from '../../src/domain/approvals';
import type { ApprovalDecision, ApprovalRequest } from '../../src/ports/approvals';
import type { Clock } from './clock';
import {
  fromGlideTime,
  ServiceNowError,
  toGlideTime,
  type Change,
  type ServiceNowClient,
} from './servicenow';

/** correlation_display values: the bridge's only bookkeeping, kept on the change itself. */
export const MARK_AWAITING = 'imagefactory:awaiting';
export const MARK_ANSWERED = 'imagefactory:answered';
export const MARK_EXPIRED = 'imagefactory:expired';

const REQUEST_BLOCK = '--- Image Factory request (do not edit) ---';

export interface BridgeOptions {
  serviceNow: ServiceNowClient;
  requests: ServiceBusReceiver;
  rejects: ServiceBusReceiver;
  decisions: ServiceBusSender;
  signingKey: Buffer;
  clock: Clock;
  /** CloudEvents `source` of the decisions. */
  source?: string;
  /** Polling: the normal interval and the cap of the back-off after failures. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  log: (line: string) => void;
}

export type CheckResult = 'sent' | 'open' | 'expired' | 'not-ours' | 'invalid';

/** The fields of the normal change for a request; the whole request is stored in the description. */
export function changeFields(request: ApprovalRequest): Record<string, string> {
  return {
    short_description: `Promote ${request.pipeline} ${request.imageVersion} to ${request.stage}`.slice(
      0,
      160,
    ),
    description: [
      `Image Factory asks to promote image version ${request.imageVersion} of pipeline ${request.pipeline} to stage ${request.stage} (build ${request.buildId}).`,
      `Recipe hash: ${request.recipeHash}`,
      `Tests: ${request.testSummary}`,
      `A decision must be taken before ${request.deadline}; after that the build fails.`,
      '',
      REQUEST_BLOCK,
      JSON.stringify(request),
    ].join('\n'),
    correlation_id: request.requestId,
    correlation_display: MARK_AWAITING,
    end_date: toGlideTime(request.deadline),
    start_date: toGlideTime(request.requestedAt),
  };
}

/** The request stored on the change, if it is intact and belongs to the change's correlation id. */
export function storedRequest(change: Change): ApprovalRequest | undefined {
  const at = change.description.lastIndexOf(REQUEST_BLOCK);
  if (at < 0) return undefined;
  try {
    const parsed = approvalRequestSchema.safeParse(
      JSON.parse(change.description.slice(at + REQUEST_BLOCK.length).trim()),
    );
    return parsed.success && parsed.data.requestId === change.correlation_id ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Event id = message id, derived from what was decided: sending the same answer again (a restart
 * between the send and the marker) reuses it, so duplicate detection drops the copy; a different
 * answer (a changed decision) gets a new id, as docs/approvals-integration.md asks.
 */
export function decisionId(decision: ApprovalDecision): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([decision.requestId, decision.changeTicket, decision.decision, decision.decidedAt]),
    )
    .digest('hex');
  return `sn-${digest.slice(0, 32)}`;
}

/**
 * Worth waiting for: an outage, and refused credentials or rights (someone fixes the integration
 * user; meanwhile the request must not run through its delivery count into the dead-letter queue).
 */
const isRecoverable = (error: unknown) =>
  error instanceof ServiceNowError &&
  (error.code === 'ServiceNowUnavailable' || error.code === 'ServiceNowAuthFailed');
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class Bridge {
  private stopped = false;
  private readonly closers: (() => Promise<void>)[] = [];
  private pollLoop: Promise<void> | undefined;

  constructor(private readonly options: BridgeOptions) {}

  private get sn(): ServiceNowClient {
    return this.options.serviceNow;
  }

  /**
   * Retries a ServiceNow step through an outage for as long as the bridge runs: the message stays
   * locked (the receiver renews the lock), so nothing is lost and the delivery count does not grow.
   */
  private async throughOutage<T>(what: string, step: () => Promise<T>): Promise<T> {
    let delay = this.options.pollIntervalMs ?? 30_000;
    for (;;) {
      try {
        return await step();
      } catch (error) {
        if (!isRecoverable(error) || this.stopped) throw error;
        const why =
          (error as ServiceNowError).code === 'ServiceNowAuthFailed'
            ? 'ServiceNow refused the credentials or rights of the integration user'
            : 'ServiceNow unavailable';
        this.options.log(`${what}: ${why} (${describe(error)}); retrying in ${delay} ms`);
        await this.options.clock.sleep(delay);
        delay = Math.min(delay * 2, this.options.maxPollIntervalMs ?? 600_000);
      }
    }
  }

  /** One approval request: find or create its change, then complete the message. */
  async handleRequest(message: ServiceBusReceivedMessage): Promise<void> {
    const { requests } = this.options;
    const parsed = approvalRequestEventSchema.safeParse(bodyAsJson(message.body));
    if (!parsed.success) {
      const paths = parsed.error.issues.map((i) => i.path.join('.') || '(body)').join(', ');
      this.options.log(
        `request ${String(message.messageId)}: not an approval request (${paths}); dead-lettered`,
      );
      await requests.deadLetterMessage(message, {
        deadLetterReason: 'NotAnApprovalRequest',
        deadLetterErrorDescription: `invalid: ${paths}`.slice(0, 1000),
      });
      return;
    }
    const request = parsed.data.data;
    const change = await this.throughOutage(`request ${request.requestId}`, async () => {
      const existing = await this.sn.findChangeByCorrelationId(request.requestId);
      if (existing) return { ...existing, created: false };
      if (Date.parse(request.deadline) <= this.options.clock.now()) return undefined;
      return { ...(await this.sn.createNormalChange(changeFields(request))), created: true };
    });
    if (!change)
      this.options.log(
        `request ${request.requestId}: deadline ${request.deadline} passed before a change could be opened; REPORT: no change created, the build fails with ApprovalTimedOut`,
      );
    else
      this.options.log(
        `request ${request.requestId}: ${change.created ? 'opened' : 'already has'} change ${change.number}`,
      );
    // Only now: a crash before this line redelivers the message, and the lookup above finds the change.
    await requests.completeMessage(message);
  }

  /** Looks at one change and answers the factory when the CAB decided (or the change was canceled). */
  async checkChange(change: Change): Promise<CheckResult> {
    if (change.correlation_display !== MARK_AWAITING) return 'not-ours';
    const request = storedRequest(change);
    if (!request) {
      this.options.log(
        `change ${change.number}: the stored Image Factory request is missing or altered; not answered`,
      );
      return 'invalid';
    }
    let answer: Pick<ApprovalDecision, 'decision' | 'approver' | 'comment' | 'decidedAt'> | undefined;
    if (change.state === '4') {
      answer = {
        decision: 'rejected',
        approver: change.sys_updated_by || 'servicenow',
        comment: `change ${change.number} was canceled`,
        decidedAt: fromGlideTime(change.sys_updated_on),
      };
    } else if (change.approval === 'approved' || change.approval === 'rejected') {
      const record = (await this.sn.approvers(change.sys_id)).find((r) => r.state === change.approval);
      answer = {
        decision: change.approval,
        approver: record?.['approver.user_name'] || change.sys_updated_by || 'servicenow',
        ...(record?.comments ? { comment: record.comments.slice(0, 4000) } : {}),
        decidedAt: fromGlideTime(record?.sys_updated_on ?? change.sys_updated_on),
      };
    }
    if (!answer) {
      if (Date.parse(request.deadline) > this.options.clock.now()) return 'open';
      // Left alone (no decision is made for the CAB); the CAB sees why nothing happens any more.
      this.options.log(
        `change ${change.number} (request ${request.requestId}) is still open at its deadline ${request.deadline}; REPORT: not answered, the build fails with ApprovalTimedOut`,
      );
      await this.sn.updateChange(change.sys_id, {
        correlation_display: MARK_EXPIRED,
        work_notes: `Image Factory: no decision before the deadline ${request.deadline}; the build stopped waiting (ApprovalTimedOut). This change is no longer watched.`,
      });
      return 'expired';
    }
    // A decision cannot precede its request (the factory refuses it as bad-time): ServiceNow's
    // clock (seconds, possibly behind the factory's) must not turn a valid answer into a refusal.
    if (Date.parse(answer.decidedAt) < Date.parse(request.requestedAt))
      answer.decidedAt = request.requestedAt;
    const decision = answerRequest(request, {
      ...answer,
      approver: answer.approver.slice(0, 200),
      changeTicket: change.number,
    });
    const id = decisionId(decision);
    const event = toDecisionEvent(decision, {
      id,
      source: this.options.source ?? '/servicenow/change',
      time: new Date(this.options.clock.now()).toISOString(),
      signingKey: this.options.signingKey,
    });
    await this.options.decisions.sendMessages({
      messageId: id,
      contentType: CLOUDEVENTS_CONTENT_TYPE,
      body: event,
    });
    this.options.log(`change ${change.number}: ${decision.decision} by ${decision.approver} sent as ${id}`);
    await this.sn.updateChange(change.sys_id, {
      correlation_display: MARK_ANSWERED,
      work_notes: `Image Factory: decision "${decision.decision}" sent (message ${id}). A refusal by the factory will be noted here.`,
    });
    return 'sent';
  }

  /** A hint from ServiceNow (outbound REST message): re-read the change and check it. */
  async checkChangeById(sysId: string): Promise<CheckResult> {
    const change = await this.sn.getChange(sysId);
    return change ? this.checkChange(change) : 'not-ours';
  }

  /** Every change still awaiting an answer, once. */
  async pollOnce(): Promise<Record<CheckResult, number>> {
    const counts: Record<CheckResult, number> = { sent: 0, open: 0, expired: 0, 'not-ours': 0, invalid: 0 };
    for (const change of await this.sn.changesWithMarker(MARK_AWAITING))
      counts[await this.checkChange(change)]++;
    return counts;
  }

  /** One refusal from approval-rejects: a work note on the change of its request, written once. */
  async handleReject(message: ServiceBusReceivedMessage): Promise<void> {
    const props = message.applicationProperties ?? {};
    const requestId = props.requestId;
    const original = String(props.originalMessageId ?? message.messageId ?? '');
    const reason = String(props.reason ?? 'unknown');
    if (!isSafeId(requestId) || !isSafeId(original)) {
      this.options.log(`refusal ${original}: no usable request id; not matched to a change`);
      await this.options.rejects.completeMessage(message);
      return;
    }
    await this.throughOutage(`refusal ${original}`, async () => {
      const change = await this.sn.findChangeByCorrelationId(requestId);
      if (!change) {
        this.options.log(`refusal ${original} (${reason}) of request ${requestId}: no change of this bridge`);
        return;
      }
      // The note names the message id, so a redelivered refusal finds its note and writes none.
      const heading = `Image Factory refused decision ${original}`;
      if (await this.sn.hasWorkNote(change.sys_id, heading)) {
        this.options.log(`change ${change.number}: refusal ${original} already noted`);
        return;
      }
      const detail = typeof props.detail === 'string' ? ` — ${props.detail.slice(0, 2000)}` : '';
      await this.sn.updateChange(change.sys_id, { work_notes: `${heading}: ${reason}${detail}` });
      this.options.log(`change ${change.number}: refusal ${original} (${reason}) written as a work note`);
    });
    await this.options.rejects.completeMessage(message);
  }

  /** Receives both queues (peek-lock, settled by the bridge) and polls until stop(). */
  start(options: { poll?: boolean } = {}): void {
    const handlers = (handle: (m: ServiceBusReceivedMessage) => Promise<void>, what: string) => ({
      // The SDK abandons a message whose handler throws and does not report the error itself: say
      // why here. What is left is a request ServiceNow refuses for good (e.g. a 400 from a business
      // rule); it comes back until the queue's max delivery count moves it to the dead-letter queue.
      processMessage: async (message: ServiceBusReceivedMessage) => {
        try {
          await handle(message);
        } catch (error) {
          this.options.log(
            `${what}: message ${String(message.messageId)} not handled (${describe(error)}); abandoned`,
          );
          throw error;
        }
      },
      processError: async (args: { error: Error }) => {
        this.options.log(`${what}: ${describe(args.error)}`);
        return Promise.resolve();
      },
    });
    // An outage can hold a message for long: keep its lock for as long as the bridge retries.
    const subscribeOptions = { autoCompleteMessages: false, maxConcurrentCalls: 1 };
    const requests = this.options.requests.subscribe(
      handlers((m) => this.handleRequest(m), 'approval requests'),
      subscribeOptions,
    );
    const rejects = this.options.rejects.subscribe(
      handlers((m) => this.handleReject(m), 'approval rejects'),
      subscribeOptions,
    );
    this.closers.push(
      () => requests.close(),
      () => rejects.close(),
    );
    if (options.poll !== false) this.pollLoop = this.runPolling();
  }

  private async runPolling(): Promise<void> {
    const interval = this.options.pollIntervalMs ?? 30_000;
    let delay = interval;
    while (!this.stopped) {
      try {
        const counts = await this.pollOnce();
        if (counts.sent + counts.expired > 0) this.options.log(`poll: ${JSON.stringify(counts)}`);
        delay = interval;
      } catch (error) {
        delay = Math.min(delay * 2, this.options.maxPollIntervalMs ?? 600_000);
        this.options.log(`poll failed (${describe(error)}); next poll in ${delay} ms`);
      }
      if (!this.stopped) await this.options.clock.sleep(delay);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const close of this.closers.splice(0)) await close().catch(() => undefined);
  }

  /** Resolves when the polling loop has ended (after stop() and the current sleep). */
  get polling(): Promise<void> | undefined {
    return this.pollLoop;
  }
}
