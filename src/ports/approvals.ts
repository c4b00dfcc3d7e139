/**
 * Port to on-prem release management (e.g. a ServiceNow change), reached over Service Bus.
 * The message contract (CloudEvents 1.0, structured JSON) is defined in src/domain/approvals.ts
 * and published as JSON Schemas under schemas/.
 */
export interface ApprovalRequest {
  requestId: string; // unique per (build, stage, attempt); echoed by the decision
  buildId: string;
  pipeline: string;
  stage: string;
  imageVersion: string;
  recipeHash: string;
  testSummary: string;
  requestedAt: string; // ISO
  deadline: string; // ISO: decisions after this are refused
}

export interface ApprovalDecision {
  requestId: string;
  buildId: string;
  stage: string;
  imageVersion: string;
  decision: 'approved' | 'rejected';
  approver: string;
  changeTicket: string;
  comment?: string;
  decidedAt: string; // ISO
}

export interface ApprovalsPort {
  /** Sends the request; safe to call twice with the same requestId (message id = requestId). */
  sendRequest(request: ApprovalRequest): Promise<void>;
}

/** External event name the orchestration waits for; one exact spelling on both sides. */
export const approvalEventName = (stage: string): string => `approval:${stage}`;
