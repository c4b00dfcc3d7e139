/**
 * P1 (orchestration cost), P2 (promotion latency) and P4 (fleet) on the local host + simulated
 * Azure + virtual clock, through the real orchestration and adapters.
 */
import { startFactory, type Factory } from '../test/pipeline/harness';
import type { BuildCustomStatus } from '../src/domain/build-status';
import type { PipelineDefinition } from '../src/domain/pipeline/definition';
import { forgetRememberedPollDelays } from '../src/domain/polling';
import { appendFileSync, writeFileSync } from 'node:fs';
import { emptyObjectHasRoom } from './v8-probe';

const HOUR = 3600_000;

async function runBuild(
  factory: Factory,
  pipeline: PipelineDefinition,
  buildId: string,
  approveAfterMs: number,
): Promise<{ approvedAt: Record<string, number> }> {
  const approvedAt: Record<string, number> = {};
  let due: { at: number; stage: string } | undefined;
  // The approver answers approveAfterMs after each request, on the virtual clock.
  factory.host.addDueWorkSource({
    nextDueAt: () => due?.at,
    runDue: async (now) => {
      if (due === undefined || due.at > now) return;
      const { stage } = due;
      due = undefined;
      approvedAt[stage] = now;
      await factory.decide(buildId, stage, 'approved');
    },
  });
  await factory.start(pipeline, buildId);
  await factory.host.drive({
    until: async () => {
      const status = await factory.host.getStatus(buildId);
      if (status?.runtimeStatus !== 'Running' && status?.runtimeStatus !== 'Pending') return true;
      const pending = (status.customStatus as BuildCustomStatus | null)?.pendingApproval;
      if (pending && due === undefined && approvedAt[pending.stage] === undefined) {
        due = { at: factory.clock.now() + approveAfterMs, stage: pending.stage };
      }
      return false;
    },
  });
  const final = await factory.host.getStatus(buildId);
  if (final?.runtimeStatus !== 'Completed')
    throw new Error(
      `build ${buildId} ended ${final?.runtimeStatus}: ${JSON.stringify(final?.output).slice(0, 300)}`,
    );
  return { approvedAt };
}

/** One P1 run's figures (one fresh process: the first build is what a cold worker replays). */
export interface P1Figures {
  /** Replay CPU of the build and its sub-orchestrations, first build in this process (ms). */
  cpuMs: number;
  episodes: number;
  /** History events handed to the replay engine, summed over episodes (machine-independent). */
  replayedEvents: number;
  instances: number;
  byOrchestrator: { name: string; cpuMs: number; episodes: number; events: number }[];
  activities: { name: string; runs: number }[];
  mainEvents: number;
  maxChildEvents: number;
  /**
   * The same build again in the same process, ms: a worker whose code the first build warmed up, as
   * on the always-ready instance infra/ deploys (infra/app/function.bicep) between deployments.
   */
  warmCpuMs: number;
  wallMs: number;
  /**
   * Whether, once the factory was set up (simulator, local host, app loaded), V8 could still link a
   * new property of an empty object into its map tree; undefined without --allow-natives-syntax.
   * When it cannot, every object later built property by property from `{}` with a new first
   * property gets a map of its own, which no inline cache shares: the history events the library
   * replays, moment's objects (docs/engineering-guide.md, "What the CPU figure also measures").
   */
  emptyObjectHadRoom?: boolean;
}

