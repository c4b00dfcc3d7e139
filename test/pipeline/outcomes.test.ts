/**
 * Every way a build can end short of success ends with the right outcome, the reason, and nothing
 * left behind in the simulated Azure (no template, VM, NIC, disk or version of the build).
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { startFactory, type Factory } from './harness';

const leftovers = (factory: Factory) =>
  factory.sim
    .inventory()
    .filter((r) =>
      /imagetemplates|virtualmachines|networkinterfaces|disks|galleries\/images\/versions/.test(r.type),
    )
    .map((r) => r.id);

async function finish(
  factory: Factory,
  id: string,
): Promise<{ runtimeStatus: string; status: BuildCustomStatus }> {
  const final = await factory.host.waitFor(id);
  return { runtimeStatus: final.runtimeStatus, status: final.customStatus as BuildCustomStatus };
}

describe('build outcomes short of success', () => {
  let factory: Factory;
  let ubuntu: PipelineDefinition;
  beforeAll(async () => {
    factory = await startFactory();
    ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
  });
  afterAll(async () => {
    await factory.stop();
  });
  afterEach(() => {
    factory.sim.scriptRunCommand(() => ({ exitCode: 0, stdout: 'ok', stderr: '' }));
  });

  it('custom staging group without Contributor: preflight names the grant and creates nothing', async () => {
    const pipeline = {
      ...ubuntu,
      build: { ...ubuntu.build, stagingResourceGroupId: factory.world.staging.unauthorizedResourceGroupId },
    };
    const before = factory.sim.callCounts();
    const { runtimeStatus, status } = await finish(factory, await factory.start(pipeline, 'staging-pitfall'));
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure?.code).toBe('PreflightFailed');
    expect(status.failure?.message).toContain('lacks Contributor on the custom staging resource group');
    expect(status.failure?.message).toContain(
      `--role "Contributor" --scope ${factory.world.staging.unauthorizedResourceGroupId}`,
    );
    const writes = Object.entries(factory.sim.callCounts()).filter(
      ([op, n]) => !op.startsWith('GET') && !op.startsWith('POST oauth') && n !== (before[op] ?? 0),
    );
    expect(writes.filter(([op]) => /imageTemplates|versions|virtualMachines/.test(op))).toEqual([]);
    expect(leftovers(factory)).toEqual([]);
  });

  it('VNET subnet with private-link policies enabled and in another region: both reported at once', async () => {
    const pipeline = {
      ...ubuntu,
      build: { ...ubuntu.build, subnetId: factory.world.buildNetwork.policiesEnabledSubnetId },
    };
    const { status } = await finish(factory, await factory.start(pipeline, 'vnet-policy'));
    expect(status.failure?.message).toContain('--private-link-service-network-policies Disabled');
    const other = {
      ...ubuntu,
      build: { ...ubuntu.build, subnetId: factory.world.buildNetwork.otherRegionSubnetId },
    };
    const { status: otherStatus } = await finish(factory, await factory.start(other, 'vnet-region'));
    expect(otherStatus.failure?.message).toContain(`but the build runs in ${ubuntu.build.location}`);
    expect(leftovers(factory)).toEqual([]);
  });

  it('managed image in another place than the build: refused by preflight', async () => {
    const pipeline = {
      ...ubuntu,
      build: { ...ubuntu.build, location: 'northeurope' },
      source: { type: 'managedImage' as const, id: factory.world.managedImageId },
    };
    pipeline.stages = ubuntu.stages.map((s, i) =>
      i === 0
        ? {
            ...s,
            regions: [{ name: 'northeurope', replicas: 1, storageAccountType: 'Standard_LRS' as const }],
          }
        : s,
    );
    const { status } = await finish(factory, await factory.start(pipeline, 'managed-image'));
    expect(status.failure?.message).toContain(
      'a managed image can only be used in its own region and subscription',
    );
  });

  it('a failing customizer: the run sub-state and the customization log are kept, the template deleted', async () => {
    // Only this run's customizer fails (the simulator matches customizer names).
    const pipeline = {
      ...ubuntu,
      build: {
        ...ubuntu.build,
        customizers: ubuntu.build.customizers.map((c) => ({ ...c, name: `${c.name}-broken` })),
      },
    };
    factory.sim.failCustomizer({
      customizerName: 'baseline-broken',
      logLines: ['E: Unable to locate package chrony-broken', 'Script exited with 100'],
    });
    const { runtimeStatus, status } = await finish(
      factory,
      await factory.start(pipeline, 'customizer-fails'),
    );
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure).toMatchObject({ code: 'BuildFailed', step: 'build', runSubState: 'Customizing' });
    expect(status.failure?.logExcerpt).toContain('Unable to locate package chrony-broken');
    expect(leftovers(factory)).toEqual([]);
  });

  it('a failing test stops before any promotion and tears the VM down', async () => {
    factory.sim.scriptRunCommand(({ script }) =>
      script.includes('auditd')
        ? { exitCode: 3, stdout: 'auditd inactive', stderr: '' }
        : { exitCode: 0, stdout: '', stderr: '' },
    );
    const { runtimeStatus, status } = await finish(factory, await factory.start(ubuntu, 'test-fails'));
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure).toMatchObject({ code: 'TestFailed', step: 'test', stage: 'ENG' });
    expect(status.failure?.logExcerpt).toContain('auditd inactive');
    expect(status.stages.find((s) => s.name === 'TEST')?.state).toBe('skipped');
    expect(leftovers(factory)).toEqual([]);
  });

  it('a rejection ends cleanly with the approver and reason, and removes what was promoted', async () => {
    const id = await factory.start(ubuntu, 'rejected');
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'rejected', 'carol@contoso.com');
    const { runtimeStatus, status } = await finish(factory, id);
    expect(runtimeStatus).toBe('Completed');
    expect(status.outcome).toBe('rejected');
    expect(status.failure?.message).toContain('PROD rejected by carol@contoso.com (CHG0012345)');
    expect(leftovers(factory)).toEqual([]);
  });

  it('an approval that never comes times out at its deadline', async () => {
    const id = await factory.start(ubuntu, 'timed-out');
    await factory.untilApprovalPending(id, 'TEST');
    const { runtimeStatus, status } = await finish(factory, id);
    expect(runtimeStatus).toBe('Completed');
    expect(status.outcome).toBe('timedOut');
    expect(status.stages.find((s) => s.name === 'TEST')?.approval?.decision).toBe('timedOut');
    expect(leftovers(factory)).toEqual([]);
  });

  it('a forged decision for another version is ignored; the real one still counts', async () => {
    const id = await factory.start(ubuntu, 'forged');
    const pending = (await factory.untilApprovalPending(id, 'TEST')).pendingApproval!;
    await factory.host.raiseEvent(id, 'approval:TEST', {
      ...pending,
      imageVersion: '1.2.3',
      decision: 'approved',
      approver: 'mallory',
      changeTicket: 'X',
      decidedAt: new Date(factory.clock.now()).toISOString(),
    });
    await factory.host.drive({ until: async () => (await factory.host.engine.whenIdle(), true) });
    expect((await factory.status(id)).pendingApproval?.requestId).toBe(pending.requestId);
    await factory.decide(id, 'TEST', 'rejected');
    const { status } = await finish(factory, id);
    expect(status.outcome).toBe('rejected');
    expect(status.stages.find((s) => s.name === 'TEST')?.approval?.approver).toBe('alice@contoso.com');
  });

  it('cancel during the build cancels the run and removes the template', async () => {
    const id = await factory.start(ubuntu, 'cancel-build');
    await factory.host.drive({
      until: async () => (await factory.status(id))?.message === 'Image Builder is building',
    });
    await factory.host.raiseEvent(id, 'cancel', { reason: 'wrong recipe', requestedBy: 'ops' });
    const { status } = await finish(factory, id);
    expect(status.outcome).toBe('canceled');
    expect(status.failure?.message).toBe('Canceled by ops: wrong recipe');
    expect(leftovers(factory)).toEqual([]);
  });
});
