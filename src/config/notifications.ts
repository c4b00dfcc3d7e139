import { z } from 'zod';

/**
 * Build notifications (docs/notifications.md). Owned by src/adapters/notifications.ts. Both are
 * optional: with neither set, builds publish nothing. The webhook URL is a secret (whoever has it
 * may post to the channel): errors name the setting, never its value.
 */
const optionalHttpsUrl = (what: string) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `is not a URL (expected https://… ${what})` });
        return z.NEVER;
      }
      if (url.protocol !== 'https:') {
        ctx.addIssue({ code: 'custom', message: `must be an https:// URL (${what})` });
        return z.NEVER;
      }
      return url.toString();
    });

export const notificationsSettingsSchema = z.object({
  /** Publish endpoint of the notifications topic (main.bicep output NOTIFICATIONS_TOPIC_ENDPOINT). */
  NOTIFICATIONS_TOPIC_ENDPOINT: optionalHttpsUrl('the Event Grid topic endpoint, …/api/events'),
  /** Credential profile (AZURE_CREDENTIALS) that publishes; it needs EventGrid Data Sender on the topic. */
  NOTIFICATIONS_CREDENTIAL: z.string().min(1).default('eng'),
  /** Teams/Slack incoming webhook URL (a Key Vault reference in Azure). */
  NOTIFICATIONS_WEBHOOK_URL: optionalHttpsUrl('an incoming webhook URL'),
  /** Attempts per webhook post (the first plus retries on 429/5xx/network errors). */
  NOTIFICATIONS_WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(4),
});

export type NotificationsSettings = z.infer<typeof notificationsSettingsSchema>;
