/**
 * A wait that starts its operation (a test script's Run Command, from 0.5.0) where the start returns
 * late. How it happens: the host dies while the start is in flight, before its PUT reached Azure;
 * the start runs again after the restart (its answer was lost), so the start, and with it the
 * script, begins as much later as the host was down.
 * - After the wait's deadline: the crash suite met it on a loaded machine. The wait read once at
 *   once, found the script Running and failed the build "not done by … (last seen: Running)". Since
 *   0.7.0 the operation then gets its time from the start.
 * - Before the deadline: the operation had only what was left of its time, and a script that needed
 *   more failed the build. From 0.8.0 (OPERATION_TIME_FROM_ITS_START_SINCE) the operation has its
 *   whole time from the start's return; a build started on 0.7.0 keeps the older timing.
 * Here the virtual clock jumps while the first script's PUT is in flight, which makes that start
 * late in the same way.
 */
import { OPERATION_TIME_FROM_ITS_START_SINCE } from '../../src/orchestrations/build/release-gates';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { LRO_WAITS } from '../../src/orchestrations/build-pipeline';
import { CURRENT_VERSION, divergences, releaseBench, waitingFor } from './release-harness';

const APP = 'src/functions/index.ts';
/** Longer than a test script's wait. */
const AFTER_THE_DEADLINE_MS = 60 * 60_000;
/** Within the wait's time, leaving less than a script needs. */
const BEFORE_THE_DEADLINE_MS = 25 * 60_000;
/** How long each test script runs: more than the late start leaves, less than the wait's time. */
const SCRIPT_MS = 10 * 60_000;

describe('a test script whose start returns late', () => {
  let delayFirstScriptStartBy: number | undefined;
  const bench = releaseBench('late-start', {
    onRequest: (request) => {
      if (delayFirstScriptStartBy === undefined) return;
      if (request.method !== 'PUT' || !/\/runCommands\//i.test(request.path)) return;
      bench.factory.clock.advanceBy(delayFirstScriptStartBy);
      delayFirstScriptStartBy = undefined;
    },
  });

  beforeAll(() => {
    bench.factory.sim.scriptRunCommand(() => ({
      exitCode: 0,
      stdout: 'ok',
      stderr: '',
      durationMs: SCRIPT_MS,
    }));
  });

  /** A test script's wait: the script's timeout + Azure's Run Command allowance (test-vm.ts). */
  const scriptWaitOfTheSample = () =>
    bench.factory.pipelines.get('ubuntu-2204-base')!.test.timeoutMinutes * 60_000 +
    LRO_WAITS.runCommand.withinMs;

  /** Starts a build on `version` whose first test script starts `lateBy` late; drives until `done`. */
  async function lateBuild(
    version: string,
    id: string,
    lateBy: number,
    done: (status: BuildCustomStatus | null) => boolean,
  ) {
    const release = await bench.open({ appEntry: APP, version, reason: 'late start test' });
    try {
      await release.start(id);
      delayFirstScriptStartBy = lateBy;
      await release.until([id], done);
      expect(delayFirstScriptStartBy).toBeUndefined();
      expect(divergences(release)).toEqual([]);
      return await release.host.getStatus(id);
    } finally {
      await release.host.stop();
    }
  }

  it('after its deadline: gets its time from the start, and the build goes on', async () => {
    expect(AFTER_THE_DEADLINE_MS).toBeGreaterThan(scriptWaitOfTheSample());
    const status = await lateBuild(
      CURRENT_VERSION,
      'b-late-start',
      AFTER_THE_DEADLINE_MS,
      waitingFor('TEST'),
    );
    expect(status?.runtimeStatus).toBe('Running');
    expect(status?.customStatus).toMatchObject({ outcome: 'running', pendingApproval: { stage: 'TEST' } });
  });

  it('before its deadline: from 0.8.0 gets its whole time from the start; a 0.7.0 build keeps the time that was left', async () => {
    expect(OPERATION_TIME_FROM_ITS_START_SINCE).toBe('0.8.0');
    const scriptWaitMs = scriptWaitOfTheSample();
    expect(BEFORE_THE_DEADLINE_MS).toBeLessThan(scriptWaitMs);
    expect(scriptWaitMs - BEFORE_THE_DEADLINE_MS).toBeLessThan(SCRIPT_MS);
    expect(SCRIPT_MS).toBeLessThan(scriptWaitMs);
    const older = await lateBuild('0.7.0', 'b-late-070', BEFORE_THE_DEADLINE_MS, () => false);
    expect(older?.customStatus).toMatchObject({
      factoryVersion: '0.7.0',
      outcome: 'failed',
      failure: { code: 'TestFailed', message: expect.stringMatching(/not done by .*last seen: Running/) },
    });

    const now = await lateBuild(CURRENT_VERSION, 'b-late-080', BEFORE_THE_DEADLINE_MS, waitingFor('TEST'));
    expect(now?.runtimeStatus).toBe('Running');
    expect(now?.customStatus).toMatchObject({
      factoryVersion: CURRENT_VERSION,
      outcome: 'running',
      pendingApproval: { stage: 'TEST' },
    });
  });
});
