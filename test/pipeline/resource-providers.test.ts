/**
 * Issue 12, defect 4: a subscription that has not registered a resource provider the build needs
 * fails the build in preflight, with the exact `az provider register` command, before anything is
 * created (on Azure, Image Builder's template PUT would answer 409 MissingSubscriptionRegistration).
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { useFactory, type Factory } from './harness';

/** ARM writes (anything but GET and token requests) since `before`. */
const writesSince = (factory: Factory, before: Record<string, number>) =>
  Object.entries(factory.sim.callCounts()).filter(
    ([op, n]) => !op.startsWith('GET') && !op.startsWith('POST oauth') && n !== (before[op] ?? 0),
  );

describe('resource providers in preflight', () => {
  const factory = useFactory();
  let ubuntu: PipelineDefinition;
  beforeAll(() => {
    ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
  });

  it('ENG without Microsoft.VirtualMachineImages fails in preflight with the register command', async () => {
    const eng = factory.world.eng.subscriptionId;
    factory.sim.unregisterProvider(eng, 'Microsoft.VirtualMachineImages');
    try {
      const before = factory.sim.callCounts();
      const final = await factory.host.waitFor(await factory.start(ubuntu, 'no-aib-provider'));
      const status = final.customStatus as BuildCustomStatus;
      expect(status.failure?.code).toBe('PreflightFailed');
      const message = status.failure?.message ?? '';
      expect(message).toMatch(/^1 problem\(s\)/);
      expect(message).toContain(
        `resource provider Microsoft.VirtualMachineImages is not registered in subscription ${eng} (ENG, state Unregistered)`,
      );
      expect(message).toContain(
        `az provider register --namespace Microsoft.VirtualMachineImages --subscription ${eng}`,
      );
      expect(writesSince(factory, before)).toEqual([]);
    } finally {
      factory.sim.registerProvider(eng, 'Microsoft.VirtualMachineImages');
    }
  });

  it('a TEST subscription without Microsoft.Compute (galleries) is reported for that subscription', async () => {
    const test = factory.world.test.subscriptionId;
    factory.sim.unregisterProvider(test, 'Microsoft.Compute');
    try {
      const final = await factory.host.waitFor(await factory.start(ubuntu, 'no-compute-in-test'));
      const message = (final.customStatus as BuildCustomStatus).failure?.message ?? '';
      expect(message).toContain(
        `resource provider Microsoft.Compute is not registered in subscription ${test}`,
      );
      expect(message).toContain(`az provider register --namespace Microsoft.Compute --subscription ${test}`);
      expect(message).not.toContain('Microsoft.VirtualMachineImages');
    } finally {
      factory.sim.registerProvider(test, 'Microsoft.Compute');
    }
  });
});
