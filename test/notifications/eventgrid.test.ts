/**
 * Build events through the real EventGridPublisherClient to the simulated notifications topic
 * (identity-only, EventGrid Data Sender from infra/access.json), and the topic's refusals.
 */
import { request } from 'node:https';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { NotificationsAdapter } from '../../src/adapters/notifications';
import { buildCloudEvent } from '../../src/domain/notifications/events';
import { publishedEvents } from '../../src/local/azure-sim/eventgrid';
import { settingsForWorld } from '../../src/local/world-settings';
import { isFactoryError } from '../../src/shared/errors';
import { startEnv, type Env } from '../azure-sim/helpers';

const event = (stage: string) =>
  buildCloudEvent({
    kind: 'promoted',
    buildId: 'build-eg',
    pipeline: 'ubuntu-2204-base',
    imageVersion: '2026.1110.1',
    occurredAt: '2026-11-10T06:00:00.000Z',
    stage,
    versionId: '/subscriptions/x/versions/2026.1110.1',
  });

function post(
  env: Env,
  token: string,
  body: string,
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      env.world.notificationsTopic.endpoint + '?api-version=2018-01-01',
      {
        method: 'POST',
        ca: env.sim.ca,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/cloudevents-batch+json; charset=utf-8',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : (JSON.parse(text) as never) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('notifications: Event Grid topic (simulated data plane, real SDK client)', () => {
  let env: Env;
  let dir: string;
  let adapter: NotificationsAdapter;
  const token = async (scope: string) => (await env.factoryCredential().getToken(scope))?.token ?? '';

  beforeAll(async () => {
    env = await startEnv();
    dir = mkdtempSync(join(tmpdir(), 'notifications-'));
    const settings: Record<string, string> = {
      TASK_HUB_NAME: 'Notifications',
      ...settingsForWorld(env.sim, env.world, { caFile: join(dir, 'ca.pem') }),
    };
    process.env.IDENTITY_ENDPOINT = settings.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = settings.IDENTITY_HEADER;
    adapter = new NotificationsAdapter(loadConfig(settings), { env: settings });
  });
  afterAll(async () => {
    await env.sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a CloudEvent with the factory identity; a retry publishes the same id', async () => {
    const topicId = env.world.notificationsTopic.id;
    expect(await adapter.publish(event('TEST'))).toEqual(['eventGrid']);
    await adapter.publish(event('TEST'));
    const received = publishedEvents(env.sim, topicId);
    expect(received.map((e) => e.id)).toEqual(['build-eg/promoted/TEST', 'build-eg/promoted/TEST']);
    expect(received[0]).toMatchObject({
      specversion: '1.0',
      type: 'ImageFactory.Build.Promoted',
      source: '/image-factory/builds',
      subject: 'builds/build-eg',
      data: { stage: 'TEST', imageVersion: '2026.1110.1' },
    });
  });

  it('refuses a token for another audience (ARM), and a batch that is not an array', async () => {
    const arm = await post(env, await token('https://management.azure.com/.default'), '[]');
    expect(arm.status).toBe(401);
    expect(arm.body.error?.code).toBe('Unauthorized');
    const single = await post(
      env,
      await token('https://eventgrid.azure.net/.default'),
      JSON.stringify({ specversion: '1.0', id: 'x', source: 's', type: 't' }),
    );
    expect(single.status).toBe(400);
    expect(single.body.error?.message).toMatch(
      /^Unexpected token when reading JSON\. Expected: StartArray, actual: StartObject\. Report '.+' to our forums/,
    );
    const gridSchema = await post(
      env,
      await token('https://eventgrid.azure.net/.default'),
      JSON.stringify([
        { id: 'x', eventType: 't', subject: 's', eventTime: '2026-11-10T06:00:00Z', data: {} },
      ]),
    );
    expect(gridSchema.status).toBe(400);
    expect(gridSchema.body.error?.message).toContain("configured for 'CloudEventSchemaV1_0' schema");
  });

  it('a topic that does not answer ends the delivery when its time is up, as a retryable failure', async () => {
    // Before the budget the SDK waited without end (it has no timeout of its own, and honours any
    // Retry-After), and the build waited with it until functionTimeout killed the activity.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // never completes the TLS handshake
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const settings: Record<string, string> = {
        TASK_HUB_NAME: 'Notifications',
        ...settingsForWorld(env.sim, env.world, { caFile: join(dir, 'ca.pem') }),
        NOTIFICATIONS_TOPIC_ENDPOINT: `https://127.0.0.1:${(silent.address() as AddressInfo).port}/silent/api/events`,
      };
      const silentTopic = new NotificationsAdapter(loadConfig(settings), {
        env: settings,
        deliveryBudgetMs: 1000,
      });
      const thrown = await silentTopic.publish(event('TEST')).catch((error: unknown) => error);
      expect(isFactoryError(thrown, 'NotificationPublishFailed')).toBe(true);
      expect(thrown).toMatchObject({
        retryable: true,
        message:
          "Event Grid did not take ImageFactory.Build.Promoted build-eg/promoted/TEST within the 1 s a delivery may take (the SDK's retries included)",
      });
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 10_000);

  it('without EventGrid Data Sender the publish fails with the role to grant, and is not retried', async () => {
    const grant = env.world.grants.find((g) => g.entry === 'factory-eventgrid-sender');
    expect(grant).toBeDefined();
    env.sim.removeRoleAssignment(grant!.assignmentId);
    const before = publishedEvents(env.sim, env.world.notificationsTopic.id).length;
    let thrown: unknown;
    try {
      await adapter.publish(event('PROD'));
    } catch (error) {
      thrown = error;
    }
    expect(isFactoryError(thrown, 'NotificationPublishFailed')).toBe(true);
    const error = thrown as { retryable: boolean; hint?: string; message: string };
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('does not have permission to send data to');
    expect(error.hint).toContain('EventGrid Data Sender');
    expect(publishedEvents(env.sim, env.world.notificationsTopic.id)).toHaveLength(before);
  });
});
