/**
 * ApprovalsPort for local runs and tests without a Service Bus namespace: keeps the requests in
 * memory (and logs them) so a person or a test can answer them by raising the decision event.
 * Production uses the Service Bus adapter; the composition root picks this one only when no
 * ServiceBusConnection is configured.
 */
import type { ApprovalRequest, ApprovalsPort } from '../ports/approvals';

export class RecordingApprovals implements ApprovalsPort {
  readonly requests: ApprovalRequest[] = [];

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  sendRequest(request: ApprovalRequest): Promise<void> {
    // Idempotent like the Service Bus adapter (message id = request id).
    if (!this.requests.some((existing) => existing.requestId === request.requestId))
      this.requests.push(request);
    this.log(`approval request ${request.requestId} recorded locally (no ServiceBusConnection configured)`);
    return Promise.resolve();
  }
}
