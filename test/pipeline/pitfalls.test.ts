/**
 * Field-note pitfalls not covered in outcomes.test.ts: the existing-VNET NSG rule for Image
 * Builder's proxy (60001 Linux / 60000 Windows), every network problem of one subnet reported at
 * once, cross-tenant copies carrying the auxiliary token, and cancel while a promotion replicates.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { portInRange } from '../../src/activities/preflight';
import { approvalEventName } from '../../src/ports/approvals';
import { decisionFor, useFactory, type Factory } from './harness';

const leftovers = (factory: Factory, buildId: string) =>
  factory.sim
    .inventory()
    .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks|versions/.test(r.type))
    .filter((r) => r.tags['imagefactory.buildId'] === buildId || /imagetemplates/.test(r.type))
    .map((r) => r.id);

/** ARM writes (anything but GET and token requests) since `before`. */
const writesSince = (factory: Factory, before: Record<string, number>) =>
  Object.entries(factory.sim.callCounts()).filter(
    ([op, n]) => !op.startsWith('GET') && !op.startsWith('POST oauth') && n !== (before[op] ?? 0),
  );

describe('NSG port ranges', () => {
  it('reads *, single ports and ranges', () => {
    expect(portInRange(60001, '*')).toBe(true);
    expect(portInRange(60001, '60000-60001')).toBe(true);
    expect(portInRange(60000, '60001')).toBe(false);
    expect(portInRange(60001, '22')).toBe(false);
  });
});

