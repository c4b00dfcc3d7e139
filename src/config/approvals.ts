import { z } from 'zod';
import { parseSigningKey } from '../domain/approvals/signing';

/** Settings of the Service Bus approvals channel. Owned by the approvals code. */
export const approvalsSettingsSchema = z.object({
  APPROVAL_REQUESTS_QUEUE: z.string().min(1).default('approval-requests'),
  APPROVAL_DECISIONS_QUEUE: z.string().min(1).default('approval-decisions'),
  /** Refused decisions go here with the reason as application properties (never dropped). */
  APPROVAL_REJECTS_QUEUE: z.string().min(1).default('approval-rejects'),
  /**
   * Shared HMAC-SHA256 key for decision signatures: `base64:<…>` or text, at least 32 bytes.
   * When set, unsigned decisions are refused. Empty = not set. The value is never echoed.
   */
  APPROVAL_SIGNING_KEY: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value))
    .superRefine((value, ctx) => {
      if (value === undefined) return;
      try {
        parseSigningKey(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : 'invalid' });
      }
    }),
  /** Local/dev: a connection string (e.g. the local peer's, UseDevelopmentEmulator=true). Empty = not set. */
  ServiceBusConnection: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value))
    .refine((value) => value === undefined || /(^|;)\s*Endpoint=sb:\/\//i.test(value), {
      message:
        'must be a Service Bus connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…)',
    }),
  /** Azure: identity-based connection, e.g. sb-imagefactory.servicebus.windows.net. */
  ServiceBusConnection__fullyQualifiedNamespace: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()))
    .refine((value) => value === undefined || /^[A-Za-z0-9.-]+(:\d+)?$/.test(value), {
      message: 'must be a host name such as sb-imagefactory.servicebus.windows.net',
    }),
  /** Azure: client id of the user-assigned managed identity; absent = DefaultAzureCredential. */
  ServiceBusConnection__clientId: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim())),
});

export type ApprovalsSettings = z.infer<typeof approvalsSettingsSchema>;
