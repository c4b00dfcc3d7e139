/**
 * A wait that starts its operation (a test script's Run Command, from 0.5.0) where the start returns
 * only after the wait's deadline. How it happens: the host dies while the start is in flight, before
 * its PUT reached Azure; the start runs again after the restart (its answer was lost), and when the
 * host was down longer than the wait, that start, and with it the script, begins after the deadline.
 * The crash suite met it on a loaded machine: the wait read once at once, found the script Running
 * and failed the build "not done by … (last seen: Running)". Here the virtual clock jumps an hour
 * while the first script's PUT is in flight, which makes that start late in the same way. The
 * operation now gets its time from the start.
 */
import { CURRENT_VERSION, divergences, releaseBench, waitingFor } from './release-harness';

const APP = 'src/functions/index.ts';
/** Longer than a test script's wait (LRO_WAITS.runCommand: 15 minutes). */
const START_LATE_BY_MS = 60 * 60_000;

describe('a test script whose start returns after its deadline', () => {
  let delayFirstScriptStart = false;
  const bench = releaseBench('late-start', {
    onRequest: (request) => {
      if (!delayFirstScriptStart || request.method !== 'PUT' || !/\/runCommands\//i.test(request.path))
        return;
      delayFirstScriptStart = false;
      bench.factory.clock.advanceBy(START_LATE_BY_MS);
    },
  });

  it('gets its time from the start, and the build goes on', async () => {
    const release = await bench.open({ appEntry: APP, version: CURRENT_VERSION, reason: 'late start test' });
    try {
      await release.start('b-late-start');
      delayFirstScriptStart = true;
      await release.until(['b-late-start'], waitingFor('TEST'));
      expect(delayFirstScriptStart).toBe(false);
      const status = await release.host.getStatus('b-late-start');
      expect(status?.runtimeStatus).toBe('Running');
      expect(status?.customStatus).toMatchObject({ outcome: 'running', pendingApproval: { stage: 'TEST' } });
      expect(divergences(release)).toEqual([]);
    } finally {
      await release.host.stop();
    }
  });
});
