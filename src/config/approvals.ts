import { z } from 'zod';
import { parseSigningKey, type SigningKeys } from '../domain/approvals/signing';

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
  /**
   * Key rotation: the key before APPROVAL_SIGNING_KEY, accepted until APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL.
   * Read only while _UNTIL is set (infra always references the Key Vault secret, which may not exist
   * between rotations); checked by approvalsSettingsProblems. Empty = not set.
   */
  APPROVAL_SIGNING_KEY_PREVIOUS: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value)),
  /** End of the rotation overlap, ISO 8601 with a zone (e.g. 2026-12-08T12:00:00Z). Empty = no overlap. */
  APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()))
    .refine(
      (value) =>
        value === undefined ||
        (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
          !Number.isNaN(Date.parse(value))),
      { message: 'must be an ISO 8601 time with a zone, e.g. 2026-12-08T12:00:00Z' },
    ),
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

/**
 * Whether the app runs on App Service / Azure Functions rather than locally: the platform sets
 * WEBSITE_SITE_NAME (read-only app setting, learn.microsoft.com/azure/app-service/reference-app-settings)
 * and WEBSITE_INSTANCE_ID (per instance, Kudu wiki "Azure runtime environment"); either counts, so a
 * plan that lacks one is still recognised. The local host and Core Tools set neither.
 */
export function isHostedOnAppService(env: Record<string, string | undefined>): boolean {
  return ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME'].some((name) => (env[name] ?? '').trim() !== '');
}

/**
 * Checks that need more than one setting (or the platform's): hosted, the keys must be `base64:`
 * random bytes; the previous key is read, and checked, only with an overlap end. Never echoes values.
 */
export function approvalsSettingsProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const set = (name: string) => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const requireBase64 = isHostedOnAppService(env);
  const parses = (value: string) => {
    try {
      parseSigningKey(value);
      return true;
    } catch {
      return false;
    }
  };
  const current = set('APPROVAL_SIGNING_KEY');
  const previous = set('APPROVAL_SIGNING_KEY_PREVIOUS');
  const until = set('APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL');
  const check = (name: string, value: string) => {
    try {
      parseSigningKey(value, { name, requireBase64 });
    } catch (error) {
      problems.push(error instanceof Error ? error.message : `${name}: invalid`);
    }
  };
  // The schema already reported a key that is invalid even locally; here only the hosted rule.
  if (current !== undefined && requireBase64 && parses(current)) check('APPROVAL_SIGNING_KEY', current);
  if (until !== undefined) {
    if (current === undefined)
      problems.push('APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: is set but APPROVAL_SIGNING_KEY is empty');
    if (previous === undefined)
      problems.push('APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL: is set but APPROVAL_SIGNING_KEY_PREVIOUS is empty');
    else check('APPROVAL_SIGNING_KEY_PREVIOUS', previous);
  }
  return problems;
}

/** The signing keys of validated settings (loadConfig ran the checks); undefined = signing off. */
export function approvalSigningKeys(config: ApprovalsSettings): SigningKeys | undefined {
  if (config.APPROVAL_SIGNING_KEY === undefined) return undefined;
  const current = parseSigningKey(config.APPROVAL_SIGNING_KEY);
  const until = config.APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL;
  const previous = config.APPROVAL_SIGNING_KEY_PREVIOUS;
  if (until === undefined || previous === undefined) return { current };
  return {
    current,
    previous: {
      key: parseSigningKey(previous, { name: 'APPROVAL_SIGNING_KEY_PREVIOUS' }),
      until: new Date(until).toISOString(),
    },
  };
}
