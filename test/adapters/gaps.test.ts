import type { ImageTemplateRef, ImageTemplateSpec } from '../../src/ports/azure';
import {
  useHarness,
  imageDefinition,
  templateRef,
  templateSpec,
  expectFactoryError,
  assertNoSecrets,
  deleteVmToEnd,
  provisionTemplate,
  runCommandToEnd,
} from './helpers';

const IMAGE = 'ubuntu-gaps';
const WIN_IMAGE = 'win-gaps';

describe('adapters: cancel, VNET builds, timeout, Windows run command, version PATCH, VHD, faults, log listing', () => {
  const h = useHarness();
  beforeAll(async () => {
    const eng = h.world.eng;
    for (const [image, osType] of [
      [IMAGE, 'Linux'],
      [WIN_IMAGE, 'Windows'],
    ] as const)
      await h.ports
        .galleries('eng')
        .ensureImageDefinition(
          imageDefinition(eng, image, { publisher: 'Contoso', offer: 'gaps', sku: image }, { osType }),
        );
  });

  const ref = (name: string): ImageTemplateRef => templateRef(h, name);
  const spec = (
    name: string,
    version: string,
    overrides: Partial<ImageTemplateSpec> = {},
  ): ImageTemplateSpec => templateSpec(h, { name, image: IMAGE, version }, overrides);
  const runToEnd = async (r: ImageTemplateRef): Promise<void> => {
    for (let i = 0; i < 20; i += 1) {
      h.clock.advanceBy(10 * 60_000);
      if ((await h.ports.imageBuilder('eng').getTemplate(r))?.lastRun?.runState !== 'Running') return;
    }
  };
  const templatePuts = (name: string) =>
    h.sim
      .requests()
      .filter(
        (r) =>
          r.operation === 'PUT Microsoft.VirtualMachineImages/imageTemplates' && r.path.endsWith(`/${name}`),
      );

  it('cancelRun: run → cancel → Canceling → Canceled; cancel again is a no-op; the template is deletable after', async () => {
    const r = ref('it-cancel');
    const aib = h.ports.imageBuilder('eng');
    await provisionTemplate(h, 'eng', spec(r.name, '0.1.0'));
    await aib.startRun(r);
    h.clock.advanceBy(10 * 60_000);
    await aib.cancelRun(r);
    // The cancel does not wait: the run is Canceling for a while, then Canceled.
    expect((await aib.getTemplate(r))?.lastRun?.runState).toBe('Canceling');
    await aib.cancelRun(r); // not Running any more: no second POST
    // Image Builder does not delete a template while its run is canceling.
    const refused = await expectFactoryError(() => aib.deleteTemplate(r));
    expect(refused.message).toContain(
      'is not allowed in provisioning state: provisioned or run state: canceling',
    );
    h.clock.advanceBy(15 * 60_000);
    const status = await aib.getTemplate(r);
    expect(status?.lastRun?.runState).toBe('Canceled');
    await aib.cancelRun(r); // nothing running any more: no second POST
    expect(
      h.sim
        .requests()
        .filter((q) => q.operation === 'POST Microsoft.VirtualMachineImages/imageTemplates/cancel'),
    ).toHaveLength(1);
    h.clock.advanceBy(60 * 60_000);
    await expect(aib.getRunOutput(r, 'eng-gallery')).resolves.toBeUndefined(); // nothing distributed
    await aib.deleteTemplate(r);
    await aib.deleteTemplate(r); // the retry while it is Deleting sends no second DELETE
    expect(
      h.sim
        .requests()
        // (the DELETE refused while Canceling, above, does not count)
        .filter(
          (q) => q.method === 'DELETE' && q.path.endsWith(`/imageTemplates/${r.name}`) && q.status !== 405,
        ),
    ).toHaveLength(1);
    h.clock.advanceBy(77_000); // Azure: ~77 s
    await expect(aib.getTemplate(r)).resolves.toBeUndefined();
    expect(h.sim.inventory().filter((x) => /IT_rg-image-templates_it-cancel_/i.test(x.id))).toEqual([]);
  });

  it('a run longer than buildTimeoutInMinutes fails with the timeout message', async () => {
    const r = ref('it-timeout');
    const aib = h.ports.imageBuilder('eng');
    await provisionTemplate(h, 'eng', spec(r.name, '0.2.0', { buildTimeoutInMinutes: 30 })); // the build takes 60 min
    await aib.startRun(r);
    h.clock.advanceBy(29 * 60_000);
    expect((await aib.getTemplate(r))?.lastRun?.runState).toBe('Running');
    h.clock.advanceBy(2 * 60_000);
    const failed = await aib.getTemplate(r);
    expect(failed?.lastRun).toMatchObject({ runState: 'Failed' });
    // The troubleshooting guide's "Timeout exceeded" text (learn.microsoft.com/azure/virtual-machines/linux/image-builder-troubleshoot).
    expect(failed?.lastRun?.message).toContain(
      "Failed in building/customizing image: Failed while waiting for packerizer: Timeout waiting for microservice to complete: 'context deadline exceeded'",
    );
    await aib.deleteTemplate(r);
  });

  it('VNET build on a good subnet: created with vnetConfig, runs to Succeeded', async () => {
    const r = ref('it-vnet-good');
    const aib = h.ports.imageBuilder('eng');
    await provisionTemplate(h, 'eng', spec(r.name, '0.3.0', { subnetId: h.world.buildNetwork.goodSubnetId }));
    expect(templatePuts(r.name)[0]?.body).toMatchObject({
      properties: { vmProfile: { vnetConfig: { subnetId: h.world.buildNetwork.goodSubnetId } } },
    });
    await aib.startRun(r);
    await runToEnd(r);
    expect((await aib.getTemplate(r))?.lastRun?.runState).toBe('Succeeded');
    await aib.deleteTemplate(r);
  });

  const badSubnets: [string, () => string, RegExp, RegExp][] = [
    [
      'private-link-service policies Enabled',
      () => h.world.buildNetwork.policiesEnabledSubnetId,
      /privateLinkServiceNetworkPolicies is Enabled/,
      /az network vnet subnet update --ids \S+snet-policies-enabled --private-link-service-network-policies Disabled/,
    ],
    [
      'a VNET in another region',
      () => h.world.buildNetwork.otherRegionSubnetId,
      /is in northeurope, the image template in westeurope/,
      /Use a subnet of a VNET in westeurope, or build in northeurope/,
    ],
    [
      'an NSG that denies AzureLoadBalancer → 60001',
      () => h.world.buildNetwork.noLoadBalancerRuleSubnetId,
      /denies AzureLoadBalancer → port 60001 \(rule deny-0, priority 4000\)/,
      /az network nsg rule create --resource-group rg-network-team --nsg-name vnet-shared-snet-no-lb-rule-nsg .*--priority 3990 .*--source-address-prefixes AzureLoadBalancer .*--destination-port-ranges 60001/,
    ],
  ];
  for (const [label, subnet, message, hint] of badSubnets) {
    it(`VNET build on ${label}: actionable BadRequest before anything is created`, async () => {
      const name = `it-vnet-${label.length}`;
      const error = await expectFactoryError(() =>
        h.ports.imageBuilder('eng').createTemplate(spec(name, '0.4.0', { subnetId: subnet() })),
      );
      expect(error.code).toBe('BadRequest');
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(message);
      expect(error.hint).toMatch(hint);
      assertNoSecrets(error, h.world);
      expect(templatePuts(name)).toEqual([]); // bad input changes nothing
      await expect(h.ports.imageBuilder('eng').getTemplate(ref(name))).resolves.toBeUndefined();
    });
  }

  it('the AzureLoadBalancer check follows NSG priority: a Windows build needs 60000, allowed on the good subnet', async () => {
    const w = h.world.platformImages.windows;
    const r = ref('it-vnet-win');
    await h.ports.imageBuilder('eng').createTemplate(
      spec(r.name, '0.5.0', {
        subnetId: h.world.buildNetwork.goodSubnetId,
        source: {
          type: 'PlatformImage',
          publisher: w.publisher,
          offer: w.offer,
          sku: w.sku,
          version: 'latest',
        },
        customizers: [{ type: 'PowerShell', name: 'harden', inline: ['Write-Output hi'] }],
      }),
    );
    expect(templatePuts(r.name)).toHaveLength(1);
    await h.ports.imageBuilder('eng').deleteTemplate(r);
  });

  it('customization.log of a successful run is found by listing packerlogs (no URL in the run message)', async () => {
    const r = ref('it-log-listing');
    const aib = h.ports.imageBuilder('eng');
    await provisionTemplate(h, 'eng', spec(r.name, '0.6.0'));
    await aib.startRun(r);
    await runToEnd(r);
    const status = await aib.getTemplate(r);
    expect(status?.lastRun?.runState).toBe('Succeeded');
    expect(status?.lastRun?.message ?? '').not.toContain('customization.log');
    const lists = h.sim.callCounts()['GET blob/list'] ?? 0;
    const log = await aib.readCustomizationLog(r, 5);
    expect(log).toContain('PACKER OUT azure-arm: Build started');
    expect(h.sim.callCounts()['GET blob/list']).toBe(lists + 1);
    await aib.deleteTemplate(r);
    h.clock.advanceBy(77_000);
    await expect(aib.readCustomizationLog(r, 5)).resolves.toBeUndefined();
  });

  const engVersion = (image: string, version: string) => ({
    subscriptionId: h.world.eng.subscriptionId,
    resourceGroup: h.world.eng.galleryResourceGroup,
    gallery: h.world.eng.galleryName,
    image,
    version,
  });

  it('version from a VHD; PATCH flips excludeFromLatest, sets endOfLifeDate and merges tags', async () => {
    const eng = h.world.eng;
    const account = 'stvhdimports';
    const uri = h.sim.addStorageBlob({
      subscriptionId: eng.subscriptionId,
      resourceGroup: h.world.templateResourceGroup,
      account,
      container: 'vhds',
      blob: 'win2022.vhd',
    });
    const v = engVersion(WIN_IMAGE, '1.0.0');
    const galleries = h.ports.galleries('eng');
    await galleries.beginCreateVersion({
      ...v,
      location: eng.location,
      source: {
        kind: 'vhd',
        uri,
        storageAccountId: `/subscriptions/${eng.subscriptionId}/resourceGroups/${h.world.templateResourceGroup}/providers/Microsoft.Storage/storageAccounts/${account}`,
      },
      targetRegions: [{ name: eng.location, replicaCount: 1, storageAccountType: 'Standard_LRS' }],
      excludeFromLatest: true,
      tags: { build: 'w1', stage: 'eng' },
    });
    const put = h.sim
      .requests()
      .find(
        (q) =>
          q.operation === 'PUT Microsoft.Compute/galleries/images/versions' && q.path.includes(WIN_IMAGE),
      );
    expect(put?.body).toMatchObject({ properties: { storageProfile: { osDiskImage: { source: { uri } } } } });
    h.clock.advanceBy(60 * 60_000);
    await expect(galleries.getVersion(v)).resolves.toMatchObject({
      provisioningState: 'Succeeded',
      excludeFromLatest: true,
    });
    await galleries.updateVersion(v, {
      excludeFromLatest: false,
      endOfLifeDate: '2027-06-30T00:00:00.000Z',
      tags: { stage: 'approved', approver: 'cab' },
    });
    const patches = h.sim
      .requests()
      .filter((q) => q.operation === 'PATCH Microsoft.Compute/galleries/images/versions');
    expect(patches).toHaveLength(1);
    const after = await galleries.getVersion(v);
    expect(after).toMatchObject({ excludeFromLatest: false });
    expect(after?.endOfLifeDate).toMatch(/^2027-06-30T00:00:00/);
    // ARM PATCH replaces tags: the adapter must send the merged set
    expect(after?.tags).toEqual({ build: 'w1', stage: 'approved', approver: 'cab' });
  });

  it('Windows test VM: PowerShell exit codes come from the marker (not from stderr); VM, NIC and disk found by tag', async () => {
    const vm = {
      subscriptionId: h.world.eng.subscriptionId,
      resourceGroup: h.world.testVm.resourceGroup,
      name: 'vm-win-w1',
    };
    const seen: string[] = [];
    h.sim.scriptRunCommand(({ shell, script }) => {
      seen.push(`${shell}:${script}`);
      if (script.includes('Get-Service missing'))
        return { exitCode: 4, stdout: 'checking', stderr: 'service not found' };
      return { exitCode: 0, stdout: 'Running', stderr: 'WARNING: deprecated switch' };
    });
    const tags = { 'image-factory-run': 'w1' };
    const vmSpec = {
      ...vm,
      location: 'westeurope',
      imageVersionId: `${h.world.eng.galleryId}/images/${WIN_IMAGE}/versions/1.0.0`,
      subnetId: h.world.testVm.subnetId,
      vmSize: 'Standard_D2s_v5',
      osType: 'Windows' as const,
      tags,
    };
    const vms = h.ports.testVms('eng');
    await vms.createVm(vmSpec);
    const put = h.sim
      .requests()
      .find((q) => q.operation === 'PUT Microsoft.Compute/virtualMachines' && q.path.endsWith('/vm-win-w1'));
    expect(JSON.stringify(put?.body)).toContain('"adminPassword":"***"'); // sent, and redacted in the simulator's log;
    expect(JSON.stringify(put?.body)).not.toContain('linuxConfiguration');
    h.clock.advanceBy(5 * 60_000);
    await vms.createVm(vmSpec); // once Succeeded, as the orchestration does: tags the OS disk
    await expect(
      runCommandToEnd(h, 'eng', vm, {
        shell: 'PowerShell',
        script: '(Get-Service W32Time).Status',
        timeoutSeconds: 60,
      }),
    ).resolves.toEqual({ exitCode: 0, stdout: 'Running', stderr: 'WARNING: deprecated switch' });
    await expect(
      runCommandToEnd(h, 'eng', vm, {
        shell: 'PowerShell',
        script: 'Get-Service missing\nexit 4',
        timeoutSeconds: 60,
      }),
    ).resolves.toEqual({ exitCode: 4, stdout: 'checking', stderr: 'service not found' });
    // the simulated VM saw the user's script; the wire carried the wrapper (script base64-encoded)
    expect(seen).toEqual([
      'PowerShell:(Get-Service W32Time).Status',
      'PowerShell:Get-Service missing\nexit 4',
    ]);
    const runBodies = h.sim
      .requests()
      .filter((q) => q.operation === 'PUT Microsoft.Compute/virtualMachines/runCommands')
      .map((q) => JSON.stringify(q.body));
    expect(runBodies).toHaveLength(2);
    // a retried start of a script already started PUTs nothing (a PUT would run it again)
    await vms.startRunCommand(vm, {
      name: 'test-script-1',
      shell: 'PowerShell',
      script: 'whatever',
      timeoutSeconds: 60,
    });
    expect(
      h.sim.requests().filter((q) => q.operation === 'PUT Microsoft.Compute/virtualMachines/runCommands'),
    ).toHaveLength(2);
    expect(
      runBodies.every((b) => b.includes('"asyncExecution":true') && b.includes('exit-code marker wrapper')),
    ).toBe(true);
    expect(runBodies.some((b) => b.includes('Get-Service missing'))).toBe(false);

    const tagged = await vms.listTaggedResources(vm, 'image-factory-run', 'w1');
    expect(tagged.map((id) => id.split('/').slice(-2).join('/').toLowerCase()).sort()).toEqual([
      'disks/vm-win-w1-osdisk',
      'networkinterfaces/vm-win-w1-nic',
      'virtualmachines/vm-win-w1',
    ]);
    await deleteVmToEnd(h, 'eng', vm);
    await expect(vms.listTaggedResources(vm, 'image-factory-run', 'w1')).resolves.toEqual([]);
  });

  it('VM create returns once accepted: a retry meanwhile PUTs nothing; once Succeeded the next call tags the disk', async () => {
    const vm = {
      subscriptionId: h.world.eng.subscriptionId,
      resourceGroup: h.world.testVm.resourceGroup,
      name: 'vm-win-r1',
    };
    const vmSpec = {
      ...vm,
      location: 'westeurope',
      imageVersionId: `${h.world.eng.galleryId}/images/${WIN_IMAGE}/versions/1.0.0`,
      subnetId: h.world.testVm.subnetId,
      vmSize: 'Standard_D2s_v5',
      osType: 'Windows' as const,
      tags: { 'image-factory-run': 'r1' },
    };
    const vms = h.ports.testVms('eng');
    const polls = () => h.sim.callCounts()['GET Microsoft.Compute/locations/operations'] ?? 0;
    const pollsBefore = polls();
    await vms.createVm(vmSpec); // accepted: the VM takes ~2 min, nobody awaits it
    expect((await vms.getVm(vm))?.provisioningState).toBe('Creating');
    expect(polls()).toBe(pollsBefore);
    await vms.createVm(vmSpec); // the activity's retry while it is created
    const vmPuts = h.sim
      .requests()
      .filter(
        (q) => q.operation === 'PUT Microsoft.Compute/virtualMachines' && q.path.endsWith('/vm-win-r1'),
      );
    expect(vmPuts).toHaveLength(1);
    expect(await vms.listTaggedResources(vm, 'image-factory-run', 'r1')).toHaveLength(2); // VM + NIC, disk untagged
    h.clock.advanceBy(2 * 60_000);
    expect((await vms.getVm(vm))?.provisioningState).toBe('Succeeded');
    await vms.createVm(vmSpec); // called again once Succeeded: tags the disk
    expect(await vms.listTaggedResources(vm, 'image-factory-run', 'r1')).toHaveLength(3);
    await deleteVmToEnd(h, 'eng', vm);
    await expect(vms.listTaggedResources(vm, 'image-factory-run', 'r1')).resolves.toEqual([]);
  });

  it('slow answers are not errors: one PUT, the call succeeds', async () => {
    const eng = h.world.eng;
    const puts = () =>
      h.sim.requests().filter((q) => q.operation === 'PUT Microsoft.Compute/galleries/images').length;
    const before = puts();
    h.sim.setFaults({
      rate: 1,
      kinds: ['slow'],
      slowMs: 40,
      operations: ['PUT Microsoft.Compute/galleries/images'],
    });
    const started = Date.now();
    try {
      await h.ports.galleries('eng').ensureImageDefinition({
        subscriptionId: eng.subscriptionId,
        resourceGroup: eng.galleryResourceGroup,
        gallery: eng.galleryName,
        image: 'slow-def',
        location: eng.location,
        osType: 'Linux',
        osState: 'Generalized',
        hyperVGeneration: 'V2',
        identifier: { publisher: 'Contoso', offer: 'gaps', sku: 'slow' },
      });
    } finally {
      h.sim.setFaults(undefined);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(35); // the slow fault really applied
    expect(puts()).toBe(before + 1);
  });
});