async function measureBuild(
  factory: Factory,
  pipeline: PipelineDefinition,
  buildId: string,
): Promise<Omit<P1Figures, 'warmCpuMs'>> {
  const stats = factory.host.engine.stats;
  stats.replayByOrchestration.clear();
  const before = { cpu: stats.replayCpuMs, episodes: stats.episodes, events: stats.replayedEvents };
  const activitiesBefore = new Map(stats.activityExecutions);
  const wall = Date.now();
  await runBuild(factory, pipeline, buildId, 15 * 60_000);
  const wallMs = Date.now() - wall;
  const ids = factory.host.engine.instanceIds().filter((id) => id.startsWith(buildId));
  const events: Record<string, number> = {};
  for (const id of ids)
    events[id] = (await factory.host.getStatus(id, { showHistory: true }))?.history?.length ?? 0;
  return {
    cpuMs: stats.replayCpuMs - before.cpu,
    episodes: stats.episodes - before.episodes,
    replayedEvents: stats.replayedEvents - before.events,
    instances: ids.length,
    byOrchestrator: [...stats.replayByOrchestration].map(([name, s]) => ({
      name,
      cpuMs: s.cpuMs,
      episodes: s.episodes,
      events: s.events,
    })),
    activities: [...stats.activityExecutions]
      .filter(([name]) => name !== '$episodes')
      .map(([name, n]) => ({ name, runs: n - (activitiesBefore.get(name) ?? 0) }))
      .filter((a) => a.runs > 0)
      .sort((a, b) => b.runs - a.runs),
    mainEvents: events[buildId] ?? 0,
    maxChildEvents: Math.max(
      0,
      ...Object.entries(events)
        .filter(([id]) => id !== buildId)
        .map(([, n]) => n),
    ),
    wallMs,
  };
}

/**
 * P1: the three-stage bench build (4 h build, replication, 2 approvals), then the same build again in
 * the same process. The first is the figure judged (a worker's first build: what a serverless worker
 * that scaled from zero replays); the second shows what of it is the JIT warming up.
 */
export async function runP1(): Promise<P1Figures> {
  const factory = await startFactory({
    durations: { buildMs: 4 * HOUR, replicationPerRegionMs: 20 * 60_000 },
  });
  const emptyObjectHadRoom = emptyObjectHasRoom();
  try {
    const base = factory.pipelines.get('ubuntu-2204-base')!;
    // A 4-hour build needs a timeout above it; the expected duration stays the pipeline's (45 min),
    // so the policy starts from a wrong guess as a real first build would.
    const pipeline: PipelineDefinition = { ...base, build: { ...base.build, timeoutMinutes: 300 } };
    // P1_RECORD=<file>: every episode of both builds as JSON lines, for bench/p1-worker-replay.ts.
    const record = process.env.P1_RECORD;
    let build: 'cold' | 'warm' = 'cold';
    if (record !== undefined) {
      writeFileSync(record, '');
      factory.host.engine.episodeRecorder = (episode) =>
        appendFileSync(record, `${JSON.stringify({ build, ...episode })}\n`);
    }
    const cold = await measureBuild(factory, pipeline, 'p1-build');
    build = 'warm';
    // The same build again: the code is warm (as on the always-ready instance infra/ deploys), but
    // not the delays the first build's polling remembered (another build would not ask the same).
    forgetRememberedPollDelays();
    const warm = await measureBuild(factory, pipeline, 'p1-again');
    if (warm.episodes !== cold.episodes)
      throw new Error(`the second build ran ${warm.episodes} episodes, the first ${cold.episodes}`);
    return {
      ...cold,
      warmCpuMs: warm.cpuMs,
      ...(emptyObjectHadRoom === undefined ? {} : { emptyObjectHadRoom }),
    };
  } finally {
    await factory.stop();
  }
}

export async function runP2(): Promise<string> {
  // Both flows in one factory, one after the other, so they see the same simulated Azure.
  const factory = await startFactory({ durations: { buildMs: HOUR, replicationPerRegionMs: 20 * 60_000 } });
  try {
    const base = factory.pipelines.get('ubuntu-2204-base')!;
    const measure = async (preStage: boolean) => {
      const pipeline: PipelineDefinition = {
        ...base,
        stages: base.stages.map((stage) => (stage.name === 'PROD' ? { ...stage, preStage } : stage)),
      };
      const id = preStage ? 'p2-prestaged' : 'p2-copy';
      // People approve PROD two hours after the request: long enough for pre-staged replication.
      const { approvedAt } = await runBuild(factory, pipeline, id, 2 * HOUR);
      const status = (await factory.host.getStatus(id))?.customStatus as BuildCustomStatus;
      const prodDone = Date.parse(status.stages.find((s) => s.name === 'PROD')?.endedAt ?? '');
      const approved = approvedAt.PROD ?? prodDone;
      const callsAfterApproval = factory.sim
        .requests()
        .filter(
          (r) =>
            r.method !== 'GET' &&
            r.path.includes(factory.world.prod.subscriptionId) &&
            r.path.includes(`/versions/`) &&
            (r.body as { tags?: Record<string, string> } | undefined)?.tags?.['imagefactory.buildId'] === id,
        ).length;
      return { latencyMs: prodDone - approved, writes: callsAfterApproval };
    };
    const copy = await measure(false);
    const prestaged = await measure(true);
    const ratio = prestaged.latencyMs === 0 ? Number.POSITIVE_INFINITY : copy.latencyMs / prestaged.latencyMs;
    return [
      `P2 promotion latency (a) copy, then wait for replication: ${(copy.latencyMs / 60_000).toFixed(1)} min from the PROD approval to latest in every PROD region`,
      `P2 promotion latency (b) pre-staged: ${(prestaged.latencyMs / 1000).toFixed(1)} s after the approval; PROD version writes by the build: ${prestaged.writes} (the copy while approval was pending, then one flip) (target: one ARM call and ≥100× faster: ${ratio >= 100 ? 'MET' : 'NOT MET'}, ratio ${Number.isFinite(ratio) ? ratio.toFixed(0) : '∞'}×)`,
    ].join('\n');
  } finally {
    await factory.stop();
  }
}

