/**
 * A release while builds wait for approvals (issue 15). Builds start on factory version 1.0.0 and
 * wait for their TEST approval; the host stops and starts on the same SQLite file with the next
 * release (1.1.0: a step added, one moved, behind a version branch); the approvals arrive. Every old
 * build finishes on 1.0.0's steps with no non-determinism and nothing done twice in Azure; new
 * builds take 1.1.0's steps. The previous release started again afterwards (a rollback, a stale
 * worker) picks up nothing of 1.1.0 (CurrentOrOlder + Reject, the repo's host.json), and the newer
 * one finishes it later. The app is the factory with a test-only variant of the build
 * orchestration (test/fixtures/factory-release); Azure is the simulator, on the virtual clock.
 */
import { BUILD_ORCHESTRATION } from '../../src/domain/build-status';
import { sideEffectsOf } from '../pipeline/side-effects';
import { releaseBench, waitingFor } from './release-harness';

const APP = 'test/fixtures/factory-release/index.ts';
const shared = globalThis as unknown as { factoryReleaseSteps?: string[] };
const steps = (shared.factoryReleaseSteps ??= []);
const stepsOf = (build: string) => steps.filter((s) => s.startsWith(`${build}:`)).map((s) => s.split(':')[1]);

describe('a release while builds wait for approvals', () => {
  const bench = releaseBench('release-versions');

  /** The factory's host on the shared database: app release `shape`, host.json defaultVersion `version`. */
  function release(shape: 'v1' | 'v2', version: string) {
    return bench.open({ appEntry: APP, version, env: { RELEASE_SHAPE: shape }, reason: 'release test' });
  }

  it('old builds finish on their own steps, new builds take the new ones, an older app picks nothing up', async () => {
    const first = await release('v1', '1.0.0');
    const old = ['old-1', 'old-2'];
    for (const id of old) await first.start(id);
    await first.until(old, waitingFor('TEST'));
    for (const id of old) expect((await first.custom(id))?.factoryVersion).toBe('1.0.0');
    await first.host.stop();

    const next = await release('v2', '1.1.0');
    await next.start('new-1');
    await next.until(['new-1'], waitingFor('TEST'));
    expect((await next.custom('new-1'))?.factoryVersion).toBe('1.1.0');
    for (const id of [...old, 'new-1']) await next.decide(id, 'TEST', 'approved');
    await next.until([...old, 'new-1'], waitingFor('PROD'));
    for (const id of [...old, 'new-1']) await next.decide(id, 'PROD', 'approved');
    for (const id of [...old, 'new-1']) {
      const status = await next.host.waitFor(id);
      expect({
        id,
        runtimeStatus: status.runtimeStatus,
        outcome: (status.output as { outcome?: string }).outcome,
      }).toEqual({ id, runtimeStatus: 'Completed', outcome: 'succeeded' });
      // One template run, one test VM, one copy per promoted gallery (TEST, PROD): nothing twice.
      expect(sideEffectsOf(bench.factory.sim, id)).toEqual({ runs: 1, testVms: 1, copies: 2 });
    }
    for (const id of old) expect(stepsOf(id)).toEqual(['intake', 'audit', 'close']);
    expect(stepsOf('new-1')).toEqual(['audit', 'intake', 'notify', 'close']);
    expect(next.log.some((line) => line.includes('Non-deterministic'))).toBe(false);

    // A 1.1.0 build waits for TEST when the previous release comes back on the same task hub.
    await next.start('new-2');
    await next.until(['new-2'], waitingFor('TEST'));
    await next.host.stop();
    const stale = await release('v1', '1.0.0');
    await stale.decide('new-2', 'TEST', 'approved');
    await stale.host.drive({ maxVirtualMs: 60 * 60_000 });
    expect((await stale.host.getStatus('new-2'))?.runtimeStatus).toBe('Running');
    expect((await stale.custom('new-2'))?.pendingApproval?.stage).toBe('TEST');
    expect(stepsOf('new-2')).toEqual(['audit', 'intake']);
    expect(stale.log).toContain(
      `[host] ${BUILD_ORCHESTRATION} new-2 not picked up: The orchestration version '1.1.0' is greater than the worker version '1.0.0'.`,
    );
    await stale.host.stop();

    const again = await release('v2', '1.1.0');
    try {
      await again.until(['new-2'], waitingFor('PROD'));
      await again.decide('new-2', 'PROD', 'approved');
      expect((await again.host.waitFor('new-2')).runtimeStatus).toBe('Completed');
      expect(stepsOf('new-2')).toEqual(['audit', 'intake', 'notify', 'close']);
      expect(sideEffectsOf(bench.factory.sim, 'new-2')).toEqual({ runs: 1, testVms: 1, copies: 2 });
    } finally {
      await again.host.stop();
    }
  });
});
