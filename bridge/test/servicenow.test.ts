/**
 * The ServiceNow adapter against the simulator: pagination over Link headers, 429 + Retry-After,
 * the documented error bodies, OAuth token reuse, basic auth; and the bridge's settings checks.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { changeFields, MARK_AWAITING } from '../src/bridge';
import { loadConfig } from '../src/config';
import { startServiceNowSim, type ServiceNowSim } from '../src/local/servicenow-sim';
import { ServiceNowClient } from '../src/servicenow';
import { bridgeEnv, OAUTH_CLIENT, virtualClock } from './support/harness';

let sim: ServiceNowSim;
beforeEach(async () => {
  sim = await startServiceNowSim({
    users: { 'bridge.user': 'basic-password-0123456789' },
    oauthClients: { [OAUTH_CLIENT.id]: { secret: OAUTH_CLIENT.secret, user: OAUTH_CLIENT.user } },
  });
});
afterEach(async () => {
  await sim.stop();
});

const oauthClient = (clock = virtualClock(), pageSize?: number) =>
  new ServiceNowClient({
    instanceUrl: sim.url,
    auth: { kind: 'oauth', clientId: OAUTH_CLIENT.id, clientSecret: OAUTH_CLIENT.secret },
    clock,
    ...(pageSize ? { pageSize } : {}),
  });

const request = (n: number) => ({
  requestId: `b-${n}:TEST:1`,
  buildId: `b-${n}`,
  pipeline: 'p',
  stage: 'TEST',
  imageVersion: '1.0.0',
  recipeHash: 'h',
  testSummary: '',
  requestedAt: '2026-12-01T10:00:00Z',
  deadline: '2026-12-01T12:00:00Z',
});

test('lists follow the Link header page by page (sysparm_limit/offset) and read every record once', async () => {
  const client = oauthClient(virtualClock(), 2);
  for (let n = 1; n <= 5; n++) await client.createNormalChange(changeFields(request(n)));
  const raw = await fetch(
    `${sim.url}/api/now/table/change_request?sysparm_limit=2&sysparm_offset=2&sysparm_query=correlation_display=${MARK_AWAITING}`,
    {
      headers: {
        authorization: `Basic ${Buffer.from('bridge.user:basic-password-0123456789').toString('base64')}`,
      },
    },
  );
  expect(raw.headers.get('x-total-count')).toBe('5');
  const link = raw.headers.get('link')!;
  for (const rel of ['first', 'prev', 'next', 'last']) expect(link).toContain(`rel="${rel}"`);
  expect(link).toContain('sysparm_offset=4');
  sim.calls.length = 0;
  const all = await client.changesWithMarker(MARK_AWAITING);
  expect(all.map((c) => c.correlation_id).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `b-${n}:TEST:1`));
  expect(sim.calls.filter((c) => c === 'GET /api/now/table/change_request')).toHaveLength(3);
});

test('429 is retried after Retry-After seconds, 5xx with doubling back-off; the token is fetched once', async () => {
  const clock = virtualClock();
  const client = oauthClient(clock);
  await client.createNormalChange(changeFields(request(1)));
  sim.rateLimit(2, 7);
  expect(await client.findChangeByCorrelationId('b-1:TEST:1')).toMatchObject({
    correlation_id: 'b-1:TEST:1',
  });
  expect(clock.slept).toEqual([7000, 7000]);
  sim.failWith(502);
  clock.slept.length = 0;
  await expect(client.findChangeByCorrelationId('b-1:TEST:1')).rejects.toMatchObject({
    code: 'ServiceNowUnavailable',
    status: 502,
  });
  expect(clock.slept).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000]);
  expect(sim.calls.filter((c) => c === 'POST /oauth_token.do')).toHaveLength(1);
});

test('errors carry ServiceNow’s error body; wrong credentials are an auth failure, never retried', async () => {
  const raw = await fetch(`${sim.url}/api/now/table/change_request`);
  expect(raw.status).toBe(401);
  expect(await raw.json()).toEqual({
    error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
    status: 'failure',
  });
  const client = oauthClient();
  expect(await client.getChange('0'.repeat(32))).toBeUndefined();
  const basic = new ServiceNowClient({
    instanceUrl: sim.url,
    auth: { kind: 'basic', user: 'bridge.user', password: 'wrong-password' },
    clock: virtualClock(),
  });
  const refused = await basic.findChangeByCorrelationId('x').catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: 'ServiceNowAuthFailed', status: 401 });
  expect(String((refused as Error).message)).not.toContain('wrong-password');
  const badOauth = new ServiceNowClient({
    instanceUrl: sim.url,
    auth: { kind: 'oauth', clientId: OAUTH_CLIENT.id, clientSecret: 'nope' },
    clock: virtualClock(),
  });
  await expect(badOauth.findChangeByCorrelationId('x')).rejects.toMatchObject({
    code: 'ServiceNowAuthFailed',
  });
});

test('settings: OAuth or basic (with a warning), key from a file, per-queue connections; errors never echo values', () => {
  const key = Buffer.alloc(32, 9);
  const base = bridgeEnv(
    sim,
    'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=SECRETKEY',
    key,
  );
  expect(loadConfig(base)).toMatchObject({ serviceNowAuth: { kind: 'oauth' }, warnings: [] });

  const {
    SERVICENOW_CLIENT_ID: _id,
    SERVICENOW_CLIENT_SECRET: _secret,
    APPROVAL_SIGNING_KEY: _key,
    ...rest
  } = base;
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-key-'));
  writeFileSync(path.join(dir, 'key'), `base64:${key.toString('base64')}\n`, { mode: 0o600 });
  const basic = loadConfig({
    ...rest,
    SERVICENOW_USER: 'u',
    SERVICENOW_PASSWORD: 'p-secret',
    APPROVAL_SIGNING_KEY_FILE: path.join(dir, 'key'),
    BRIDGE_DECISIONS_CONNECTION:
      'Endpoint=sb://x/;SharedAccessKeyName=send;SharedAccessKey=S;EntityPath=approval-decisions',
  });
  expect(basic.serviceNowAuth.kind).toBe('basic');
  expect(basic.warnings.join()).toMatch(/basic auth/);
  expect(basic.signingKey.equals(key)).toBe(true);
  expect(basic.bus.decisions).toEqual({
    connectionString:
      'Endpoint=sb://x/;SharedAccessKeyName=send;SharedAccessKey=S;EntityPath=approval-decisions',
  });

  const failures = [
    { ...base, SERVICENOW_INSTANCE_URL: 'http://example.service-now.com' },
    { ...base, SERVICENOW_CLIENT_SECRET: '' },
    { ...base, APPROVAL_SIGNING_KEY: 'short-secret-key' },
    { ...base, BRIDGE_SERVICEBUS_CONNECTION: '' },
    { ...base, BRIDGE_INBOUND_PORT: '8080', BRIDGE_INBOUND_SECRET: 'too-short-secret' },
  ];
  const messages = failures.map((env) => {
    try {
      loadConfig(env);
      return 'accepted';
    } catch (error) {
      return (error as Error).message;
    }
  });
  expect(messages).toEqual([
    expect.stringMatching(/^SERVICENOW_INSTANCE_URL: must be https/),
    expect.stringMatching(/^SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET/),
    expect.stringMatching(/^APPROVAL_SIGNING_KEY: too short/),
    expect.stringMatching(/^BRIDGE_REQUESTS_CONNECTION: no Service Bus connection/),
    expect.stringMatching(/^BRIDGE_INBOUND_SECRET: at least 32/),
  ]);
  for (const text of messages)
    for (const secret of ['short-secret-key', 'SECRETKEY', OAUTH_CLIENT.secret, 'too-short-secret'])
      expect(text).not.toContain(secret);
});
