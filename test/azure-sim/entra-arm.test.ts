import https from 'node:https';
import { ResourceManagementClient } from '@azure/arm-resources';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import {
  ClientSecretCredential,
  ClientAssertionCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import { VirtualClock } from '../../src/shared/clock';
import { errorOf, startEnv, type Env } from './helpers';

describe('azure-sim: Entra tokens and ARM basics', () => {
  let env: Env;
  const clock = new VirtualClock();
  beforeAll(async () => {
    env = await startEnv({ clock });
  });
  afterAll(async () => {
    await env.sim.stop();
  });

  test('client secret token reads the one resource its principal may read through the real SDK', async () => {
    const { world } = env;
    const client = new ResourceManagementClient(
      env.secretCredential(world.eng.tenantId),
      world.eng.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    // The app's ENG service principal holds Reader on the ENG gallery only (infra/access.json).
    const gallery = await client.resources.getById(world.eng.galleryId, '2025-03-03');
    expect(gallery.location).toBe('westeurope');
    expect(gallery.id).toBe(world.eng.galleryId);
  });

  test('certificate credential (PS256 assertion) gets a token', async () => {
    const token = await env
      .certCredential(env.world.test.tenantId)
      .getToken('https://management.azure.com/.default');
    const payload = JSON.parse(
      Buffer.from((token?.token ?? '').split('.')[1] ?? '', 'base64url').toString(),
    ) as { tid: string; oid: string };
    expect(payload.tid).toBe(env.world.test.tenantId);
    expect(payload.oid).toBe(env.world.test.factoryPrincipalId);
  });

  test('issuedCredentials lists every token handed out and every client assertion received', async () => {
    const before = env.sim.issuedCredentials().length;
    const token = await env
      .certCredential(env.world.test.tenantId)
      .getToken('https://graph.microsoft.com/.default');
    const issued = env.sim.issuedCredentials().slice(before);
    expect(issued.map((c) => c.kind)).toEqual(['clientAssertion', 'accessToken']);
    expect(issued[1]?.value).toBe(token?.token);
    expect(issued[0]?.value.split('.')).toHaveLength(3);
  });

  test('wrong secret gives AADSTS7000215 without echoing the secret', async () => {
    const cred = new ClientSecretCredential(
      env.world.eng.tenantId,
      env.world.factoryApp.appId,
      'not-the-secret',
      {
        authorityHost: env.sim.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: env.sim.ca },
      },
    );
    const err = await errorOf(cred.getToken('https://management.azure.com/.default'));
    expect(err.message).toContain('AADSTS7000215');
    expect(err.message).not.toContain('not-the-secret');
  });

  test('app without a service principal in the tenant gives AADSTS700016', async () => {
    env.sim.addTenant('44444444-4444-4444-8444-444444444444', 'Fabrikam');
    const cred = new ClientSecretCredential(
      '44444444-4444-4444-8444-444444444444',
      env.world.factoryApp.appId,
      env.world.factoryApp.clientSecret,
      {
        authorityHost: env.sim.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: env.sim.ca },
      },
    );
    const err = await errorOf(cred.getToken('https://management.azure.com/.default'));
    expect(err.message).toContain('AADSTS700016');
  });

  test('federated assertion from the managed identity endpoint is exchanged for an app token', async () => {
    const { sim, world } = env;
    process.env.IDENTITY_ENDPOINT = sim.managedIdentityEndpoint.url;
    process.env.IDENTITY_HEADER = sim.managedIdentityEndpoint.header;
    try {
      const mi = new ManagedIdentityCredential({ clientId: world.factoryIdentity.clientId });
      const cred = new ClientAssertionCredential(
        world.eng.tenantId,
        world.factoryApp.appId,
        async () => (await mi.getToken('api://AzureADTokenExchange')).token,
        { authorityHost: sim.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: sim.ca } },
      );
      const token = await cred.getToken('https://management.azure.com/.default');
      const payload = JSON.parse(
        Buffer.from((token?.token ?? '').split('.')[1] ?? '', 'base64url').toString(),
      ) as { oid: string };
      expect(payload.oid).toBe(world.eng.factoryPrincipalId);
    } finally {
      delete process.env.IDENTITY_ENDPOINT;
      delete process.env.IDENTITY_HEADER;
    }
  });

  test('token of tenant A on a subscription of tenant B → 401 InvalidAuthenticationTokenTenant', async () => {
    const { world } = env;
    const client = new ResourceManagementClient(
      env.secretCredential(world.eng.tenantId),
      world.prod.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    const err = await errorOf(client.resourceGroups.get(world.prod.galleryResourceGroup));
    expect(err.statusCode).toBe(401);
    expect(err.code).toBe('InvalidAuthenticationTokenTenant');
  });

  test('RBAC: 403 AuthorizationFailed with the real message shape', async () => {
    const { world } = env;
    const client = new ResourceManagementClient(
      env.secretCredential(world.eng.tenantId),
      world.eng.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    const err = await errorOf(client.resourceGroups.createOrUpdate('rg-new', { location: 'westeurope' }));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('AuthorizationFailed');
    const oid = world.eng.factoryPrincipalId;
    expect(err.message).toBe(
      `The client '${oid}' with object id '${oid}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/write' over scope '/subscriptions/${world.eng.subscriptionId}/resourceGroups/rg-new' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  });

  test('role assignments list with principalId filter and atScope()', async () => {
    const { world } = env;
    const client = new AuthorizationManagementClient(
      env.factoryCredential(),
      world.eng.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    const scope = world.staging.goodResourceGroupId;
    const found = [];
    for await (const a of client.roleAssignments.listForScope(scope, {
      filter: `atScope() and principalId eq '${world.buildIdentity.principalId}'`,
    }))
      found.push(a);
    expect(found.map((a) => a.roleDefinitionId?.split('/').pop())).toEqual([world.roles.Contributor]);
    const none = [];
    for await (const a of client.roleAssignments.listForScope(world.staging.unauthorizedResourceGroupId, {
      filter: `atScope() and principalId eq '${world.buildIdentity.principalId}'`,
    }))
      none.push(a);
    expect(none).toEqual([]);
  });

  test('the token and managed-identity endpoints take a connection fault only when the plan names them', async () => {
    const { sim, world } = env;
    const scope = 'https://management.azure.com/.default';
    const withoutRetries = (): ClientSecretCredential =>
      new ClientSecretCredential(world.eng.tenantId, world.factoryApp.appId, world.factoryApp.clientSecret, {
        authorityHost: sim.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: sim.ca },
        retryOptions: { maxRetries: 0 },
      });
    try {
      // A plan that names no operations faults ARM calls only.
      sim.setFaults({ rate: 1, kinds: ['reset'] });
      expect((await withoutRetries().getToken(scope))?.token).toMatch(/^ey/);
      expect((await env.factoryCredential().getToken(scope))?.token).toMatch(/^ey/);
      sim.setFaults({ rate: 1, kinds: ['reset'], operations: ['POST oauth2/token'] });
      await expect(withoutRetries().getToken(scope)).rejects.toThrow();
      expect((await env.factoryCredential().getToken(scope))?.token).toMatch(/^ey/);
      sim.setFaults({ rate: 1, kinds: ['reset'], operations: ['GET managedIdentity/token'] });
      await expect(env.factoryCredential().getToken(scope)).rejects.toThrow();
      expect((await withoutRetries().getToken(scope))?.token).toMatch(/^ey/);
    } finally {
      sim.setFaults(undefined);
    }
  });

  test('expired token (virtual clock) → 401 ExpiredAuthenticationToken', async () => {
    const { world } = env;
    const cred = env.secretCredential(world.eng.tenantId);
    const client = new ResourceManagementClient(
      cred,
      world.eng.subscriptionId,
      env.clientOptions({ credentialScopes: ['https://management.azure.com/.default'] }),
    );
    await client.resources.getById(world.eng.galleryId, '2025-03-03');
    clock.advanceBy(25 * 3600_000);
    const err = await errorOf(client.resources.getById(world.eng.galleryId, '2025-03-03'));
    expect(err.statusCode).toBe(401);
    expect(err.code).toBe('ExpiredAuthenticationToken');
    // ARM's wording and .NET time format (microsoft/foundry-dev-tools#461)
    expect(err.message).toMatch(
      /^The access token expiry UTC time '\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M' is earlier than current UTC time '\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M'\.$/,
    );
  });

  /** A GET on ARM with the given Authorization header, as raw as ARM sees it. */
  const rawArmGet = (authorization: string): Promise<{ status: number; body: unknown }> => {
    const url = new URL(
      `${env.sim.armEndpoint}/subscriptions/${env.world.eng.subscriptionId}?api-version=2025-04-01`,
    );
    return new Promise((resolve, reject) => {
      const req = https.request(url, { ca: env.sim.ca, headers: { Authorization: authorization } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      });
      req.on('error', reject);
      req.end();
    });
  };

  test('a token for another resource → 401 InvalidAuthenticationTokenAudience naming it', async () => {
    const token = await env
      .secretCredential(env.world.eng.tenantId)
      .getToken('https://storage.azure.com/.default');
    // JetBrains/azure-tools-for-intellij#16, hashicorp/go-azure-helpers#51
    expect(await rawArmGet(`Bearer ${token?.token ?? ''}`)).toEqual({
      status: 401,
      body: {
        error: {
          code: 'InvalidAuthenticationTokenAudience',
          message:
            "The access token has been obtained for wrong audience or resource 'https://storage.azure.com'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
        },
      },
    });
  });

  test('an Authorization header that is not a bearer token → 401 AuthenticationFailedInvalidHeader', async () => {
    // Azure/azure-sdk-for-python#4124
    expect(await rawArmGet('Basic dXNlcjpwYXNz')).toEqual({
      status: 401,
      body: {
        error: {
          code: 'AuthenticationFailedInvalidHeader',
          message: "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        },
      },
    });
  });
});
