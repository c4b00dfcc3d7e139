/**
 * The one bench of the release suites (release-versions, restructure-replay, security-gate-version):
 * a factory (simulated Azure, virtual clock) started once per describe block, and hosts of one app
 * release after another on the same SQLite file, each stamping new builds with the host.json
 * defaultVersion it is given, as a release with a new version does in Azure. It owns the factory's
 * lifecycle, the shared database, starting builds by name + digest, driving until builds wait, and
 * the approval decisions; what each suite checks stays in the suite.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import type { SimulatorOptions } from '../../src/local/azure-sim/api';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { definitionDigest, type BuildInput } from '../../src/domain/pipeline/admission';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { approvalEventName } from '../../src/ports/approvals';
import { decisionFor, startFactory, type Factory } from '../pipeline/harness';

/** The repo's host.json, as the Functions host reads it. */
const repoHostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
  extensions: { durableTask: Record<string, unknown> };
};

/** The factory version the repo ships (host.json's durableTask.defaultVersion). */
export const CURRENT_VERSION = String(repoHostJson.extensions.durableTask.defaultVersion);

/** True while the build has not ended. */
const isRunning = (status: { runtimeStatus?: string } | undefined | null) =>
  status?.runtimeStatus === 'Running' || status?.runtimeStatus === 'Pending';

/** A done-test for `until`: the build waits for the approval of `stage`. */
export const waitingFor = (stage: string) => (status: BuildCustomStatus | null) =>
  status?.pendingApproval?.stage === stage;

/** A done-test for `until`: the build is in its Image Builder wait (where the release tests restart). */
export const buildingImage = (status: BuildCustomStatus | null) =>
  status?.step === 'build' && status.message === 'Image Builder is building';

/** What a host logged about a replay that diverged (non-determinism): a release test expects none. */
export const divergences = (host: { log: string[] }) =>
  host.log.filter((line) => /non-?determin/i.test(line));

export interface ReleaseOptions {
  /** The app's entry (a frozen release under test/fixtures, or src/functions/index.ts). */
  appEntry: string;
  /** host.json defaultVersion: the version new builds are stamped with. */
  version: string;
  /** The reason new builds carry. */
  reason: string;
  /** Settings on top of the factory's. */
  env?: Record<string, string>;
}

/**
 * Registers beforeAll/afterAll for the describe block it is called in: the factory (its simulated
 * Azure started with `simulator`), and a temporary folder for the shared SQLite file. `bench.factory`
 * is there from beforeAll on.
 */
export function releaseBench(prefix: string, simulator: SimulatorOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const databasePath = join(dir, 'durable.sqlite');
  let started: Factory | undefined;
  beforeAll(async () => {
    started = await startFactory(simulator);
  });
  afterAll(async () => {
    await started?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const bench = {
    get factory(): Factory {
      if (started === undefined) throw new Error('the factory starts in beforeAll');
      return started;
    },
    /**
     * Serves the sample pipeline with a security gate (in the factory's own copy of pipelines/) and
     * returns that definition: for builds that run the gate or read their build inventory.
     */
    serveGatedSample(): PipelineDefinition {
      const sample = bench.factory.pipelines.get('ubuntu-2204-base')!;
      const gated = {
        ...sample,
        test: { ...sample.test, securityGate: { maxCritical: 0, maxImportant: 0, maxTotal: 5 } },
      };
      const served = bench.factory.env.PIPELINES_DIR!;
      rmSync(join(served, 'ubuntu-2204-base.yaml'), { force: true });
      writeFileSync(join(served, 'ubuntu-2204-base.json'), JSON.stringify(gated));
      return gated;
    },
    /** A host of `appEntry` on the shared database; stop it before the next release opens. */
    async open(options: ReleaseOptions) {
      const factory = bench.factory;
      const log: string[] = [];
      const host = await LocalHost.start({
        appEntry: options.appEntry,
        env: { ...factory.env, ...options.env },
        clock: factory.clock,
        databasePath,
        log: (line) => log.push(line),
        hostJson: {
          ...repoHostJson,
          extensions: {
            ...repoHostJson.extensions,
            durableTask: { ...repoHostJson.extensions.durableTask, defaultVersion: options.version },
          },
        },
      });
      const custom = async (id: string) =>
        (await host.getStatus(id))?.customStatus as BuildCustomStatus | null;
      return {
        host,
        log,
        custom,
        /** Starts a build as the API does: by name + digest (issue 14; an inline definition is refused). */
        async start(
          buildId: string,
          pipeline: PipelineDefinition = factory.pipelines.get('ubuntu-2204-base')!,
        ): Promise<void> {
          await host.startNew(BUILD_ORCHESTRATION, {
            instanceId: buildId,
            input: {
              buildId,
              pipeline: pipeline.name,
              definitionDigest: definitionDigest(pipeline),
              reason: options.reason,
            } satisfies BuildInput,
          });
        },
        /** Drives until `done(status)` holds for every build still running. */
        async until(ids: string[], done: (status: BuildCustomStatus | null) => boolean): Promise<void> {
          await host.drive({
            until: async () => {
              for (const id of ids) {
                const status = await host.getStatus(id);
                if (isRunning(status) && !done(status?.customStatus as BuildCustomStatus | null))
                  return false;
              }
              return true;
            },
          });
        },
        /** Release management's decision on the build's pending approval of `stage`. */
        async decide(id: string, stage: string, decision: 'approved' | 'rejected'): Promise<void> {
          const pending = (await custom(id))?.pendingApproval;
          if (pending?.stage !== stage) throw new Error(`${id} does not wait for ${stage}`);
          await host.raiseEvent(
            id,
            approvalEventName(stage),
            decisionFor(pending, factory.clock, {
              decision,
              approver: 'alice@contoso.com',
              changeTicket: 'CHG0012345',
            }),
          );
        },
      };
    },
  };
  return bench;
}
