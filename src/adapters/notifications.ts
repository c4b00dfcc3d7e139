/**
 * NotificationsPort adapter: CloudEvents to the notifications topic through the real
 * `EventGridPublisherClient` (Entra token for https://eventgrid.azure.net, the topic takes no keys)
 * and, when configured, a short text to a Teams/Slack incoming webhook. The webhook URL is the
 * secret: no log line and no error carries it (only "the webhook" and the HTTP status).
 */
import { request } from 'node:https';
import { EventGridPublisherClient } from '@azure/eventgrid';
import type { AppConfig } from '../config';
import type { BuildCloudEvent } from '../domain/notifications/events';
import type { NotificationsPort } from '../ports/notifications';
import { FactoryError } from '../shared/errors';
import { CredentialStore } from './credentials';
import { scrubSecrets } from './errors';

export interface NotificationsAdapterOptions {
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
  /** Wait between webhook attempts (default 2 s, doubling; Retry-After wins). Tests pass 0. */
  webhookRetryDelayMs?: number;
  /** How long one delivery to a channel may take, its requests, retries and waits together (default 60 s). */
  deliveryBudgetMs?: number;
}

/**
 * A delivery is part of an activity the build (or a wait) waits for: a channel that asks for a long
 * Retry-After, or does not answer, must not hold the build, nor outlive host.json's functionTimeout
 * (10 minutes), after which the host kills the attempt and retries it. A delivery that would take
 * longer ends: the webhook's before a wait that would pass it, the topic's (the SDK's own retries,
 * which honour any Retry-After, and no timeout of their own) when the time is up.
 */
export const DELIVERY_BUDGET_MS = 60_000;

/** One line a human reads in the channel. */
export function webhookText(event: BuildCloudEvent): string {
  const d = event.data;
  const where = d.stage === undefined ? '' : ` in ${d.stage}`;
  const why = d.code === undefined ? '' : `: ${d.code}${d.message === undefined ? '' : ` ${d.message}`}`;
  return `Image Factory ${d.pipeline} ${d.imageVersion} (build ${d.buildId}): ${event.type.replace('ImageFactory.Build.', '')}${where}${why}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class NotificationsAdapter implements NotificationsPort {
  private readonly topic: EventGridPublisherClient<'CloudEvent'> | undefined;
  private readonly webhookUrl: string | undefined;
  private readonly ca: string | undefined;
  private readonly log: (line: string) => void;

  constructor(
    private readonly config: AppConfig,
    private readonly options: NotificationsAdapterOptions = {},
  ) {
    const store = new CredentialStore(config, options.env === undefined ? {} : { env: options.env });
    this.ca = store.tlsOptions()?.ca;
    this.log = options.log ?? ((): void => undefined);
    this.webhookUrl = config.NOTIFICATIONS_WEBHOOK_URL;
    if (config.NOTIFICATIONS_TOPIC_ENDPOINT !== undefined) {
      store.profile(config.NOTIFICATIONS_CREDENTIAL); // unknown profile → InvalidConfig now
      this.topic = new EventGridPublisherClient(
        config.NOTIFICATIONS_TOPIC_ENDPOINT,
        'CloudEvent',
        store.credential(config.NOTIFICATIONS_CREDENTIAL),
        this.ca === undefined ? {} : { tlsOptions: { ca: this.ca } },
      );
    }
  }

  async publish(event: BuildCloudEvent): Promise<string[]> {
    const channels: string[] = [];
    if (this.topic !== undefined) {
      const budgetMs = this.options.deliveryBudgetMs ?? DELIVERY_BUDGET_MS;
      try {
        await this.topic.send(
          [
            {
              id: event.id,
              source: event.source,
              type: event.type,
              subject: event.subject,
              time: new Date(event.time),
              datacontenttype: event.datacontenttype,
              data: event.data,
            },
          ],
          { abortSignal: AbortSignal.timeout(budgetMs) },
        );
      } catch (error) {
        if (error instanceof Error && error.name === 'AbortError')
          throw new FactoryError(
            'NotificationPublishFailed',
            `Event Grid did not take ${event.type} ${event.id} within the ${Math.round(budgetMs / 1000)} s a delivery may take (the SDK's retries included)`,
            { retryable: true, hint: 'See docs/notifications.md.', details: { channel: 'eventGrid' } },
          );
        const status = (error as { statusCode?: number }).statusCode;
        const message = scrubSecrets(error instanceof Error ? error.message : String(error));
        throw new FactoryError(
          'NotificationPublishFailed',
          `Event Grid refused ${event.type} ${event.id}: ${message}`,
          {
            // 401 is the missing role; 400 a schema problem: another try cannot help.
            retryable: status === undefined || status === 429 || status >= 500,
            hint:
              status === 401
                ? `Grant the ${this.config.NOTIFICATIONS_CREDENTIAL} credential's principal "EventGrid Data Sender" on the topic (infra/access.json factory-eventgrid-sender).`
                : 'See docs/notifications.md.',
            details: { channel: 'eventGrid', ...(status === undefined ? {} : { status }) },
          },
        );
      }
      channels.push('eventGrid');
    }
    if (this.webhookUrl !== undefined) {
      await this.postWebhook(this.webhookUrl, event);
      channels.push('webhook');
    }
    return channels;
  }

  private async postWebhook(url: string, event: BuildCloudEvent): Promise<void> {
    const body = JSON.stringify({ text: webhookText(event) });
    const attempts = this.config.NOTIFICATIONS_WEBHOOK_ATTEMPTS;
    let delay = this.options.webhookRetryDelayMs ?? 2000;
    const budgetMs = this.options.deliveryBudgetMs ?? DELIVERY_BUDGET_MS;
    const began = Date.now();
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      const outcome = await this.postOnce(url, body);
      if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) return;
      last =
        outcome.status === undefined
          ? `network error (${outcome.error ?? 'no answer'})`
          : `HTTP ${outcome.status}`;
      const retryable = outcome.status === undefined || outcome.status === 429 || outcome.status >= 500;
      this.log(
        `notifications: the webhook answered ${last} to ${event.id} (attempt ${attempt} of ${attempts})`,
      );
      if (!retryable) break;
      if (attempt < attempts) {
        const pause = outcome.retryAfterMs ?? delay;
        if (Date.now() - began + pause > budgetMs) {
          last += `; waiting ${Math.ceil(pause / 1000)} s more${outcome.retryAfterMs === undefined ? '' : ' as it asked (Retry-After)'} would pass the ${Math.round(budgetMs / 1000)} s a delivery may take`;
          break;
        }
        await sleep(pause);
        delay *= 2;
      }
    }
    throw new FactoryError(
      'NotificationWebhookFailed',
      `The notifications webhook refused ${event.id}: ${last}`,
      {
        retryable: false,
        hint: 'Check the webhook URL in the setting NOTIFICATIONS_WEBHOOK_URL (Key Vault secret notifications-webhook-url).',
        details: { channel: 'webhook' },
      },
    );
  }

  private postOnce(
    url: string,
    body: string,
  ): Promise<{ status?: number; retryAfterMs?: number; error?: string }> {
    return new Promise((resolve) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
          ...(this.ca === undefined ? {} : { ca: this.ca }),
          timeout: 30_000,
        },
        (res) => {
          res.resume();
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            ...(res.statusCode === undefined ? {} : { status: res.statusCode }),
            ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}),
          });
        },
      );
      // The error names only its code: Node's messages can carry the host and path (the secret).
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? 'error' }));
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.end(body);
    });
  }
}
