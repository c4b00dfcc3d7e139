/**
 * A factory on the local host + simulated Azure + virtual clock: the unmodified app, the real
 * durable-functions replay, the real SDK clients; only Azure and the clock are ours.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { startAzureSimulator, createStandardWorld } from '../../src/local/azure-sim';
import type { AzureSimulator, SimulatorOptions } from '../../src/local/azure-sim/api';
import type { StandardWorld } from '../../src/local/azure-sim/world';
import { pipelineSettingsForWorld, settingsForWorld } from '../../src/local/world-settings';
import { VirtualClock } from '../../src/shared/clock';
import { loadPipelines, loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
import { definitionDigest, type BuildInput } from '../../src/domain/pipeline/admission';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';

export interface Factory {
  host: LocalHost;
  sim: AzureSimulator;
  world: StandardWorld;
  clock: VirtualClock;
  env: Record<string, string>;
  pipelines: Map<string, PipelineDefinition>;
  log: string[];
  /**
   * Edits this factory's copy of environments.yaml (the parsed document, placeholders unresolved);
   * served pipelines are checked against it from then on. Returns a function that restores it.
   */
  editEnvironments(edit: (document: { environments: Record<string, unknown>[] }) => void): () => void;
  /**
   * Starts a build as the API does (name + digest). A definition that differs from the served one
   * (a test's variant) is served first: written to this factory's own PIPELINES_DIR, and the build
   * is driven past admission before the next variant may replace it.
   */
  start(pipeline: PipelineDefinition, buildId?: string): Promise<string>;
  status(id: string): Promise<BuildCustomStatus>;
  /** Drives until the build waits for the given stage's approval (or ends). */
  untilApprovalPending(id: string, stage: string): Promise<BuildCustomStatus>;
  decide(id: string, stage: string, decision: 'approved' | 'rejected', approver?: string): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;
let servedWrites = 0;
/** A distinct mtime per write: the served-definitions cache keys on it. */
function bumpMtime(file: string): void {
  const stamp = new Date(Date.UTC(2020, 0, 1) + (servedWrites += 1) * 1000);
  utimesSync(file, stamp, stamp);
}

export async function startFactory(
  options: SimulatorOptions = {},
  settings: Record<string, string> = {},
  /** Where the virtual clock starts; real time for anything that stamps messages with it (Service Bus). */
  startAt = Date.UTC(2026, 10, 10, 6, 0, 0),
): Promise<Factory> {
  const clock = new VirtualClock(startAt);
  const sim = await startAzureSimulator({
    clock,
    seed: 7,
    tokenLifetimeMs: 365 * 24 * 3600_000,
    ...options,
  });
  const world = createStandardWorld(sim);
  const dir = mkdtempSync(join(tmpdir(), 'factory-test-'));
  // The factory's own copy of the served pipelines, so a test's variant can be served.
  const pipelinesDir = join(dir, 'pipelines');
  mkdirSync(pipelinesDir);
  // And of the environments, which a test may edit (editEnvironments).
  const environmentsFile = join(dir, 'environments.yaml');
  copyFileSync('environments.yaml', environmentsFile);
  for (const file of readdirSync('pipelines').filter((name) => /\.(ya?ml|json)$/.test(name)))
    copyFileSync(join('pipelines', file), join(pipelinesDir, file));
  const env: Record<string, string> = {
    TASK_HUB_NAME: 'ImageFactoryTest',
    PIPELINES_DIR: pipelinesDir,
    ENVIRONMENTS_FILE: environmentsFile,
    ARM_POLL_INTERVAL_MS: '1',
    ...settingsForWorld(sim, world, { caFile: join(dir, 'ca.pem') }),
    ...pipelineSettingsForWorld(world),
    ...settings,
  };
  const log: string[] = [];
  const host = await LocalHost.start({
    appEntry: 'src/functions/index.ts',
    env,
    clock,
    log: (line) => log.push(line),
    // The app's host.json, as the Functions host reads it (functionTimeout 10 min, hub name…).
    hostJson: 'host.json',
  });
  const pipelines = loadPipelinesOrThrow('pipelines', env);
  /** Builds whose admission may not have run yet (their served definition must stay as it is). */
  const unadmitted: string[] = [];
  const admitted = async (id: string) => {
    const s = await host.getStatus(id);
    return (s?.runtimeStatus !== 'Running' && s?.runtimeStatus !== 'Pending') || !!s?.customStatus;
  };
  const statusOf = async (id: string) => (await host.getStatus(id))?.customStatus as BuildCustomStatus;
  return {
    host,
    sim,
    world,
    clock,
    env,
    pipelines,
    log,
    editEnvironments(edit) {
      const original = readFileSync(environmentsFile, 'utf8');
      const document = parseYaml(original) as { environments: Record<string, unknown>[] };
      edit(document);
      writeFileSync(environmentsFile, stringifyYaml(document));
      bumpMtime(environmentsFile);
      return () => {
        writeFileSync(environmentsFile, original);
        bumpMtime(environmentsFile);
      };
    },
    async start(pipeline, buildId = `b${Date.now().toString(36)}${(counter++).toString(36)}`) {
      const digest = definitionDigest(pipeline);
      const served = loadPipelines(pipelinesDir, env).pipelines.get(pipeline.name);
      if (served === undefined || definitionDigest(served) !== digest) {
        // Builds started before must be past admission before their definition is replaced.
        await host.drive({ until: async () => (await Promise.all(unadmitted.map(admitted))).every(Boolean) });
        unadmitted.length = 0;
        for (const file of readdirSync(pipelinesDir))
          if (file.replace(/\.(ya?ml|json)$/, '') === pipeline.name) rmSync(join(pipelinesDir, file));
        const file = join(pipelinesDir, `${pipeline.name}.json`);
        writeFileSync(file, JSON.stringify(pipeline));
        bumpMtime(file);
        const refused = loadPipelines(pipelinesDir, env).invalid.filter(
          (r) => r.file === `${pipeline.name}.json` || r.file === 'environments.yaml',
        );
        if (refused.length > 0)
          throw new Error(
            `the factory would not serve this variant: ${refused.flatMap((r) => r.problems.map((p) => `${r.file}: ${p.path}: ${p.message}`)).join('; ')}`,
          );
      }
      const input: BuildInput = {
        buildId,
        pipeline: pipeline.name,
        definitionDigest: digest,
        reason: 'test',
      };
      const id = await host.startNew(BUILD_ORCHESTRATION, { instanceId: buildId, input });
      unadmitted.push(id);
      return id;
    },
    status: statusOf,
    async untilApprovalPending(id, stage) {
      await host.drive({
        until: async () => {
          const s = await host.getStatus(id);
          const custom = s?.customStatus as BuildCustomStatus | null;
          return s?.runtimeStatus !== 'Running' && s?.runtimeStatus !== 'Pending'
            ? true
            : custom?.pendingApproval?.stage === stage;
        },
      });
      return statusOf(id);
    },
    async decide(id, stage, decision, approver = 'alice@contoso.com') {
      const pending = (await statusOf(id)).pendingApproval;
      if (!pending || pending.stage !== stage) throw new Error(`no pending approval for ${stage}`);
      const data: ApprovalDecision = {
        requestId: pending.requestId,
        buildId: pending.buildId,
        stage,
        imageVersion: pending.imageVersion,
        decision,
        approver,
        changeTicket: 'CHG0012345',
        decidedAt: new Date(clock.now()).toISOString(),
      };
      await host.raiseEvent(id, approvalEventName(stage), data);
    },
    async stop() {
      await host.stop();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
