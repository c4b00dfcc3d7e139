/**
 * The generic wait (awaitAzureOperation) past its deadline: when the app was down or redeployed for
 * longer than the deadline, the operation may have finished meanwhile. It reads once more before
 * calling it timed out (the crash suite's restarts found builds failed as "not done by … (last seen:
 * not read yet)").
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
});
