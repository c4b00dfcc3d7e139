import { CredentialStore } from '../../src/adapters/credentials';
import { loadConfig } from '../../src/config';
import { useHarness, expectFactoryError, assertNoSecrets } from './helpers';

const ARM = 'https://management.azure.com/.default';

describe('credentials against the simulated Entra', () => {
  const h = useHarness();

  it.each([
    ['eng', 'managedIdentity'],
    ['engApp', 'clientSecret'],
    ['test', 'clientCertificate'],
    ['prod', 'workloadIdentity'],
    ['factory', 'managedIdentity'],
  ])('profile %s (%s) obtains an ARM token for its tenant', async (profile, kind) => {
    const store = new CredentialStore(h.config, { env: { ...h.env } });
    expect(store.profile(profile).kind).toBe(kind);
    const token = await store.credential(profile).getToken(ARM);
    expect(token?.token).toMatch(/^eyJ/);
    const claims = JSON.parse(Buffer.from(token?.token.split('.')[1] ?? '', 'base64url').toString()) as {
      tid: string;
      oid: string;
    };
    expect(claims.tid).toBe(store.profile(profile).tenantId);
    expect(claims.oid).toBe(store.profile(profile).principalId);
  });

  it('the same app signs in to another tenant for auxiliary tokens', async () => {
    const store = new CredentialStore(h.config, { env: { ...h.env } });
    const token = await store.credential('test', h.world.eng.tenantId).getToken(ARM);
    const claims = JSON.parse(Buffer.from(token?.token.split('.')[1] ?? '', 'base64url').toString()) as {
      tid: string;
      oid: string;
    };
    expect(claims.tid).toBe(h.world.eng.tenantId);
    expect(claims.oid).toBe(h.world.eng.factoryPrincipalId);
    expect(store.credential('test', h.world.eng.tenantId)).toBe(
      store.credential('test', h.world.eng.tenantId),
    );
  });

  it('a wrong secret is AuthenticationFailed, with the AADSTS code and without the secret', async () => {
    const wrong = 'definitely-not-the-secret-123456';
    const store = new CredentialStore(h.config, { env: { ...h.env, FACTORY_CLIENT_SECRET: wrong } });
    const error = await expectFactoryError(() => store.credential('engApp').getToken(ARM));
    expect(error.code).toBe('AuthenticationFailed');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('AADSTS7000215');
    expect(JSON.stringify(error.toJSON())).not.toContain(wrong);
    assertNoSecrets(error, h.world);
  });

  it('an app not consented in a tenant is AuthenticationFailed with the consent hint (AADSTS700016)', async () => {
    const store = new CredentialStore(h.config, { env: { ...h.env } });
    h.sim.addTenant('44444444-4444-4444-8444-444444444444', 'Fabrikam');
    const error = await expectFactoryError(() =>
      store.credential('engApp', '44444444-4444-4444-8444-444444444444').getToken(ARM),
    );
    expect(error.code).toBe('AuthenticationFailed');
    expect(error.message).toContain('AADSTS700016');
    expect(error.hint).toMatch(/consent/);
  });

  it('a missing secret setting is named, and the message never carries a value', () => {
    const env = { ...h.env };
    delete (env as Record<string, string | undefined>).FACTORY_CLIENT_SECRET;
    const store = new CredentialStore(h.config, { env });
    expect(() => store.credential('engApp')).toThrow(/FACTORY_CLIENT_SECRET, which is not set/);
  });

  it('managed identity without IDENTITY_ENDPOINT outside public cloud is refused (never IMDS)', () => {
    const saved = process.env.IDENTITY_ENDPOINT;
    delete process.env.IDENTITY_ENDPOINT;
    try {
      const store = new CredentialStore(h.config, { env: h.env });
      expect(() => store.credential('factory')).toThrow(/IDENTITY_ENDPOINT/);
      expect(() => store.credential('prod')).toThrow(/IDENTITY_ENDPOINT/);
    } finally {
      process.env.IDENTITY_ENDPOINT = saved;
    }
  });

  it('an unknown profile lists the defined ones', () => {
    const store = new CredentialStore(h.config, { env: h.env });
    expect(() => store.profile('staging')).toThrow(
      /No credential profile "staging".*eng, engApp, test, prod, factory/,
    );
  });

  it('the CA is trusted per client: an unreadable AZURE_CA_CERT_FILE is a clear config error', () => {
    const config = loadConfig({ ...h.env, AZURE_CA_CERT_FILE: '/nonexistent/ca.pem' });
    expect(() => new CredentialStore(config, { env: h.env })).toThrow(
      /AZURE_CA_CERT_FILE: cannot read \/nonexistent\/ca.pem/,
    );
  });
});

describe('AZURE_CREDENTIALS validation', () => {
  it('reports every problem at once with its path, and never echoes the value', () => {
    let message = '';
    try {
      loadConfig({
        TASK_HUB_NAME: 'ImageFactory',
        AZURE_CREDENTIALS: JSON.stringify({
          eng: { tenantId: 't', kind: 'clientSecret', clientId: 'c', principalId: 'p', displayName: 'd' },
          test: {
            tenantId: 't',
            kind: 'clientCertificate',
            clientId: 'c',
            principalId: 'p',
            displayName: 'd',
            secretSetting: 'X',
          },
          prod: { tenantId: 't', kind: 'password', clientId: 'c', principalId: 'p', displayName: 'd' },
          bad: {
            tenantId: 't',
            kind: 'clientSecret',
            clientId: 'c',
            principalId: 'p',
            displayName: 'd',
            secretSetting: 'abc~secret.value',
          },
        }),
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('AZURE_CREDENTIALS.eng.secretSetting: required for kind clientSecret');
    expect(message).toContain(
      'AZURE_CREDENTIALS.test.certificateSetting: required for kind clientCertificate',
    );
    expect(message).toContain('AZURE_CREDENTIALS.test.secretSetting: not used by kind clientCertificate');
    expect(message).toContain('AZURE_CREDENTIALS.prod.kind');
    expect(message).toContain('AZURE_CREDENTIALS.bad.secretSetting: must be the NAME of a setting');
    expect(message).not.toContain('abc~secret.value');
  });

  it('invalid JSON is reported without echoing it', () => {
    expect(() => loadConfig({ TASK_HUB_NAME: 'ImageFactory', AZURE_CREDENTIALS: '{"eng": s3cr3t' })).toThrow(
      /AZURE_CREDENTIALS: is not valid JSON/,
    );
    try {
      loadConfig({ TASK_HUB_NAME: 'ImageFactory', AZURE_CREDENTIALS: '{"eng": s3cr3t' });
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cr3t');
    }
  });
});
