/**
 * A factory on the local host + simulated Azure + virtual clock: the unmodified app, the real
 * durable-functions replay, the real SDK clients; only Azure and the clock are ours.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { startAzureSimulator, createStandardWorld } from '../../src/local/azure-sim';
import type { AzureSimulator, SimulatorOptions } from '../../src/local/azure-sim/api';
import type { StandardWorld } from '../../src/local/azure-sim/world';
import { pipelineSettingsForWorld, settingsForWorld } from '../../src/local/world-settings';
import { VirtualClock } from '../../src/shared/clock';
import { loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
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
  start(pipeline: PipelineDefinition, buildId?: string): Promise<string>;
  status(id: string): Promise<BuildCustomStatus>;
  /** Drives until the build waits for the given stage's approval (or ends). */
  untilApprovalPending(id: string, stage: string): Promise<BuildCustomStatus>;
  decide(id: string, stage: string, decision: 'approved' | 'rejected', approver?: string): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;

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
  const env: Record<string, string> = {
    TASK_HUB_NAME: 'ImageFactoryTest',
    PIPELINES_DIR: 'pipelines',
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
  const statusOf = async (id: string) => (await host.getStatus(id))?.customStatus as BuildCustomStatus;
  return {
    host,
    sim,
    world,
    clock,
    env,
    pipelines,
    log,
    async start(pipeline, buildId = `b${Date.now().toString(36)}${(counter++).toString(36)}`) {
      return host.startNew(BUILD_ORCHESTRATION, {
        instanceId: buildId,
        input: { buildId, pipeline, reason: 'test' },
      });
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
