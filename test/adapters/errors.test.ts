import { classifyAzureError, scrubSecrets } from '../../src/adapters/errors';
import { useHarness, expectFactoryError, assertNoSecrets } from './helpers';

describe('error classification against the simulator', () => {
  const h = useHarness();
  afterEach(() => h.sim.setFaults(undefined));

  const rgId = (): string =>
    `/subscriptions/${h.world.eng.subscriptionId}/resourceGroups/${h.world.templateResourceGroup}`;
  const op = 'GET Microsoft.Resources/resourceGroups';

  it('reads a resource group when nothing is wrong', async () => {
    await expect(h.ports.access('eng').getResource(rgId())).resolves.toEqual({
      id: rgId(),
      location: 'westeurope',
    });
  });

  it('429 with Retry-After → Throttled, retryable, retryAfterMs from the header', async () => {
    h.sim.setFaults({ rate: 1, kinds: ['429'], operations: [op], retryAfterSeconds: 17 });
    const error = await expectFactoryError(() => h.ports.access('eng').getResource(rgId()));
    expect(error).toMatchObject({ code: 'Throttled', retryable: true, retryAfterMs: 17_000 });
    expect(error.message).toContain('TooManyRequests: The request is being throttled.'); // Azure/migAz#57
    assertNoSecrets(error, h.world);
  });

  it.each([
    ['500', 'ServerError'],
    ['503', 'ServerError'],
    ['reset', 'ConnectionFault'],
  ] as const)('%s → %s, retryable', async (kind, code) => {
    h.sim.setFaults({ rate: 1, kinds: [kind], operations: [op], retryAfterSeconds: 3 });
    const error = await expectFactoryError(() => h.ports.access('eng').getResource(rgId()));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(true);
    if (kind === '503') expect(error.retryAfterMs).toBe(3000);
    // ARM's 500 text (openshift/openshift-azure#1506)
    if (kind === '500')
      expect(error.message).toMatch(
        /Encountered internal server error\. Diagnostic information: timestamp '\d{8}T\d{6}Z', subscription id '[^']+', tracking id '[^']+', request correlation id '[^']+'\./,
      );
    expect(error.message).toContain('read resource');
    assertNoSecrets(error, h.world);
  });

  it.each(['500', 'reset'] as const)(
    'a read that keeps failing with %s is tried three times within the activity; a 429 or a 503 with Retry-After once',
    async (kind) => {
      h.sim.setFaults({ rate: 1, kinds: [kind], operations: [op], retryAfterSeconds: 3 });
      const before = h.sim.callCounts()[op] ?? 0;
      await expectFactoryError(() => h.ports.access('eng').getResource(rgId()));
      expect((h.sim.callCounts()[op] ?? 0) - before).toBe(3);
      for (const throttling of ['429', '503'] as const) {
        // Retry-After is honoured on the orchestration's durable clock, not by sleeping here.
        h.sim.setFaults({ rate: 1, kinds: [throttling], operations: [op], retryAfterSeconds: 3 });
        const throttledBefore = h.sim.callCounts()[op] ?? 0;
        await expectFactoryError(() => h.ports.access('eng').getResource(rgId()));
        expect((h.sim.callCounts()[op] ?? 0) - throttledBefore).toBe(1);
      }
    },
  );

  it('403 AuthorizationFailed names the role, the principal, the scope and the az command', async () => {
    // The app's ENG service principal only reads the ENG gallery (infra/access.json).
    const error = await expectFactoryError(() => h.ports.access('engApp').getResource(rgId()));
    expect(error.code).toBe('AuthorizationFailed');
    expect(error.retryable).toBe(false);
    expect(error.hint).toContain(`grant Reader to image-factory (Contoso Engineering)`);
    expect(error.hint).toContain(`on ${rgId()}`);
    expect(error.hint).toContain(
      `az role assignment create --assignee-object-id ${h.world.eng.factoryPrincipalId} --assignee-principal-type ServicePrincipal --role "Reader" --scope ${rgId()}`,
    );
    assertNoSecrets(error, h.world);
  });

  it('a token from the wrong tenant is AuthenticationFailed (401), not retryable', async () => {
    const error = await expectFactoryError(() => h.ports.access('test').getResource(rgId()));
    expect(error.code).toBe('AuthenticationFailed');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('InvalidAuthenticationTokenTenant');
  });

  it('404 → undefined for reads', async () => {
    await expect(
      h.ports
        .access('eng')
        .getResource(`/subscriptions/${h.world.eng.subscriptionId}/resourceGroups/rg-missing`),
    ).resolves.toBeUndefined();
  });
});

