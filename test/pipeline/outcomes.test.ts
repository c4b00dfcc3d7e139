/**
 * Every way a build can end short of success ends with the right outcome, the reason, and nothing
 * left behind in the simulated Azure (no template, VM, NIC, disk or version of the build).
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { useFactory, type Factory } from './harness';

const leftovers = (factory: Factory) =>
  factory.sim
    .inventory()
    .filter((r) =>
      /imagetemplates|virtualmachines|networkinterfaces|disks|galleries\/images\/versions/.test(r.type),
    )
    .map((r) => r.id);

/** ARM writes (anything but GET) since request number `from`: preflight failures must make none. */
const writesSince = (factory: Factory, from: number) =>
  factory.sim
    .requests()
    .slice(from)
    .filter((r) => r.method !== 'GET' && r.path.toLowerCase().startsWith('/subscriptions/'))
    .map((r) => `${r.method} ${r.path}`);

async function finish(
  factory: Factory,
  id: string,
): Promise<{ runtimeStatus: string; status: BuildCustomStatus }> {
  const final = await factory.host.waitFor(id);
  return { runtimeStatus: final.runtimeStatus, status: final.customStatus as BuildCustomStatus };
}

describe('build outcomes short of success', () => {
  const factory = useFactory();
  let ubuntu: PipelineDefinition;
  beforeAll(() => {
    ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
  });
  afterEach(() => {
    factory.sim.scriptRunCommand(() => ({ exitCode: 0, stdout: 'ok', stderr: '' }));
  });

  it('VNET subnet with private-link policies enabled and in another region: both reported at once', async () => {
    const pipeline = {
      ...ubuntu,
      build: { ...ubuntu.build, subnetId: factory.world.buildNetwork.policiesEnabledSubnetId },
    };
    const from = factory.sim.requests().length;
    const { status } = await finish(factory, await factory.start(pipeline, 'vnet-policy'));
    expect(status.failure?.code).toBe('PreflightFailed');
    expect(status.failure?.message).toContain(
      'Image Builder puts a Private Link service in the build subnet, which needs privateLinkServiceNetworkPolicies Disabled',
    );
    expect(status.failure?.message).toContain('--private-link-service-network-policies Disabled');
    const other = {
      ...ubuntu,
      build: { ...ubuntu.build, subnetId: factory.world.buildNetwork.otherRegionSubnetId },
    };
    const { status: otherStatus } = await finish(factory, await factory.start(other, 'vnet-region'));
    expect(otherStatus.failure?.message).toContain(
      `the build VNET is in ${factory.world.buildNetwork.otherRegion} but the build runs in ${ubuntu.build.location}`,
    );
    expect(writesSince(factory, from)).toEqual([]);
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
    const from = factory.sim.requests().length;
    const { runtimeStatus, status } = await finish(factory, await factory.start(pipeline, 'managed-image'));
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure?.code).toBe('PreflightFailed');
    expect(status.failure?.message).toContain(
      'a managed image can only be used in its own region and subscription: it is in westeurope/',
    );
    expect(status.failure?.message).toContain('use source.type galleryImageVersion');
    expect(writesSince(factory, from)).toEqual([]);
    expect(leftovers(factory)).toEqual([]);
  });

  it('a stage gallery the factory holds no role on: preflight names the stage, the grant, and creates nothing', async () => {
    const { prod } = factory.world;
    // A gallery the PROD factory principal can read but not write (test-only: someone granted it
    // Reader there and skipped infra/tenant/main.bicep).
    const galleryId = factory.sim.addGallery({
      subscriptionId: prod.subscriptionId,
      resourceGroup: prod.galleryResourceGroup,
      name: 'gal_prod_norole',
      location: prod.location,
    });
    factory.sim.assignRole({ principalId: prod.factoryPrincipalId, role: 'Reader', scope: galleryId });
    // The PROD environment owns its gallery: the factory's operators moved it there.
    const restore = factory.editEnvironments((document) => {
      const prodEnvironment = document.environments.find((e) => e.name === 'PROD')!;
      prodEnvironment.gallery = { ...(prodEnvironment.gallery as object), name: 'gal_prod_norole' };
    });
    const pipeline = {
      ...ubuntu,
      stages: ubuntu.stages.map((s) =>
        s.name === 'PROD' ? { ...s, gallery: { ...s.gallery, name: 'gal_prod_norole' } } : s,
      ),
    };
    const from = factory.sim.requests().length;
    const { runtimeStatus, status } = await finish(factory, await factory.start(pipeline, 'gallery-norole'));
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure?.code).toBe('PreflightFailed');
    expect(status.failure?.message).toMatch(/^1 problem\(s\) must be fixed/);
    expect(status.failure?.message).toContain(`the factory's identity in PROD '`);
    expect(status.failure?.message).toContain(`lacks Contributor on the PROD gallery ${galleryId}`);
    expect(status.failure?.message).toContain('Microsoft.Compute/galleries/images/versions/write');
    expect(status.failure?.hint).toBe(
      `grant it with: az role assignment create --assignee-object-id ${prod.factoryPrincipalId} --assignee-principal-type ServicePrincipal --role "Contributor" --scope ${galleryId}`,
    );
    expect(writesSince(factory, from)).toEqual([]);
    expect(leftovers(factory)).toEqual([]);
    restore();
  });

  /**
   * The Ubuntu pipeline with its customizers renamed `<name>-<suffix>`, whose `baseline` step fails;
   * only this run's customizer fails (the simulator matches customizer names).
   */
  function withFailingBaseline(suffix: string): PipelineDefinition {
    factory.sim.failCustomizer({
      customizerName: `baseline-${suffix}`,
      logLines: [`E: Unable to locate package chrony-${suffix}`, 'Script exited with 100'],
    });
    return {
      ...ubuntu,
      build: {
        ...ubuntu.build,
        customizers: ubuntu.build.customizers.map((c) => ({ ...c, name: `${c.name}-${suffix}` })),
      },
    };
  }

  it('a failing customizer: the run sub-state and the customization log are kept, the template deleted', async () => {
    const pipeline = withFailingBaseline('broken');
    const from = factory.sim.requests().length;
    const { runtimeStatus, status } = await finish(
      factory,
      await factory.start(pipeline, 'customizer-fails'),
    );
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure).toMatchObject({ code: 'BuildFailed', step: 'build', runSubState: 'Customizing' });
    expect(status.failure?.logExcerpt).toContain('Unable to locate package chrony-broken');
    expect(status.failure?.message).toContain('Image Builder run Failed at Customizing');
    // The template this build created was deleted (no failed template is left to block a re-run).
    const template = factory.sim
      .requests()
      .slice(from)
      .filter((r) => /\/imageTemplates\/[^/]+$/.test(r.path));
    expect(template.map((r) => r.method)).toContain('PUT');
    expect(template.filter((r) => r.method === 'DELETE' && r.status < 300).length).toBeGreaterThan(0);
    expect(leftovers(factory)).toEqual([]);
  });

  it('a failing customizer whose log cannot be read still fails BuildFailed, saying why the excerpt is missing', async () => {
    const pipeline = withFailingBaseline('unread');
    // Every storage request's connection is reset: the log read fails after the host's retries.
    factory.sim.setFaults({ rate: 1, kinds: ['reset'], operations: ['GET blob'] });
    try {
      const { runtimeStatus, status } = await finish(
        factory,
        await factory.start(pipeline, 'customizer-fails-log-unread'),
      );
      expect(runtimeStatus).toBe('Failed');
      expect(status.failure).toMatchObject({
        code: 'BuildFailed',
        step: 'build',
        runSubState: 'Customizing',
      });
      expect(status.failure?.message).toContain('Image Builder run Failed at Customizing');
      expect(status.failure?.logExcerpt).toBeUndefined();
      expect(status.failure?.hint).toMatch(
        /^customization\.log could not be read \(ConnectionFault: readBuildLog: /,
      );
      expect(leftovers(factory)).toEqual([]);
    } finally {
      factory.sim.setFaults(undefined);
    }
  });

  it('a failing test stops before any promotion and tears the VM down', async () => {
    factory.sim.scriptRunCommand(({ script }) =>
      script.includes('auditd')
        ? { exitCode: 3, stdout: 'auditd inactive', stderr: '' }
        : { exitCode: 0, stdout: '', stderr: '' },
    );
    const from = factory.sim.requests().length;
    const { runtimeStatus, status } = await finish(factory, await factory.start(ubuntu, 'test-fails'));
    expect(runtimeStatus).toBe('Failed');
    expect(status.failure).toMatchObject({ code: 'TestFailed', step: 'test', stage: 'ENG' });
    expect(status.failure?.logExcerpt).toContain('auditd inactive');
    expect(status.stages.find((s) => s.name === 'TEST')?.state).toBe('skipped');
    expect(status.stages.find((s) => s.name === 'PROD')?.state).toBe('skipped');
    const requests = factory.sim.requests().slice(from);
    // The test VM existed, and nothing was ever written in TEST or PROD.
    expect(requests.some((r) => r.method === 'PUT' && /virtualMachines\/vmt/.test(r.path))).toBe(true);
    const promoted = requests.filter(
      (r) =>
        r.method !== 'GET' &&
        (r.path.includes(factory.world.test.subscriptionId) ||
          r.path.includes(factory.world.prod.subscriptionId)) &&
        /versions/.test(r.path),
    );
    expect(promoted).toEqual([]);
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
    expect(status.failure?.code).toBe('ApprovalTimedOut');
    expect(status.failure?.message).toMatch(/^no TEST approval decision before \d{4}-/);
    // The deadline (48 h) really passed on the virtual clock.
    expect(factory.clock.now() - Date.parse(status.stages[1]!.approval!.requestedAt)).toBeGreaterThanOrEqual(
      48 * 3600_000,
    );
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
    // The running Image Builder run was cancelled, not left to finish and distribute.
    expect(
      factory.sim
        .requests()
        .some((r) => r.method === 'POST' && /imageTemplates\/[^/]+\/cancel$/.test(r.path)),
    ).toBe(true);
    expect(leftovers(factory)).toEqual([]);
  });

  it('cancel during the test removes the test VM, its NIC and disk, and the ENG version', async () => {
    const id = await factory.start(ubuntu, 'cancel-test');
    await factory.host.drive({
      until: async () =>
        (await factory.status(id))?.step === 'test' &&
        factory.sim.inventory().some((r) => r.type === 'microsoft.compute/virtualmachines'),
    });
    expect(leftovers(factory).some((r) => /networkInterfaces/i.test(r))).toBe(true);
    await factory.host.raiseEvent(id, 'cancel', { reason: 'superseded', requestedBy: 'ops' });
    const { runtimeStatus, status } = await finish(factory, id);
    expect(runtimeStatus).toBe('Completed');
    expect(status.outcome).toBe('canceled');
    expect(status.failure).toMatchObject({ code: 'Canceled', step: 'test', stage: 'ENG' });
    expect(status.failure?.message).toBe('Canceled by ops: superseded');
    expect(status.stages.map((s) => s.state)).toEqual(['canceled', 'canceled', 'canceled']);
    expect(leftovers(factory)).toEqual([]);
  });

  it('cancel during an approval withdraws it and removes every version of the build', async () => {
    const id = await factory.start(ubuntu, 'cancel-approval');
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    const pending = await factory.untilApprovalPending(id, 'PROD');
    expect(pending.pendingApproval?.stage).toBe('PROD');
    const versions = () =>
      factory.sim
        .inventory()
        .filter(
          (r) =>
            r.type === 'microsoft.compute/galleries/images/versions' &&
            r.tags['imagefactory.buildId'] === 'cancel-approval',
        );
    // ENG, TEST, and PROD pre-staged (excluded from latest) while its approval is pending.
    expect(versions()).toHaveLength(3);
    expect(ubuntu.stages[2]?.preStage).toBe(true);
    await factory.host.raiseEvent(id, 'cancel', { reason: 'change freeze', requestedBy: 'cab' });
    const { runtimeStatus, status } = await finish(factory, id);
    expect(runtimeStatus).toBe('Completed');
    expect(status.outcome).toBe('canceled');
    expect(status.failure).toMatchObject({ code: 'Canceled', step: 'approve', stage: 'PROD' });
    expect(status.failure?.message).toBe('Canceled by cab: change freeze');
    expect(status.pendingApproval).toBeUndefined();
    expect(versions()).toEqual([]);
    expect(leftovers(factory)).toEqual([]);
  });
});
