/**
 * The optional chat webhook: retries on 429/5xx, stops on 4xx, and never writes its URL (the
 * secret) into a log line or an error. Also the settings' refusals.
 */
import { createServer, type Server } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { loadConfig } from '../../src/config';
import { NotificationsAdapter, DELIVERY_BUDGET_MS } from '../../src/adapters/notifications';
import { buildCloudEvent } from '../../src/domain/notifications/events';
import { FactoryError } from '../../src/shared/errors';

const SECRET_PATH = '/webhookb2/s3cr3t-token-0123456789/IncomingWebhook/abc';
const event = buildCloudEvent({
  kind: 'failed',
  buildId: 'build-wh',
  pipeline: 'ubuntu-2204-base',
  imageVersion: '2026.1110.1',
  occurredAt: '2026-11-10T06:00:00.000Z',
  code: 'TestsFailed',
  message: '2 of 5 tests failed',
});

describe('notifications: chat webhook', () => {
  let server: Server;
  let dir: string;
  let url: string;
  let caFile: string;
  /** What the webhook answers next: a status, or a status with Retry-After (seconds). */
  const answers: (number | { status: number; retryAfterSeconds: number })[] = [];
  const bodies: string[] = [];

  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    dir = mkdtempSync(join(tmpdir(), 'webhook-'));
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, pems.cert);
    server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        bodies.push(text);
        const answer = req.url === SECRET_PATH ? (answers.shift() ?? 200) : 404;
        if (typeof answer === 'number') res.writeHead(answer);
        else res.writeHead(answer.status, { 'Retry-After': String(answer.retryAfterSeconds) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}${SECRET_PATH}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const adapter = (log: string[], attempts = '4') =>
    new NotificationsAdapter(
      loadConfig({
        TASK_HUB_NAME: 'Webhook',
        AZURE_CA_CERT_FILE: caFile,
        NOTIFICATIONS_WEBHOOK_URL: url,
        NOTIFICATIONS_WEBHOOK_ATTEMPTS: attempts,
      }),
      { log: (line) => log.push(line), webhookRetryDelayMs: 0 },
    );

  it('retries 503 and 429, then delivers one line for the channel', async () => {
    const log: string[] = [];
    bodies.length = 0;
    answers.push(503, 429, 200);
    expect(await adapter(log).publish(event)).toEqual(['webhook']);
    expect(bodies).toHaveLength(3);
    expect(JSON.parse(bodies[2] ?? '{}')).toEqual({
      text: 'Image Factory ubuntu-2204-base 2026.1110.1 (build build-wh): Failed: TestsFailed 2 of 5 tests failed',
    });
    expect(log).toHaveLength(2);
    expect(log.join('\n')).not.toContain('s3cr3t');
  });

  it('stops at a 4xx and at the last attempt; neither the error nor the log carries the URL', async () => {
    const log: string[] = [];
    bodies.length = 0;
    answers.push(403);
    const refused = await adapter(log)
      .publish(event)
      .catch((error: unknown) => error as FactoryError);
    expect(refused).toBeInstanceOf(FactoryError);
    expect((refused as FactoryError).code).toBe('NotificationWebhookFailed');
    expect((refused as FactoryError).message).toContain('HTTP 403');
    expect(bodies).toHaveLength(1);
    answers.push(500, 500);
    const exhausted = await adapter(log, '2')
      .publish(event)
      .catch((error: unknown) => error as FactoryError);
    expect((exhausted as FactoryError).message).toContain('HTTP 500');
    expect(bodies).toHaveLength(3);
    const everything = JSON.stringify([
      log,
      refused,
      exhausted,
      (refused as Error).message,
      (exhausted as Error).message,
    ]);
    expect(everything).not.toContain('s3cr3t');
    expect(everything).not.toContain(SECRET_PATH);
  });

  it('ends a delivery at once when the Retry-After it is given would pass its budget', async () => {
    // Before the budget, the activity slept out whatever the webhook asked for (an hour here), past
    // functionTimeout, while the build waited for it.
    const log: string[] = [];
    bodies.length = 0;
    answers.push({ status: 429, retryAfterSeconds: 3600 });
    const refused = await adapter(log)
      .publish(event)
      .catch((error: unknown) => error as FactoryError);
    expect(refused).toBeInstanceOf(FactoryError);
    expect((refused as FactoryError).retryable).toBe(false);
    expect((refused as FactoryError).message).toBe(
      `The notifications webhook refused ${event.id}: HTTP 429; waiting 3600 s more as it asked (Retry-After) would pass the ${DELIVERY_BUDGET_MS / 1000} s a delivery may take`,
    );
    expect(bodies).toHaveLength(1);
    expect(log).toEqual([`notifications: the webhook answered HTTP 429 to ${event.id} (attempt 1 of 4)`]);
    // A Retry-After within the budget is waited out, as before.
    answers.push({ status: 429, retryAfterSeconds: 0 }, 200);
    expect(await adapter(log).publish(event)).toEqual(['webhook']);
    expect(bodies).toHaveLength(3);
  }, 10_000);

  it('refuses an http:// or malformed webhook URL and a bad topic endpoint without echoing them', () => {
    const refuse = (settings: Record<string, string>): string => {
      try {
        loadConfig({ TASK_HUB_NAME: 'Webhook', ...settings });
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    const plain = refuse({ NOTIFICATIONS_WEBHOOK_URL: 'http://hooks.example/s3cr3t' });
    expect(plain).toContain('NOTIFICATIONS_WEBHOOK_URL: must be an https:// URL');
    expect(plain).not.toContain('s3cr3t');
    const garbage = refuse({ NOTIFICATIONS_WEBHOOK_URL: 's3cr3t-not-a-url' });
    expect(garbage).toContain('NOTIFICATIONS_WEBHOOK_URL: is not a URL');
    expect(garbage).not.toContain('s3cr3t');
    expect(refuse({ NOTIFICATIONS_TOPIC_ENDPOINT: 'topic' })).toContain(
      'NOTIFICATIONS_TOPIC_ENDPOINT: is not a URL',
    );
    expect(refuse({ NOTIFICATIONS_WEBHOOK_ATTEMPTS: '0' })).toContain('NOTIFICATIONS_WEBHOOK_ATTEMPTS');
    // Empty (function.bicep with the webhook off) means "no webhook".
    expect(
      loadConfig({ TASK_HUB_NAME: 'Webhook', NOTIFICATIONS_WEBHOOK_URL: '' }).NOTIFICATIONS_WEBHOOK_URL,
    ).toBeUndefined();
  });
});
