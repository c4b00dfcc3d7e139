/**
 * A test VM whose create fails (accepted, then AllocationFailed) leaves its NIC reserved for it for
 * 180 s: deleting the NIC meanwhile answers 400 NicReservedForAnotherVm "… retry after 180 seconds"
 * (taskcluster/taskcluster#7196, cloudfoundry/bosh-azure-cpi-release#366). The build waits that
 * long on a durable timer and deletes it then; it fails for the VM create, with nothing left behind.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { shortHash } from '../../src/domain/pipeline/versioning';
import { startFactory, type Factory } from './harness';
import { leftovers } from './side-effects';

describe('a NIC held by a failed VM create', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('is deleted after the 180 s Azure names, on a durable timer, instead of failing the cleanup', async () => {
    const buildId = 'nic-reserved';
    factory.sim.failVmCreate({
      vmName: `vmt${shortHash(buildId)}eng`.slice(0, 15),
      code: 'AllocationFailed',
      // Azure's text as reported in Azure/WALinuxAgent#3056 and vmware-tanzu/community-edition#3963.
      message:
        'Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance',
    });
    const id = await factory.start(factory.pipelines.get('ubuntu-2204-base')!, buildId);
    const messages: string[] = [];
    await factory.host.drive({
      until: async () => {
        const instance = await factory.host.getStatus(id);
        const message = (instance?.customStatus as BuildCustomStatus | null)?.message;
        if (message !== undefined && messages.at(-1) !== message) messages.push(message);
        return instance?.runtimeStatus !== 'Running' && instance?.runtimeStatus !== 'Pending';
      },
    });
    const status = await factory.status(id);
    expect(status.outcome).toBe('failed');
    // The build fails for what went wrong (the VM create), and its cleanup finished.
    expect(status.failure?.message).toContain('Allocation failed');
    expect(status.failure?.message).not.toContain('cleanup left work to do');
    // The NIC's delete was refused while reserved, then sent again (after the wait) and accepted.
    const nicDeletes = factory.sim
      .requests()
      .filter((r) => r.method === 'DELETE' && /networkInterfaces\//.test(r.path));
    const firstRefused = nicDeletes.findIndex((r) => r.status === 400);
    expect(firstRefused).toBeGreaterThanOrEqual(0);
    expect(nicDeletes.slice(firstRefused + 1).some((r) => r.status >= 200 && r.status < 300)).toBe(true);
    expect(leftovers(factory.sim)).toEqual([]);
  }, 60_000);
});
