/**
 * The generic wait (awaitAzureOperation) past its deadline: when the app was down or redeployed for
 * longer than the deadline, the operation may have finished meanwhile. It reads once more before
 * calling it timed out (the crash suite's restarts found builds failed as "not done by … (last seen:
 * not read yet)"). And when its own start returned only after the deadline (the start ran again
 * after a restart), the operation gets its time (`withinMs`) from that start, even if the wait itself
 * began after the deadline (test/reliability/late-start.test.ts has the whole build).
 */
import { Activities } from '../../src/domain/pipeline/activities';
import { AWAIT_OPERATION_ORCHESTRATION, type AwaitOperationInput } from '../../src/orchestrations/await-done';
import { startFactory, type Factory } from './harness';

describe('awaitAzureOperation past its deadline', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => factory.stop());

  const input = (name: string): AwaitOperationInput => ({
    what: `delete image template ${name}`,
    activity: Activities.getImageBuildStatus,
    activityInput: {
      credential: 'eng',
      ref: {
        subscriptionId: factory.world.eng.subscriptionId,
        resourceGroup: factory.world.templateResourceGroup,
        name,
      },
    },
    judge: 'templateGone',
    // The deadline passed while nobody was reading (e.g. the host was down).
    timing: { pollMs: 15_000, deadlineMs: factory.clock.now() - 60_000 },
    failedCode: 'OperationFailed',
    timedOutCode: 'OperationTimedOut',
    reads: 0,
  });

  it('is done when the operation finished meanwhile', async () => {
    const id = await factory.host.startNew(AWAIT_OPERATION_ORCHESTRATION, {
      input: input('it-gone-meanwhile'),
    });
    const final = await factory.host.waitFor(id);
    expect(final.output).toEqual({ done: null });
  });

  describe('with a start that returns after the deadline', () => {
    /** createTestVm's input as a build sent it (a VM from the build's ENG version), for another VM. */
    let vmInput: (name: string) => { credential: string; spec: Record<string, unknown> & { name: string } };
    beforeAll(async () => {
      const id = await factory.start(factory.pipelines.get('ubuntu-2204-base')!, 'b-overdue-vm');
      await factory.untilApprovalPending(id, 'TEST');
      const history = (await factory.host.getStatus(id, { showHistory: true }))?.history as {
        EventType: string;
        Name?: string;
        Input?: string;
      }[];
      const scheduled = history.find(
        (e) => e.EventType === 'TaskScheduled' && e.Name === Activities.createTestVm,
      );
      const sent = JSON.parse(scheduled!.Input!) as { credential: string; spec: { name: string } };
      vmInput = (name) => ({ ...sent, spec: { ...sent.spec, name } });
    });

    const lateStart = (name: string, withinMs?: number): AwaitOperationInput => {
      const start = vmInput(name);
      return {
        what: `test VM ${name}`,
        activity: Activities.getTestVm,
        activityInput: {
          credential: start.credential,
          ref: {
            subscriptionId: start.spec.subscriptionId,
            resourceGroup: start.spec.resourceGroup,
            name,
          },
        },
        judge: 'vmReady',
        // The wait begins after its deadline (the build asked for it before the host went down).
        timing: {
          firstPollMs: 2 * 60_000,
          pollMs: 15_000,
          deadlineMs: factory.clock.now() - 60_000,
          ...(withinMs === undefined ? {} : { withinMs }),
        },
        failedCode: 'TestVmNotReady',
        timedOutCode: 'TestVmNotReady',
        reads: 0,
        start: { activity: Activities.createTestVm, input: start },
      };
    };

    it('gives the operation withinMs from the start: the VM (about 2 minutes) is ready', async () => {
      const id = await factory.host.startNew(AWAIT_OPERATION_ORCHESTRATION, {
        input: lateStart('vmlatewithin', 30 * 60_000),
      });
      const final = await factory.host.waitFor(id);
      expect(final.output).toEqual({ done: expect.objectContaining({ provisioningState: 'Succeeded' }) });
    });

    it('without withinMs (a wait asked for before it existed) it has no time left: one read, timed out', async () => {
      const id = await factory.host.startNew(AWAIT_OPERATION_ORCHESTRATION, {
        input: lateStart('vmlateolder'),
      });
      const final = await factory.host.waitFor(id);
      expect(final.output).toEqual({
        failed: expect.objectContaining({
          code: 'TestVmNotReady',
          message: expect.stringMatching(/not done by/),
        }),
      });
    });
  });
});
