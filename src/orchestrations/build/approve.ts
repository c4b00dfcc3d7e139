/**
 * Step 4, approve (per stage with an approval gate): asks release management over Service Bus
 * (sendApprovalRequest) and waits for the decision event, raced against the stage's deadline and
 * the cancel. A decision that does not match the pending request, or (with a signing key) is not
 * signed by release management, is recorded and ignored, and the wait goes on to the same deadline.
 * Rejected, timed out or cancelled stops the build (compensation follows).
 */
import type { Task } from 'durable-functions';
import {
  approvalEventName,
  type ApprovalDecision,
  type ApprovalRequest,
  type RaisedApprovalDecision,
} from '../../ports/approvals';
import {
  Activities,
  type DecisionVerification,
  type VerifyDecisionInput,
} from '../../domain/pipeline/activities';
import type { PipelineStage } from '../../domain/pipeline/definition';
import type { SecurityGateStatus } from '../../domain/build-status';
import { BuildStopped } from './activity-calls';
import type { BuildRun } from './run';
import { EVENTS_BY_WAITS_SINCE } from './release-gates';
import { sinceVersion } from '../../shared/orchestration-version';

export function* approve(
  run: BuildRun,
  stage: PipelineStage,
  approvalRequired: { deadlineHours: number },
  attempt: number,
): Generator<Task, ApprovalDecision, unknown> {
  const { context, definition, input, imageVersion, status, result } = run;
  const requestedAt = context.df.currentUtcDateTime;
  const deadline = new Date(requestedAt.getTime() + approvalRequired.deadlineHours * 60 * 60 * 1000);
  const request: ApprovalRequest = {
    requestId: `${input.buildId}-${stage.name}-${attempt}`,
    buildId: input.buildId,
    pipeline: definition.name,
    stage: stage.name,
    imageVersion,
    recipeHash: status.recipeHash ?? '',
    testSummary: result.tests.map((t) => `${t.name}: exit ${t.exitCode}`).join('; ') || 'no tests',
    ...(status.securityGate === undefined ? {} : securityFields(status.securityGate)),
    requestedAt: requestedAt.toISOString(),
    deadline: deadline.toISOString(),
  };
  // Pending before it is sent: the status is committed with the send, so an approver who answers at
  // once finds the request the decisions trigger matches against (a decision raised before the wait
  // below starts is buffered by the Durable runtime, not lost).
  status.pendingApproval = request;
  run.setStage(stage.name, {
    state: 'awaitingApproval',
    approval: {
      requestId: request.requestId,
      requestedAt: request.requestedAt,
      deadline: request.deadline,
    },
  });
  run.publish(
    'approve',
    `waiting for the ${stage.name} approval (change request ${request.requestId}) until ${request.deadline}`,
    stage.name,
  );
  try {
    yield* run.call(Activities.sendApprovalRequest, request);
  } catch (error) {
    delete status.pendingApproval;
    throw error;
  }
  yield* run.event('waitingForApproval', { stage: stage.name, deadline: request.deadline });
  for (;;) {
    // A fresh timer (to the same deadline) per wait: a task yielded again in a new Task.any is
    // sent to the host as a new CreateTimer, which takes a sequence id the library does not count,
    // and every later task's result would then land on the wrong task.
    const deadlineTimer = context.df.createTimer(deadline);
    const decisionTask = context.df.waitForExternalEvent(approvalEventName(stage.name));
    const winner = yield context.df.Task.any([decisionTask, deadlineTimer, run.cancel]);
    if (winner !== deadlineTimer) deadlineTimer.cancel();
    if (winner === run.cancel) {
      delete status.pendingApproval;
      throw run.cancelled();
    }
    if (winner === deadlineTimer) {
      delete status.pendingApproval;
      run.setStage(stage.name, {
        state: 'timedOut',
        approval: { ...run.stage(stage.name).approval!, decision: 'timedOut', decidedAt: run.now() },
      });
      throw new BuildStopped('timedOut', {
        code: 'ApprovalTimedOut',
        message: `no ${stage.name} approval decision before ${request.deadline}`,
        step: 'approve',
        stage: stage.name,
      });
    }
    const { proof, ...decision } = (decisionTask.result ?? {}) as RaisedApprovalDecision;
    // Recorded (output and status message), never acted on; the wait goes on to the same deadline.
    const ignore = (reason: 'mismatch' | 'unverified', why: string, detail?: string) => {
      const ignored = {
        stage: stage.name,
        at: run.now(),
        requestId: String(decision.requestId ?? ''),
        imageVersion: String(decision.imageVersion ?? ''),
        eventStage: String(decision.stage ?? ''),
        decision: String(decision.decision ?? ''),
        approver: String(decision.approver ?? ''),
        reason,
        ...(detail === undefined ? {} : { detail }),
      };
      result.ignoredDecisions.push(ignored);
      run.publish(
        undefined,
        `ignored a ${stage.name} decision for request '${ignored.requestId}' / version '${ignored.imageVersion}' / stage '${ignored.eventStage}' (${why}); still waiting until ${request.deadline}`,
      );
    };
    // The trigger only raises matching decisions; this check keeps a stray event from acting.
    if (
      decision.requestId !== request.requestId ||
      decision.imageVersion !== imageVersion ||
      decision.stage !== stage.name
    ) {
      ignore('mismatch', `it does not match request ${request.requestId} for ${imageVersion}`);
      continue;
    }
    // Events can also be raised through the Durable management API, whose links carry the system
    // key: with a signing key configured, only a signature release management made counts.
    const verification = yield* run.call<DecisionVerification>(Activities.verifyApprovalDecision, {
      decision,
      ...(proof === undefined ? {} : { proof }),
    } satisfies VerifyDecisionInput);
    if (!verification.verified) {
      ignore('unverified', verification.detail, verification.detail);
      continue;
    }
    delete status.pendingApproval;
    run.setStage(stage.name, {
      approval: {
        ...run.stage(stage.name).approval!,
        decision: decision.decision,
        decidedAt: decision.decidedAt,
        approver: decision.approver,
        changeTicket: decision.changeTicket,
        ...(decision.comment ? { comment: decision.comment } : {}),
      },
    });
    const decided = approvedFields(stage, decision);
    if (decision.decision !== 'approved') {
      run.setStage(stage.name, { state: 'rejected' });
      yield* run.event('rejected', {
        ...decided,
        ...(decision.comment ? { message: decision.comment } : {}),
      });
      throw new BuildStopped('rejected', {
        code: 'ApprovalRejected',
        message: `${stage.name} rejected by ${decision.approver} (${decision.changeTicket})${decision.comment ? `: ${decision.comment}` : ''}`,
        step: 'approve',
        stage: stage.name,
      });
    }
    // From 0.7.0 a pre-staged stage's approval is announced by the replication wait that follows
    // (promote.ts): one episode of the build fewer.
    if (!announcedByPromotion(run, stage)) yield* run.event('approved', decided);
    return decision;
  }
}