describe('field-note pitfalls', () => {
  const factory = useFactory();
  let ubuntu: PipelineDefinition;
  let windows: PipelineDefinition;
  beforeAll(() => {
    ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
    windows = factory.pipelines.get('windows-2022-base')!;
  });

  const withSubnet = (p: PipelineDefinition, subnetId: string): PipelineDefinition => ({
    ...p,
    build: { ...p.build, subnetId },
  });

  it('defect 5: groups infra never created (the old sample names) are named by preflight, nothing is created', async () => {
    const before = factory.sim.callCounts();
    const old = {
      ...ubuntu,
      build: { ...ubuntu.build, resourceGroup: 'rg-image-templates' },
      test: { ...ubuntu.test, resourceGroup: 'rg-image-tests' },
    };
    const final = await factory.host.waitFor(await factory.start(old, 'old-groups'));
    const message = (final.customStatus as BuildCustomStatus).failure?.message ?? '';
    expect(message).toMatch(/^4 problem\(s\)/); // the two groups, and no grant can be on them
    expect(message).toContain(
      'build.resourceGroup names resource group rg-image-templates, which does not exist',
    );
    expect(message).toContain('test.resourceGroup names resource group rg-image-tests, which does not exist');
    expect(message).toContain('TEMPLATE_RESOURCE_GROUP / TEST_VM_RESOURCE_GROUP');
    expect(writesSince(factory, before)).toEqual([]);
  });

  it('an NSG that does not let AzureLoadBalancer reach the proxy port is refused before anything is created', async () => {
    const subnet = factory.world.buildNetwork.noLoadBalancerRuleSubnetId;
    const before = factory.sim.callCounts();
    const linux = await factory.host.waitFor(await factory.start(withSubnet(ubuntu, subnet), 'nsg-linux'));
    const status = linux.customStatus as BuildCustomStatus;
    expect(status.failure?.code).toBe('PreflightFailed');
    expect(status.failure?.message).toContain('no inbound allow from AzureLoadBalancer to port 60001');
    expect(status.failure?.message).toContain(
      '--source-address-prefixes AzureLoadBalancer --destination-port-ranges 60000-60001',
    );
    const win = await factory.host.waitFor(await factory.start(withSubnet(windows, subnet), 'nsg-windows'));
    expect((win.customStatus as BuildCustomStatus).failure?.message).toContain(
      'AzureLoadBalancer to port 60000',
    );
    expect(writesSince(factory, before)).toEqual([]);
  });

  it('a subnet with three problems (join right, private-link policy, NSG) lists all three at once', async () => {
    const subnet = factory.world.buildNetwork.threeProblemsSubnetId;
    const vnetGroup = subnet.split('/').slice(0, 5).join('/');
    const final = await factory.host.waitFor(await factory.start(withSubnet(ubuntu, subnet), 'subnet-3'));
    const message = (final.customStatus as BuildCustomStatus).failure?.message ?? '';
    expect(message).toMatch(/^3 problem\(s\)/);
    expect(message).toContain(
      `lacks Network Contributor on the build VNET's resource group (Image Builder joins its proxy VM and build VM to the subnet) ${vnetGroup}`,
    );
    expect(message).toContain(
      `--assignee-object-id ${factory.world.buildIdentity.principalId} --assignee-principal-type ServicePrincipal --role "Network Contributor" --scope ${vnetGroup}`,
    );
    expect(message).toContain('--private-link-service-network-policies Disabled');
    expect(message).toContain('AzureLoadBalancer to port 60001');
  });

  it("defect 6: join rights below the VNET's resource group are reported there, where Image Builder checks them", async () => {
    const subnet = factory.world.buildNetwork.subnetOnlyGrantSubnetId;
    const vnetGroup = subnet.split('/').slice(0, 5).join('/');
    const before = factory.sim.callCounts();
    const final = await factory.host.waitFor(await factory.start(withSubnet(ubuntu, subnet), 'subnet-only'));
    const message = (final.customStatus as BuildCustomStatus).failure?.message ?? '';
    expect(message).toMatch(/^1 problem\(s\)/);
    expect(message).toContain(`on the build VNET's resource group`);
    expect(message).toContain(
      'missing Microsoft.Network/virtualNetworks/subnets/join/action, Microsoft.Network/virtualNetworks/read',
    );
    expect(message).toContain(`--scope ${vnetGroup}`);
    expect(writesSince(factory, before)).toEqual([]);
  });

  it('the good build subnet passes the network checks and the build runs on it', async () => {
    const id = await factory.start(withSubnet(ubuntu, factory.world.buildNetwork.goodSubnetId), 'subnet-ok');
    const atTest = await factory.untilApprovalPending(id, 'TEST');
    expect(atTest.failure).toBeUndefined();
    const template = factory.sim
      .requests()
      .find((r) => r.method === 'PUT' && /imageTemplates\/[^/]+$/.test(r.path) && r.status < 300);
    expect(JSON.stringify(template?.body)).toContain(factory.world.buildNetwork.goodSubnetId);
    await factory.host.raiseEvent(id, 'cancel', { reason: 'enough', requestedBy: 'test' });
    expect(((await factory.host.waitFor(id)).customStatus as BuildCustomStatus).outcome).toBe('canceled');
    expect(leftovers(factory, id)).toEqual([]);
  });

  it('cross-tenant copies carry the auxiliary token; cancel while PROD replicates removes every version', async () => {
    const id = await factory.start(ubuntu, 'cancel-promote');
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'approved');
    // While PROD replicates, the stage names its wait, whose status (the one the build page shows,
    // src/api/builds-api.ts showLiveReplication) holds every PROD region's progress.
    let regions: { name: string; state: string }[] | undefined;
    await factory.host.drive({
      until: async () => {
        const status = await factory.status(id);
        const wait = status.stages[2]?.replicationWait;
        if (status.step !== 'promote' || status.currentStage !== 'PROD' || wait === undefined) return false;
        regions = ((await factory.host.getStatus(wait))?.customStatus as { regions?: typeof regions } | null)
          ?.regions;
        return regions !== undefined;
      },
    });
    expect(regions?.map((r) => r.name)).toEqual(['westeurope', 'northeurope', 'swedencentral']);
    expect(regions?.some((r) => r.state !== 'Completed')).toBe(true);
    await factory.host.raiseEvent(id, 'cancel', { reason: 'bad patch found', requestedBy: 'secops' });
    const final = await factory.host.waitFor(id);
    const status = final.customStatus as BuildCustomStatus;
    expect(status.outcome).toBe('canceled');
    expect(status.failure?.stage).toBe('PROD');
    expect(status.stages[2]?.state).toBe('canceled');
    // ENG and TEST versions were removed too: the record no longer points at them.
    expect(status.stages.map((s) => s.versionId)).toEqual([undefined, undefined, undefined]);
    expect((final.output as { versions: unknown[] }).versions).toEqual([]);
    const copies = factory.sim
      .requests()
      .filter(
        (r) =>
          r.method === 'PUT' &&
          /galleries\/[^/]+\/images\/[^/]+\/versions\/[^/]+$/.test(r.path) &&
          (r.path.includes(factory.world.test.subscriptionId) ||
            r.path.includes(factory.world.prod.subscriptionId)),
      );
    expect(copies.length).toBeGreaterThanOrEqual(2);
    expect(copies.every((r) => r.hadAuxiliaryHeader)).toBe(true);
    expect(leftovers(factory, id)).toEqual([]);
  });

  it('a decision that does not match the pending request is recorded and ignored; the wait goes on', async () => {
    const id = await factory.start(ubuntu, 'stray-decision');
    const pending = (await factory.untilApprovalPending(id, 'TEST')).pendingApproval!;
    await factory.host.raiseEvent(
      id,
      approvalEventName('TEST'),
      decisionFor(pending, factory.clock, {
        requestId: `${pending.requestId}-old`,
        decision: 'approved',
        approver: 'mallory@contoso.com',
        changeTicket: 'CHG0000001',
      }),
    );
    await factory.host.drive({ until: async () => /ignored/.test((await factory.status(id)).message ?? '') });
    const status = await factory.status(id);
    expect(status.pendingApproval).toEqual(pending);
    expect(status.stages[1]?.state).toBe('awaitingApproval');
    expect(status.message).toContain(`request '${pending.requestId}-old'`);
    await factory.host.raiseEvent(id, 'cancel', { reason: 'enough', requestedBy: 'test' });
    const output = (await factory.host.waitFor(id)).output as {
      outcome: string;
      ignoredDecisions: { requestId: string; approver: string }[];
    };
    expect(output.outcome).toBe('canceled');
    expect(output.ignoredDecisions).toEqual([
      expect.objectContaining({ requestId: `${pending.requestId}-old`, approver: 'mallory@contoso.com' }),
    ]);
    expect(leftovers(factory, id)).toEqual([]);
  });

  it('cancel during preflight stops before anything is created', async () => {
    const before = factory.sim.callCounts();
    const id = await factory.start(ubuntu, 'cancel-preflight');
    await factory.host.raiseEvent(id, 'cancel', { reason: 'started by mistake', requestedBy: 'ops' });
    const final = await factory.host.waitFor(id);
    const status = final.customStatus as BuildCustomStatus;
    expect(final.runtimeStatus).toBe('Completed');
    expect(status.outcome).toBe('canceled');
    expect(status.failure).toMatchObject({ code: 'Canceled', step: 'preflight' });
    expect(status.failure?.message).toBe('Canceled by ops: started by mistake');
    expect(writesSince(factory, before)).toEqual([]);
  });
});
