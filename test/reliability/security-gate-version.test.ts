/**
 * The security gate ships behind sinceVersion('0.3.0') (issue 18): a build started on 0.2.0 and
 * waiting for its TEST approval when the host restarts on 0.3.0 (same SQLite file) replays its
 * test step without the gate, with no divergence, and finishes; a build started on 0.3.0 runs the
 * gate. Same app both times (the gate's branch is the only difference between the versions); the
 * pipeline sets test.securityGate, so only the version decides.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { GATE_RUN_COMMAND_NAME } from '../../src/domain/pipeline/security-gate';
import { releaseBench, waitingFor, divergences } from './release-harness';

const APP = 'src/functions/index.ts';

describe('security gate: builds started before 0.3.0 keep their steps', () => {
  const bench = releaseBench('security-gate-version');

  const open = (version: string) =>
    bench.open({ appEntry: APP, version, reason: 'security gate version test' });

  const gateRuns = () =>
    bench.factory.sim
      .requests()
      .filter((r) => r.method === 'PUT' && r.path.endsWith(`/runCommands/${GATE_RUN_COMMAND_NAME}`)).length;

  it('replays a 0.2.0 build at its TEST approval without the gate; a 0.3.0 build runs it', async () => {
    const gated = bench.serveGatedSample();

    const before = await open('0.2.0');
    await before.start('gate-old', gated);
    await before.until(['gate-old'], waitingFor('TEST'));
    expect((await before.custom('gate-old'))?.securityGate).toBeUndefined();
    expect(gateRuns()).toBe(0);
    await before.host.stop();

    const now = await open('0.3.0');
    try {
      await now.start('gate-new', gated);
      await now.until(['gate-new'], waitingFor('TEST'));
      expect((await now.custom('gate-new'))?.securityGate).toMatchObject({ passed: true });
      expect(gateRuns()).toBe(1);
      // The old build's history replays on 0.3.0 code: no gate, no divergence, to the end.
      await now.decide('gate-old', 'TEST', 'rejected');
      await now.decide('gate-new', 'TEST', 'rejected');
      const old = await now.host.waitFor('gate-old');
      expect(divergences(now)).toEqual([]);
      expect((old.customStatus as BuildCustomStatus).failure).toMatchObject({ code: 'ApprovalRejected' });
      expect((old.customStatus as BuildCustomStatus).securityGate).toBeUndefined();
      expect(gateRuns()).toBe(1);
      await now.host.waitFor('gate-new');
    } finally {
      await now.host.stop();
    }
  });
});