/** What an approved or rejected event says about the decision. */
export function approvedFields(
  stage: PipelineStage,
  decision: ApprovalDecision,
): { stage: string; approver: string; changeTicket: string } {
  return { stage: stage.name, approver: decision.approver, changeTicket: decision.changeTicket };
}

/** Whether the promotion's first wait publishes this stage's 'approved' (EVENTS_BY_WAITS_SINCE). */
export function announcedByPromotion(run: BuildRun, stage: PipelineStage): boolean {
  return stage.preStage && sinceVersion(run.context, EVENTS_BY_WAITS_SINCE);
}

/** The gate's summary in one line for the approver, and the SBOM's link (additive, optional fields). */
function securityFields(gate: SecurityGateStatus): Pick<ApprovalRequest, 'securitySummary' | 'sbomPath'> {
  const p = gate.pending;
  return {
    securitySummary:
      `${gate.passed ? 'passed' : 'failed'}: pending security updates critical ${p.critical}, important ${p.important}, ` +
      `moderate ${p.moderate}, low ${p.low}, unspecified ${p.unspecified} (total ${p.total}; limits ` +
      `${gate.thresholds.maxCritical}/${gate.thresholds.maxImportant}/${gate.thresholds.maxTotal}); ` +
      `${gate.packages} packages${gate.inventoryTruncated ? ' (SBOM lists those that fit in Run Command output)' : ''}`,
    sbomPath: gate.sbomPath,
  };
}
