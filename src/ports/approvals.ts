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
  /** Security gate (issue 18), when the pipeline has one: pending updates by severity, packages. */
  securitySummary?: string;
  /** The build's SBOM (CycloneDX JSON), relative to the factory API's host: /api/builds/{id}/sbom. */
  sbomPath?: string;
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

/**
 * What the decisions trigger raises on the build: the decision plus, when it came signed, the
 * signature over it. The build has the signature checked again (verifyApprovalDecision), so an
 * event raised through the Durable management API by someone holding the system key, instead of
 * arriving signed on the decisions queue, changes nothing when a signing key is configured.
 */
export interface RaisedApprovalDecision extends ApprovalDecision {
  proof?: ApprovalDecisionProof;
}

export interface ApprovalDecisionProof {
  /** The CloudEvent id the signature covers together with the decision. */
  eventId: string;
  /** base64 HMAC-SHA256 over the canonical form (src/domain/approvals/signing.ts). */
  signature: string;
}

export interface ApprovalsPort {
  /** Sends the request; safe to call twice with the same requestId (message id = requestId). */
  sendRequest(request: ApprovalRequest): Promise<void>;
}

/** External event name the orchestration waits for; one exact spelling on both sides. */
export const approvalEventName = (stage: string): string => `approval:${stage}`;