describe('classifier (shapes the SDKs throw)', () => {
  // A LinkedAuthorizationFailed as the SDK throws it.
  const linked = (message: string) => ({
    name: 'RestError',
    code: 'LinkedAuthorizationFailed',
    statusCode: 403,
    message,
  });

  // The same-tenant and other-tenant bodies Azure sent are in error-corpus.json; this case depends
  // on the context (an auxiliary token was sent).
  it('LinkedAuthorizationFailed with an auxiliary token sent → CrossTenantTokenMissing', () => {
    // With an auxiliary token sent, the right is missing for the app's principal in that tenant
    // (the same-tenant form of Azure/aad-pod-identity#613, with a gallery copy's actions and short ids).
    const copy = classifyAzureError(
      linked(
        "The client 'a' with object id 'a' has permission to perform action 'Microsoft.Compute/galleries/images/versions/write' on scope '/subscriptions/t/x'; however, it does not have permission to perform action(s) 'Microsoft.Compute/galleries/images/versions/read' on the linked scope(s) '/subscriptions/e/y' (respectively) or the linked scope(s) are invalid.",
      ),
      { operation: 'copy image version', auxiliaryTenantIds: ['eng-tenant'] },
    );
    expect(copy.code).toBe('CrossTenantTokenMissing');
    expect(copy.hint).toContain('holds Reader on the source gallery image there');
  });

  it("Image Builder's Unauthorized naming a subnet → the grant goes on the VNET's resource group", () => {
    // The form of MicrosoftDocs/azure-docs#99193 with a subnet as the resource; the scope Image Builder
    // checks is the VNET's resource group (image-builder-permissions-cli, "existing virtual network").
    const vnetGroup = '/subscriptions/s/resourceGroups/rg-net';
    const error = classifyAzureError(
      new Error(
        `The long-running operation has failed. Unauthorized. Not authorized to access the resource: ${vnetGroup}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet. Please check the user assigned identity has the correct permissions. For more details, go to https://aka.ms/azvmimagebuilderts.`,
      ),
      {
        operation: 'create image template',
        stagingResourceGroupId: '/subscriptions/s/resourceGroups/IT_rg_tpl',
        buildIdentityId:
          '/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai',
      },
    );
    expect(error.code).toBe('AuthorizationFailed');
    expect(error.details).toMatchObject({ scope: vnetGroup, role: 'Network Contributor' });
    expect(error.hint).toContain(`--role "Network Contributor" --scope ${vnetGroup}`);
  });

  it('scrubs SAS signatures, bearer tokens, client secrets and JWTs', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiIxMjM0NTYifQ.c2lnbmF0dXJlLXZhbHVl';
    const text = scrubSecrets(
      `https://a.blob/x?sv=1&sig=AbC%2Fdef%3D&se=2 Authorization: Bearer abc.def-ghi client_secret=hunter22&x=1 token ${jwt}`,
    );
    expect(text).not.toContain('AbC%2Fdef');
    expect(text).not.toContain('abc.def-ghi');
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain(jwt);
    const error = classifyAzureError(
      {
        name: 'RestError',
        statusCode: 400,
        code: 'BadRequest',
        message: `bad uri https://x/y?sig=SECRETSIG123 with ${jwt}`,
      },
      { operation: 'x' },
    );
    expect(error.message).not.toContain('SECRETSIG123');
    expect(error.message).not.toContain(jwt);
  });
});
