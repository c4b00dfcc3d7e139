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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';
import { startFactory, type Factory } from '../pipeline/harness';
import { sideEffectsOf } from '../pipeline/side-effects';

const APP = 'test/fixtures/factory-release/index.ts';
const shared = globalThis as unknown as { factoryReleaseSteps?: string[] };
const steps = (shared.factoryReleaseSteps ??= []);
const stepsOf = (build: string) => steps.filter((s) => s.startsWith(`${build}:`)).map((s) => s.split(':')[1]);

describe('a release while builds wait for approvals', () => {
  let factory: Factory;
  const dir = mkdtempSync(join(tmpdir(), 'release-versions-'));
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

  /** The factory's host on the shared database: app release `shape`, host.json defaultVersion `version`. */
  async function release(shape: 'v1' | 'v2', version: string) {
    const log: string[] = [];
    const host = await LocalHost.start({
      appEntry: APP,
      env: { ...factory.env, RELEASE_SHAPE: shape },
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
        const pipeline = factory.pipelines.get('ubuntu-2204-base')!;
        await host.startNew(BUILD_ORCHESTRATION, {
          instanceId: buildId,
          input: { buildId, pipeline, reason: 'release test' },
        });
      },
      /** Drives until every build waits for `stage` (or ended). */
      async untilWaiting(ids: string[], stage: string) {
        await host.drive({
          until: async () => {
            for (const id of ids) {
              const status = await host.getStatus(id);
              if (status?.runtimeStatus !== 'Running' && status?.runtimeStatus !== 'Pending') continue;
              if ((status.customStatus as BuildCustomStatus | null)?.pendingApproval?.stage !== stage)
                return false;
            }
            return true;
          },
        });
      },
      async approve(id: string, stage: string) {
        const pending = (await custom(id))?.pendingApproval;
        if (pending?.stage !== stage) throw new Error(`${id} does not wait for ${stage}`);
        const decision: ApprovalDecision = {
          requestId: pending.requestId,
          buildId: pending.buildId,
          stage,
          imageVersion: pending.imageVersion,
          decision: 'approved',
          approver: 'alice@contoso.com',
          changeTicket: 'CHG0012345',
          decidedAt: new Date(factory.clock.now()).toISOString(),
        };
        await host.raiseEvent(id, approvalEventName(stage), decision);
      },
    };
  }

  it('old builds finish on their own steps, new builds take the new ones, an older app picks nothing up', async () => {
    const first = await release('v1', '1.0.0');
    const old = ['old-1', 'old-2'];
    for (const id of old) await first.start(id);
    await first.untilWaiting(old, 'TEST');
    for (const id of old) expect((await first.custom(id))?.factoryVersion).toBe('1.0.0');
    await first.host.stop();

    const next = await release('v2', '1.1.0');
    await next.start('new-1');
    await next.untilWaiting(['new-1'], 'TEST');
    expect((await next.custom('new-1'))?.factoryVersion).toBe('1.1.0');
    for (const id of [...old, 'new-1']) await next.approve(id, 'TEST');
    await next.untilWaiting([...old, 'new-1'], 'PROD');
    for (const id of [...old, 'new-1']) await next.approve(id, 'PROD');
    for (const id of [...old, 'new-1']) {
      const status = await next.host.waitFor(id);
      expect({
        id,
        runtimeStatus: status.runtimeStatus,
        outcome: (status.output as { outcome?: string }).outcome,
      }).toEqual({ id, runtimeStatus: 'Completed', outcome: 'succeeded' });
      // One template run, one test VM, one copy per promoted gallery (TEST, PROD): nothing twice.
      expect(sideEffectsOf(factory.sim, id)).toEqual({ runs: 1, testVms: 1, copies: 2 });
    }
    for (const id of old) expect(stepsOf(id)).toEqual(['intake', 'audit', 'close']);
    expect(stepsOf('new-1')).toEqual(['audit', 'intake', 'notify', 'close']);
    expect(next.log.some((line) => line.includes('Non-deterministic'))).toBe(false);

    // A 1.1.0 build waits for TEST when the previous release comes back on the same task hub.
    await next.start('new-2');
    await next.untilWaiting(['new-2'], 'TEST');
    await next.host.stop();
    const stale = await release('v1', '1.0.0');
    await stale.approve('new-2', 'TEST');
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
      await again.untilWaiting(['new-2'], 'PROD');
      await again.approve('new-2', 'PROD');
      expect((await again.host.waitFor('new-2')).runtimeStatus).toBe('Completed');
      expect(stepsOf('new-2')).toEqual(['audit', 'intake', 'notify', 'close']);
      expect(sideEffectsOf(factory.sim, 'new-2')).toEqual({ runs: 1, testVms: 1, copies: 2 });
    } finally {
      await again.host.stop();
    }
  });
});
