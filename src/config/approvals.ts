import { z } from 'zod';

/** Settings of the Service Bus approvals channel. Owned by the approvals code. */
export const approvalsSettingsSchema = z.object({
  APPROVAL_REQUESTS_QUEUE: z.string().min(1).default('approval-requests'),
  APPROVAL_DECISIONS_QUEUE: z.string().min(1).default('approval-decisions'),
});