export async function runP4(count: number): Promise<string> {
  const factory = await startFactory({ durations: { buildMs: HOUR, replicationPerRegionMs: 10 * 60_000 } });
  try {
    // Each template has its own staging group, so concurrent builds of one pipeline do not clash.
    const pipelines = [
      factory.pipelines.get('ubuntu-2204-base')!,
      factory.pipelines.get('windows-2022-base')!,
    ];
    const wall = Date.now();
    let peakRss = process.memoryUsage().rss;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(await factory.start(pipelines[i % 2]!, `p4-${i}`));
    let peakRunningPerPlace = 0;
    let peakTemplates = 0;
    await factory.host.drive({
      until: async () => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        const perPlace = new Map<string, number>();
        for (const run of factory.sim.runningImageBuilds()) {
          const place = `${run.subscriptionId}/${run.location}`;
          perPlace.set(place, (perPlace.get(place) ?? 0) + 1);
        }
        peakRunningPerPlace = Math.max(peakRunningPerPlace, ...perPlace.values());
        peakTemplates = Math.max(
          peakTemplates,
          factory.sim.inventory().filter((r) => r.type === 'microsoft.virtualmachineimages/imagetemplates')
            .length,
        );
        let open = 0;
        for (const id of ids) {
          const status = await factory.host.getStatus(id);
          if (status?.runtimeStatus === 'Running' || status?.runtimeStatus === 'Pending') open++;
          const pending = (status?.customStatus as BuildCustomStatus | null)?.pendingApproval;
          if (pending) await factory.decide(id, pending.stage, 'approved');
        }
        return open === 0;
      },
    });
    const statuses = await Promise.all(ids.map((id) => factory.host.getStatus(id)));
    const completed = statuses.filter((s) => s?.runtimeStatus === 'Completed').length;
    const cap = Number(factory.env.BUILD_SLOTS_PER_SUBSCRIPTION_REGION ?? 4);
    return [
      `P4 fleet: ${completed}/${count} pipelines completed, ${count - completed} lost or failed (target: all complete, none lost: ${completed === count ? 'MET' : 'NOT MET'}), wall ${((Date.now() - wall) / 1000).toFixed(1)} s, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
      `P4 build cap: at most ${peakRunningPerPlace} Image Builder runs at once per subscription and region, cap BUILD_SLOTS_PER_SUBSCRIPTION_REGION=${cap} (target: never exceeded: ${peakRunningPerPlace <= cap ? 'MET' : 'NOT MET'}); ${peakTemplates} image templates existed at the peak (queued builds hold theirs as a ticket)`,
    ].join('\n');
  } finally {
    await factory.stop();
  }
}

/** One benchmark per process: @azure/identity's managed identity settings are per process. */
if (require.main === module) {
  const which = process.argv[2];
  const run =
    which === 'P1'
      ? runP1().then((figures) => `P1-json ${JSON.stringify(figures)}`)
      : which === 'P2'
        ? runP2()
        : which === 'P4'
          ? runP4(Number(process.argv[3] ?? 200))
          : Promise.reject(new Error(`unknown bench ${which}`));
  run.then(
    (lines) => console.log(lines),
    (error: unknown) => {
      console.log(`${which}: failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
