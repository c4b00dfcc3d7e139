/**
 * The security gate ships behind sinceVersion('0.3.0') (issue 18): a build started on 0.2.0 and
 * waiting for its TEST approval when the host restarts on 0.3.0 (same SQLite file) replays its
 * test step without the gate, with no divergence, and finishes; a build started on 0.3.0 runs the
 * gate. Same app both times (the gate's branch is the only difference between the versions); the
 * pipeline sets test.securityGate, so only the version decides.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { definitionDigest, type BuildInput } from '../../src/domain/pipeline/admission';
import { GATE_RUN_COMMAND_NAME } from '../../src/domain/pipeline/security-gate';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';
import { startFactory, type Factory } from '../pipeline/harness';

const APP = 'src/functions/index.ts';

describe('security gate: builds started before 0.3.0 keep their steps', () => {
  let factory: Factory;
  const dir = mkdtempSync(join(tmpdir(), 'security-gate-version-'));
  const databasePath = join(dir, 'durable.sqlite');
  const repoHostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };

  beforeAll(async () => {
    factory = await startFactory();
  });
  afterAll(async () => {
    await factory.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => factory.pipelines.get('ubuntu-2204-base')!;
  const gated = () => ({
    ...base(),
    test: { ...base().test, securityGate: { maxCritical: 0, maxImportant: 0, maxTotal: 5 } },
  });

  async function open(version: string) {
    const log: string[] = [];
    const host = await LocalHost.start({
      appEntry: APP,
      env: factory.env,
      clock: factory.clock,
      databasePath,
      log: (line) => log.push(line),
      hostJson: {
        ...repoHostJson,
        extensions: {
          ...repoHostJson.extensions,
          durableTask: { ...repoHostJson.extensions.durableTask, defaultVersion: version },
        },
      },
    });
    const custom = async (id: string) => (await host.getStatus(id))?.customStatus as BuildCustomStatus | null;
    return {
      host,
      log,
      custom,
      async start(buildId: string) {
        await host.startNew(BUILD_ORCHESTRATION, {
          instanceId: buildId,
          input: {
            buildId,
            pipeline: 'ubuntu-2204-base',
            definitionDigest: definitionDigest(gated()),
            reason: 'security gate version test',
          } satisfies BuildInput,
        });
      },
      async untilPending(id: string, stage: string) {
        await host.drive({
          until: async () => {
            const status = await host.getStatus(id);
            if (status?.runtimeStatus !== 'Running' && status?.runtimeStatus !== 'Pending') return true;
            return (await custom(id))?.pendingApproval?.stage === stage;
          },
        });
      },
      async reject(id: string) {
        const pending = (await custom(id))!.pendingApproval!;
        await host.raiseEvent(id, approvalEventName(pending.stage), {
          requestId: pending.requestId,
          buildId: pending.buildId,
          stage: pending.stage,
          imageVersion: pending.imageVersion,
          decision: 'rejected',
          approver: 'alice@contoso.com',
          changeTicket: 'CHG0012345',
          decidedAt: new Date(factory.clock.now()).toISOString(),
        } satisfies ApprovalDecision);
      },
    };
  }

  const gateRuns = () =>
    factory.sim
      .requests()
      .filter((r) => r.method === 'PUT' && r.path.endsWith(`/runCommands/${GATE_RUN_COMMAND_NAME}`)).length;

  it('replays a 0.2.0 build at its TEST approval without the gate; a 0.3.0 build runs it', async () => {
    // The served definition has the gate (the factory's own copy of pipelines/).
    rmSync(join(factory.env.PIPELINES_DIR!, 'ubuntu-2204-base.yaml'), { force: true });
    writeFileSync(join(factory.env.PIPELINES_DIR!, 'ubuntu-2204-base.json'), JSON.stringify(gated()));

    const before = await open('0.2.0');
    await before.start('gate-old');
    await before.untilPending('gate-old', 'TEST');
    expect((await before.custom('gate-old'))?.securityGate).toBeUndefined();
    expect(gateRuns()).toBe(0);
    await before.host.stop();

    const now = await open('0.3.0');
    try {
      await now.start('gate-new');
      await now.untilPending('gate-new', 'TEST');
      expect((await now.custom('gate-new'))?.securityGate).toMatchObject({ passed: true });
      expect(gateRuns()).toBe(1);
      // The old build's history replays on 0.3.0 code: no gate, no divergence, to the end.
      await now.reject('gate-old');
      await now.reject('gate-new');
      const old = await now.host.waitFor('gate-old');
      expect(now.log.filter((l) => /non-?determin/i.test(l))).toEqual([]);
      expect((old.customStatus as BuildCustomStatus).failure).toMatchObject({ code: 'ApprovalRejected' });
      expect((old.customStatus as BuildCustomStatus).securityGate).toBeUndefined();
      expect(gateRuns()).toBe(1);
      await now.host.waitFor('gate-new');
    } finally {
      await now.host.stop();
    }
  });
});
