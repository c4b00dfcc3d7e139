import { classifyAzureError, scrubSecrets } from '../../src/adapters/errors';
import { startHarness, expectFactoryError, assertNoSecrets, type Harness } from './helpers';

describe('error classification against the simulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.stop());
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
    expect(error.message).toContain('TooManyRequests');
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
  it('maps AIB staging "Unauthorized … user assigned identity" to StagingGroupUnauthorized with the grant', () => {
    const staging = '/subscriptions/s/resourceGroups/blog-ib-staging-rg';
    const error = classifyAzureError(
      {
        name: 'RestError',
        code: 'Unauthorized',
        statusCode: 400,
        message: `Not authorized to access the resource: ${staging}. Please check the user assigned identity has the correct permissions. For more details, go to https://aka.ms/azvmimagebuilderts.`,
      },
      {
        operation: 'delete image template',
        buildIdentityId:
          '/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai',
      },
    );
    expect(error.code).toBe('StagingGroupUnauthorized');
    expect(error.hint).toContain(
      `grant Contributor to the build identity /subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai on the staging resource group ${staging}`,
    );
    expect(error.hint).toContain('az role assignment create');
  });

  // LinkedAuthorizationFailed bodies as Azure sent them (ids shortened), each with its source.
  const linked = (message: string) => ({
    name: 'RestError',
    code: 'LinkedAuthorizationFailed',
    statusCode: 403,
    message,
  });

  it('LinkedAuthorizationFailed for a linked subscription in another tenant → CrossTenantTokenMissing', () => {
    // Azure/azure-cli#30976 (az sig image-version create from a gallery in another tenant)
    const gallery = linked(
      "The client has permission to perform action 'Microsoft.Compute/galleries/images/versions/read' on scope '/subscriptions/9ab65d81-930d-4cc0-a93d-367e14676bc0/resourceGroups/RG-SHARED-AMI/providers/Microsoft.Compute/galleries/packer_shareimages/images/ado_image/versions/1.3.0_test', however the current tenant '77f54315-0000-0000-0000-000000000000' is not authorized to access linked subscription 'e6b5053b-4c38-4475-a835-a025aeb3d8c7'.",
    );
    // MicrosoftDocs/azure-docs#68563 (VM from a gallery image shared to another tenant by RBAC)
    const vm = linked(
      "The client has permission to perform action 'Microsoft.Compute/galleries/images/versions/read' on scope '/subscriptions/REPLACED_ID/resourcegroups/testlab2/providers/Microsoft.Compute/virtualMachines/testlab2', however the current tenant 'REPLACED_ID' is not authorized to access linked subscription 'REPLACED_ID'.",
    );
    for (const body of [gallery, vm]) {
      const error = classifyAzureError(body, { operation: 'create image version' });
      expect(error.code).toBe('CrossTenantTokenMissing');
      expect(error.hint).toContain('auxiliaryTenantIds');
    }
  });

  it('LinkedAuthorizationFailed for a right missing in the same tenant → AuthorizationFailed naming the linked scope', () => {
    // Azure/aad-pod-identity#613 (identity assign on a VM scale set update)
    const assign = classifyAzureError(
      linked(
        "The client 'xxxx-xxxx-xxxx-xxxx' with object id 'xxx-xxx-xxx-xxx' has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' on scope '/subscriptions/xxxx-xxxx-xxxx-xxxx/resourceGroups/MC_elephant_elephant_eastus/providers/Microsoft.Compute/virtualMachineScaleSets/aks-agentpool-88148177-vmss'; however, it does not have permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '/subscriptions/xxxx-xxxx-xxxx-xxxx/resourcegroups/elephant/providers/Microsoft.ManagedIdentity/userAssignedIdentities/elephant' or the linked scope(s) are invalid.",
      ),
      { operation: 'create image template' },
    );
    expect(assign.code).toBe('AuthorizationFailed');
    expect(assign.hint).toBe(
      'grant Managed Identity Operator to xxx-xxx-xxx-xxx on the linked scope /subscriptions/xxxx-xxxx-xxxx-xxxx/resourcegroups/elephant/providers/Microsoft.ManagedIdentity/userAssignedIdentities/elephant: az role assignment create --assignee-object-id xxx-xxx-xxx-xxx --assignee-principal-type ServicePrincipal --role "Managed Identity Operator" --scope /subscriptions/xxxx-xxxx-xxxx-xxxx/resourcegroups/elephant/providers/Microsoft.ManagedIdentity/userAssignedIdentities/elephant',
    );
    // kubernetes-sigs/cloud-provider-azure#1999 (a join action on a linked load balancer pool)
    const join = classifyAzureError(
      linked(
        "The  client '000placeholder-dummy-client-id000' with object id '000placeholder-dummy-client-id000' has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write' on scope '/subscriptions/000placeholder-dummy-subscription-id000/resourceGroups/placeholder-dummy-resource-group/providers/Microsoft.Compute/virtualMachineScaleSets/vm-dummy-vmss-rke2agent/virtualMachines/1'; however, it does not have permission to perform action 'Microsoft.Network/loadBalancers/backendAddressPools/join/action' on the linked scope(s) '/subscriptions/000placeholder-dummy-subscription-id000/resourceGroups/placeholder-dummy-resource-group/providers/Microsoft.Network/loadBalancers/kubernetes-internal/backendAddressPools/kubernetes' or the linked scope(s) are invalid.",
      ),
      { operation: 'create test VM' },
    );
    expect(join.code).toBe('AuthorizationFailed');
    expect(join.details).toMatchObject({
      action: 'Microsoft.Network/loadBalancers/backendAddressPools/join/action',
      role: 'Network Contributor',
      scope:
        '/subscriptions/000placeholder-dummy-subscription-id000/resourceGroups/placeholder-dummy-resource-group/providers/Microsoft.Network/loadBalancers/kubernetes-internal/backendAddressPools/kubernetes',
    });
    expect(join.hint).toContain('--role "Network Contributor"');
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

  it('NicReservedForAnotherVm: not retried by the host, but after the seconds Azure names', () => {
    // gardenlinux/gardenlinux#4133 (NIC delete after a failed VM create; ids shortened)
    const error = classifyAzureError(
      {
        name: 'RestError',
        code: 'NicReservedForAnotherVm',
        statusCode: 400,
        message:
          'Nic(s) in request is reserved for another Virtual Machine for 180 seconds. Please provide another nic(s) or retry after 180 seconds. Reserved VM: /subscriptions/s/resourceGroups/gh-20807247443-8783a6d5/providers/Microsoft.Compute/virtualMachines/gh-20807247443-8783a6d5',
      },
      { operation: 'delete test VM network interface' },
    );
    expect(error.code).toBe('NicReservedForAnotherVm');
    expect(error.retryable).toBe(false);
    expect(error.retryAfterMs).toBe(180_000);
  });

  it('a template refused with InternalOperationError names the staging group rule (troubleshooting guide)', () => {
    const staging = '/subscriptions/s/resourceGroups/rg-dev-aib-staging-it-x';
    // The create operation's final status, as the troubleshooting guide shows it.
    const error = classifyAzureError(
      {
        name: 'RestError',
        message: 'The long-running operation has failed. InternalOperationError. Internal error occurred.',
      },
      { operation: 'create image template', stagingResourceGroupId: staging },
    );
    expect(error.code).toBe('OperationFailed');
    expect(error.hint).toContain(`${staging} must be the template's own`);
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

  it('a Retry-After date becomes a delay; 409 on templates hints at immutability', () => {
    const conflict = classifyAzureError(
      {
        name: 'RestError',
        code: 'Conflict',
        statusCode: 409,
        message:
          'Update/Upgrade of image templates is currently not supported. Please change the name of the template you are submitting.',
      },
      { operation: 'create image template' },
    );
    expect(conflict).toMatchObject({ code: 'Conflict', retryable: false });
    expect(conflict.hint).toMatch(/new template name/);
  });
});
