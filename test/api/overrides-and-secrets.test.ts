/**
 * POST /api/builds overrides checked against the pipeline they apply to, and no secret in any API
 * answer — through the local host front end and the real durable client, with a pipelines folder
 * that holds one more definition: a managed-image source whose customizer pulls a secret setting in.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { redactJson, secretValues } from '../../src/api/redact';
import { apiSuite } from './api-suite';

const KEY = 'overrides-test-key';
const LICENSE = 'lic-3f9a1c2b7d4e5f60a1b2';

describe('build overrides and secret-free answers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pipelines-'));
    for (const file of readdirSync('pipelines')) copyFileSync(join('pipelines', file), join(dir, file));
    const licensed = parse(readFileSync('pipelines/ubuntu-2204-base.yaml', 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    licensed.name = 'licensed-managed';
    delete licensed.cadence;
    licensed.source = {
      type: 'managedImage',
      id: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-src/providers/Microsoft.Compute/images/golden',
    };
    licensed.build.customizers[0].inline.push('echo "${LICENSE_TOKEN}" | sudo tee /etc/vendor/license');
    writeFileSync(join(dir, 'licensed-managed.yaml'), stringify(licensed));
  });
  const suite = apiSuite({
    hostKey: KEY,
    masterKey: 'master-key-overrides',
    settings: () => ({ PIPELINES_DIR: dir, LICENSE_TOKEN: LICENSE }),
  });
  const { call, instanceCount } = suite;
  // Declared after apiSuite's afterAll, so it runs after it: the factory stops before its folder goes.
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [
      'a source version for a source without versions',
      { pipeline: 'licensed-managed', overrides: { sourceVersion: '22.04.202511050' } },
      422,
      'overrides.sourceVersion',
      'managedImage',
    ],
    [
      'a stage the pipeline does not have',
      { pipeline: 'ubuntu-2204-base', overrides: { stopAfterStage: 'QA' } },
      422,
      'overrides.stopAfterStage',
      'ENG, TEST, PROD',
    ],
    [
      'a malformed source version',
      { pipeline: 'ubuntu-2204-base', overrides: { sourceVersion: 'newest' } },
      400,
      'overrides.sourceVersion',
      "'latest' or Major.Minor.Patch",
    ],
    [
      'an override that does not exist',
      { pipeline: 'ubuntu-2204-base', overrides: { vmSize: 'Standard_D64s_v5' } },
      400,
      'overrides.vmSize',
      'is not a field',
    ],
  ])('refuses %s, naming the field, and starts nothing', async (_name, body, status, path, words) => {
    const before = await instanceCount();
    const response = await call('POST', '/api/builds', body);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.json.errors).toEqual([{ path, message: expect.stringContaining(words) }]);
    expect(await instanceCount()).toBe(before);
  });

  it('serves definitions without the secrets their placeholders pulled in', async () => {
    const one = await call('GET', '/api/pipelines/licensed-managed');
    expect(one.status).toBe(200);
    expect(one.json.build.customizers[0].inline.at(-1)).toBe(
      'echo "[redacted]" | sudo tee /etc/vendor/license',
    );
    const all = await call('GET', '/api/pipelines');
    for (const text of [one.text, all.text]) {
      expect(text).not.toContain(LICENSE);
      expect(text).not.toContain(suite.factory.env.FACTORY_CLIENT_SECRET ?? 'unset');
    }
    // What the pipeline really runs still has the value (only answers are redacted).
    expect(suite.factory.pipelines.get('ubuntu-2204-base')).toBeDefined();
  });

  it('builds with the overrides: pinned source, promoted only to ENG, no approval needed', async () => {
    const started = await call('POST', '/api/builds', {
      pipeline: 'ubuntu-2204-base',
      reason: 'pinned rebuild for ENG only',
      overrides: { sourceVersion: '22.04.202511050', stopAfterStage: 'ENG', buildTimeoutMinutes: 90 },
    });
    expect(started.status).toBe(202);
    const id = started.json.id as string;
    // No host name configured (API_PUBLIC_HOST_NAME, WEBSITE_HOSTNAME): relative links, never the Host header's.
    expect(started.json.buildUri).toBe(`/api/builds/${id}`);
    expect(started.json.viewUri).toBe(`/api/builds/${id}/view`);
    // The input names the pipeline, the overrides and the digest; admission re-applies them to the
    // served definition (the build below shows they took effect).
    const input = (await suite.factory.host.engine.getStatus(id, { showInput: true }))?.input;
    expect(input).toMatchObject({
      pipeline: 'ubuntu-2204-base',
      overrides: { sourceVersion: '22.04.202511050', stopAfterStage: 'ENG', buildTimeoutMinutes: 90 },
      definitionDigest: expect.stringMatching(/^[a-f0-9]{64}$/) as unknown,
    });

    await suite.factory.host.waitFor(id);
    const build = await call('GET', started.json.buildUri);
    expect(build.json).toMatchObject({ outcome: 'succeeded', sourceImageVersion: '22.04.202511050' });
    expect(build.json.stages.map((s: { name: string; state: string }) => `${s.name}:${s.state}`)).toEqual([
      'ENG:done',
    ]);
    expect(build.json.approvals).toEqual([]);
    expect(build.json.versions).toHaveLength(1);
  });

  it('shows a failed build with its reason and log excerpt, with a quoted secret masked', async () => {
    // The test script prints the licence it found: the log excerpt quotes a secret setting's value.
    suite.factory.sim.scriptRunCommand(({ script }) =>
      script.includes('auditd')
        ? { exitCode: 3, stdout: `auditd inactive; licence ${LICENSE} found`, stderr: '' }
        : { exitCode: 0, stdout: '', stderr: '' },
    );
    const started = await call('POST', '/api/builds', { pipeline: 'ubuntu-2204-base', reason: 'will fail' });
    const id = started.json.id as string;
    await suite.factory.host.waitFor(id);
    const build = await call('GET', `/api/builds/${id}`);
    expect(build.json).toMatchObject({
      outcome: 'failed',
      runtimeStatus: 'Failed',
      failure: { code: 'TestFailed', step: 'test', stage: 'ENG' },
    });
    expect(build.json.failure.logExcerpt).toContain('auditd inactive; licence [redacted] found');
    expect(build.text).not.toContain(LICENSE);
    const listed = await call('GET', '/api/builds?status=failed');
    expect(listed.json.builds.map((b: { id: string }) => b.id)).toContain(id);
    expect(listed.text).not.toContain(LICENSE);
  });

  it('finds the secret settings by name and by AZURE_CREDENTIALS, and masks them anywhere in an answer', () => {
    const env = {
      TASK_HUB_NAME: 'ImageFactoryTest',
      PIPELINES_DIR: 'pipelines-folder-name',
      BUILD_IDENTITY_ID: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/id',
      MY_APP_SECRET_VALUE: 'client-secret-value-123',
      SHORT_KEY: 'abc',
      ServiceBusConnection:
        'Endpoint=sb://bus.example/;SharedAccessKeyName=send;SharedAccessKey=c2FzLWtleQ==',
      ServiceBusConnection__fullyQualifiedNamespace: 'bus.servicebus.windows.net',
      VENDOR_PEM_SETTING_VALUE: 'x',
      PROD_CERT: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
      AZURE_CREDENTIALS: JSON.stringify({ prod: { secretSetting: 'PLAIN_NAMED' } }),
      PLAIN_NAMED: 'plain-named-secret-456',
    };
    const secrets = secretValues(env);
    expect(secrets).toEqual(
      expect.arrayContaining(['client-secret-value-123', 'plain-named-secret-456', env.ServiceBusConnection]),
    );
    for (const harmless of ['ImageFactoryTest', 'pipelines-folder-name', 'abc', 'bus.servicebus.windows.net'])
      expect(secrets).not.toContain(harmless);
    expect(secrets.some((s) => s.includes(env.BUILD_IDENTITY_ID))).toBe(false);

    const answer = redactJson(
      {
        failure: { message: 'login failed for client-secret-value-123 (plain-named-secret-456)' },
        logExcerpt: [
          'token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
          'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
        ],
        other: 'SharedAccessKey=c2FzLWtleQ== in a message',
        'client-secret-value-123': 1,
        count: 3,
      },
      secrets,
    );
    const text = JSON.stringify(answer);
    for (const secret of [
      'client-secret-value-123',
      'plain-named-secret-456',
      'c2FzLWtleQ==',
      'eyJhbGci',
      'MIIEvQIBADAN',
    ])
      expect(text).not.toContain(secret);
    expect(answer.count).toBe(3);
    expect(answer.failure.message).toBe('login failed for [redacted] ([redacted])');
  });
});
