import { startFactory, type Factory } from './harness';
import { SecretsScan } from './secrets-scan';

describe('build pipeline: happy path (local host + simulated Azure + virtual clock)', () => {
  let factory: Factory;
  const scan = new SecretsScan();
  let restoreConsole = () => undefined as void;
  beforeAll(async () => {
    factory = await startFactory();
    scan.watchHistories(factory);
    restoreConsole = scan.captureConsole();
  });
  afterAll(async () => {
    restoreConsole();
    await factory.stop();
  });

  it('builds ubuntu-2204-base, tests it, and promotes it ENG → TEST → PROD with approvals', async () => {
    const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
    const id = await factory.start(pipeline, 'build-ubuntu-1');
    const atTest = await factory.untilApprovalPending(id, 'TEST');
    expect(atTest.step).toBe('approve');
    await factory.decide(id, 'TEST', 'approved');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'approved', 'bob@contoso.com');
    const final = await factory.host.waitFor(id);
    if (final.runtimeStatus !== 'Completed') console.log(final.output, factory.log.slice(-30).join('\n'));
    expect(final.runtimeStatus).toBe('Completed');
    const output = final.output as {
      outcome: string;
      imageVersion: string;
      versions: { stage: string; id: string }[];
    };
    expect(output.outcome).toBe('succeeded');
    expect(output.versions.map((v) => v.stage)).toEqual(['ENG', 'TEST', 'PROD']);
    const inventory = factory.sim.inventory();
    const versions = inventory.filter((r) => r.type === 'microsoft.compute/galleries/images/versions');
    expect(versions).toHaveLength(3);
    for (const version of versions) {
      expect(version.tags['imagefactory.buildId']).toBe('build-ubuntu-1');
      expect(version.tags['imagefactory.recipeHash']).toMatch(/^[0-9a-f]{64}$/);
      expect(version.tags['imagefactory.testResult']).toMatch(/^passed/);
    }
    const prod = versions.find((v) => v.id.includes(factory.world.prod.subscriptionId))!;
    expect(prod.tags['imagefactory.approver']).toBe('bob@contoso.com');
    expect(prod.tags['imagefactory.changeTicket']).toBe('CHG0012345');
    // Nothing else left behind: no template, no test VM, NIC or disk.
    const leftovers = inventory.filter((r) =>
      /imagetemplates|virtualmachines|networkinterfaces|disks/.test(r.type),
    );
    expect(leftovers).toEqual([]);
  });

  it('builds windows-2022-base (PowerShell, Windows Update, restart), tests it with PowerShell and promotes it to two PROD regions', async () => {
    const pipeline = factory.pipelines.get('windows-2022-base')!;
    const scripts: { shell: string; script: string }[] = [];
    factory.sim.scriptRunCommand(({ shell, script }) => {
      scripts.push({ shell, script });
      return { exitCode: 0, stdout: 'Tests failed: 0', stderr: '' };
    });
    const id = await factory.start(pipeline, 'build-windows-1');
    await factory.untilApprovalPending(id, 'TEST');
    await factory.decide(id, 'TEST', 'approved');
    await factory.untilApprovalPending(id, 'PROD');
    await factory.decide(id, 'PROD', 'approved', 'bob@contoso.com');
    const final = await factory.host.waitFor(id);
    if (final.runtimeStatus !== 'Completed') console.log(final.output, factory.log.slice(-30).join('\n'));
    expect(final.runtimeStatus).toBe('Completed');
    expect((final.output as { outcome: string }).outcome).toBe('succeeded');
    // The template Image Builder got carried the Windows customizers, in order.
    const templatePut = factory.sim
      .requests()
      .find((r) => r.method === 'PUT' && /imageTemplates\/[^/]+$/.test(r.path) && r.path.includes('windows'));
    const customize = (templatePut?.body as { properties?: { customize?: { type: string }[] } })?.properties
      ?.customize;
    expect(customize?.map((c) => c.type)).toEqual(['PowerShell', 'WindowsUpdate', 'WindowsRestart']);
    // The test ran the PowerShell script on the test VM.
    expect(scripts).toHaveLength(1);
    expect(scripts[0]?.shell).toBe('PowerShell');
    expect(scripts[0]?.script).toContain('Get-WindowsFeature Telnet-Client');
    const versions = factory.sim
      .inventory()
      .filter(
        (r) =>
          r.type === 'microsoft.compute/galleries/images/versions' &&
          r.tags['imagefactory.buildId'] === 'build-windows-1',
      );
    expect(versions.map((v) => v.id.split('/')[2])).toEqual([
      factory.world.eng.subscriptionId,
      factory.world.test.subscriptionId,
      factory.world.prod.subscriptionId,
    ]);
    for (const version of versions) {
      expect(version.id).toContain('/images/windows-2022-base/versions/');
      expect(version.tags['imagefactory.testResult']).toBe('passed (1 scripts)');
    }
    const status = await factory.status(id);
    expect(status.stages.map((s) => [s.name, s.state])).toEqual([
      ['ENG', 'done'],
      ['TEST', 'done'],
      ['PROD', 'done'],
    ]);
    expect(status.stages[2]?.regions?.map((r) => [r.name, r.state]).sort()).toEqual([
      ['northeurope', 'Completed'],
      ['westeurope', 'Completed'],
    ]);
    const leftovers = factory.sim
      .inventory()
      .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks/.test(r.type));
    expect(leftovers).toEqual([]);
  });

  it('never puts a secret, key or token in logs, custom status or history', async () => {
    scan.addFactorySecrets(factory);
    await scan.collectFactory(factory);
    expect(scan.secretNames).toEqual(
      expect.arrayContaining(['client secret', 'certificate private key', 'managed identity header']),
    );
    // The tokens of all three credential kinds (secret, certificate, workload identity) and the
    // earlier generations of the replication waits are in the scan.
    expect(scan.secretNames.filter((name) => name.startsWith('accessToken')).length).toBeGreaterThanOrEqual(
      4,
    );
    expect(scan.secretNames.some((name) => name.startsWith('clientAssertion'))).toBe(true);
    expect(scan.sources.some((source) => source.endsWith('(earlier generation)'))).toBe(true);
    expect(scan.sources.some((source) => source.startsWith('console.'))).toBe(true);
    expect(scan.collectedCharacters).toBeGreaterThan(10_000);
    expect(scan.selfCheck()).toEqual([]);
    expect(scan.findings()).toEqual([]);
  });
});
