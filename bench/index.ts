/**
 * `npm run bench`: every benchmark side by side in one process, one line per figure, each with its
 * target. Seeded: the same seed gives the same figures (BENCH_SEED, default 42).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runP3, type PollFigures } from './p3-polling';
import { sideBySide } from './figures';
import type { P1Figures } from './pipeline-benches';
import { runP3EndToEnd } from './p3-polling-e2e';

const seed = Number(process.env.BENCH_SEED ?? 42);
const builds = Number(process.env.BENCH_P3_BUILDS ?? 2000);
const e2eBuilds = Number(process.env.BENCH_P3_E2E_BUILDS ?? 40);
/**
 * P1 runs in this many fresh processes; the median is the figure (CPU time on a shared machine varies
 * by a fifth to a third between runs: medians of three still moved by 20 %).
 */
const p1Runs = Math.max(1, Number(process.env.BENCH_P1_RUNS ?? 5));

function fmt(f: PollFigures): string {
  return `reads/h=${f.readsPerHour.toFixed(1)} lag=${f.meanLagS.toFixed(1)}s product=${f.product.toFixed(0)}`;
}

/**
 * P1, P2 and P4 run the whole factory (local host + simulated Azure); each gets its own process
 * because @azure/identity keeps managed-identity settings per process. P1 runs the factory compiled
 * as the app is deployed (compiledForBench), P2 and P4 under tsx.
 */
function childOutput(which: string, ...args: string[]): string {
  // --allow-natives-syntax: P1 reports whether V8 had room to give the empty object new properties.
  const command =
    which === 'P1'
      ? ['--allow-natives-syntax', path.join(compiledForBench(), 'bench/pipeline-benches.js'), which]
      : ['--import', 'tsx', 'bench/pipeline-benches.ts', which];
  return execFileSync(process.execPath, [...command, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
}

/** Where the app, the local factory and the benches are compiled for P1 (gitignored). */
const BENCH_BUILD_DIR = '.local/bench-build';
let compiled: string | undefined;

/**
 * P1 measures the app as it is deployed: compiled by tsc (npm run build), not transformed by tsx.
 * tsx emits each module as esbuild's CommonJS, whose exports object starts as `{}` and gets the
 * module's first export as its first property: every module with a new first export name takes
 * one of the 1,536 transitions V8 links from the empty object's map, and with the local host, the
 * simulator and the app under tsx none was left before the first episode, which made the replays
 * the library builds from `{}` about half as fast (docs/engineering-guide.md, "What the CPU figure
 * also measures"). tsc's CommonJS starts every exports object with `__esModule`, one shared
 * transition. Compiled once per bench run; the host, simulator and harness with it, so the
 * isolate holds what the bench needs and nothing tsx adds. Returns the output directory.
 */
function compiledForBench(): string {
  if (compiled !== undefined) return compiled;
  mkdirSync(BENCH_BUILD_DIR, { recursive: true });
  writeFileSync(
    path.join(BENCH_BUILD_DIR, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../tsconfig.json',
      compilerOptions: { types: ['node', 'jest'], outDir: 'out', rootDir: '../..', sourceMap: false },
      include: ['../../src/**/*.ts', '../../bench/**/*.ts'],
      files: ['../../test/pipeline/harness.ts'],
    }),
  );
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', BENCH_BUILD_DIR], {
    stdio: 'ignore',
  });
  compiled = path.join(BENCH_BUILD_DIR, 'out');
  return compiled;
}

function runInChild(which: string, ...args: string[]): void {
  try {
    console.log(
      childOutput(which, ...args)
        .split('\n')
        .filter((line) => line.startsWith(which))
        .join('\n'),
    );
  } catch (error) {
    console.log(`${which}: failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const range = (values: number[]): string =>
  `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;

/** P1 in p1Runs fresh processes, one after another: the median run's figures, and the spread. */
function runP1Bench(): void {
  const runs: P1Figures[] = [];
  try {
    for (let i = 0; i < p1Runs; i++) {
      const line = childOutput('P1')
        .split('\n')
        .find((l) => l.startsWith('P1-json '));
      if (line === undefined) throw new Error('the P1 process printed no figures');
      runs.push(JSON.parse(line.slice('P1-json '.length)) as P1Figures);
    }
  } catch (error) {
    console.log(`P1: failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
    return;
  }
  const cpu = median(runs.map((r) => r.cpuMs));
  const typical = [...runs].sort((a, b) => a.cpuMs - b.cpuMs)[Math.floor(runs.length / 2)] as P1Figures;
  const warm = median(runs.map((r) => r.warmCpuMs));
  const n = runs.length;
  console.log(
    [
      `P1 replay CPU: ${sideBySide('P1 replay CPU', cpu, 'ms')} for a full three-stage build (4 h build, replication, 2 approvals; the app compiled as deployed, in one process with the local host and the simulated Azure), median of ${n} fresh processes (${range(runs.map((r) => r.cpuMs))} ms) (target < 100 ms: ${cpu < 100 ? 'MET' : 'NOT MET'})`,
      `P1 replay CPU on a warm worker (the same build again in the same process, as on infra's always-ready instance): ${sideBySide('P1 replay CPU, warm worker', warm, 'ms')}, median of ${n} (${range(runs.map((r) => r.warmCpuMs))} ms) (target < 100 ms: ${warm < 100 ? 'MET' : 'NOT MET'})`,
      `P1 episodes: ${sideBySide('P1 episodes', typical.episodes, '')} across ${typical.instances} instances (the build orchestration and its sub-orchestrations); history events replayed: ${sideBySide('P1 replayed events', typical.replayedEvents, '')} (machine-independent: every episode replays its whole history)`,
      `P1 replay by orchestrator: ${typical.byOrchestrator
        .map((o) => `${o.name} ${o.cpuMs.toFixed(1)} ms / ${o.episodes} episodes / ${o.events} events`)
        .join(', ')}`,
      `P1 activity executions: ${typical.activities.map((a) => `${a.name} ${a.runs}`).join(', ')}`,
      `P1 V8 state after setup: ${v8State(runs)}`,
      `P1 history events: ${typical.mainEvents} in the build orchestration, at most ${typical.maxChildEvents} in a sub-orchestration per continue-as-new generation (target < 400 per instance: ${Math.max(typical.mainEvents, typical.maxChildEvents) < 400 ? 'MET' : 'NOT MET'}); wall ${typical.wallMs} ms`,
    ].join('\n'),
  );
}

/** Whether the runs' V8 could still add properties to an empty object after setup (see P1Figures). */
function v8State(runs: P1Figures[]): string {
  const full = runs.filter((r) => r.emptyObjectHadRoom === false).length;
  const known = runs.filter((r) => r.emptyObjectHadRoom !== undefined).length;
  if (known === 0) return 'not probed';
  return full === 0
    ? `the empty object's map had transitions left in all ${known} runs`
    : `the empty object's map had none of V8's 1,536 transitions left in ${full} of ${known} runs: objects the library builds property by property (the history it replays, moment's) each get a map of their own, which no inline cache shares, so the CPU figures above are higher than on a worker with room (docs/engineering-guide.md, "What the CPU figure also measures")`;
}

/**
 * How fast this machine runs plain JavaScript now: a fixed loop (3·10⁷ Math.sqrt) in three fresh
 * processes, the median in ms. P1's CPU figures scale with it (on this machine it took 60–533 ms on
 * one day), so P1 is compared with its "before" figures only when the loop took about as long as it
 * did when they were recorded (bench/figures.json, "P1 reference loop").
 */
function referenceLoopMs(): number {
  // Inside a function: at the top level of `node -e` the variables live in the script's context
  // and the loop takes twice as long. The sum is printed so that V8 cannot drop the loop as unused.
  const loop =
    '(() => { const t = process.hrtime.bigint(); let sum = 0; for (let i = 0; i < 3e7; i++) sum += Math.sqrt(i);' +
    ' console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t) / 1e6, sum })); })()';
  const times = [0, 1, 2].map(
    () =>
      (JSON.parse(execFileSync(process.execPath, ['-e', loop], { encoding: 'utf8' })) as { ms: number }).ms,
  );
  return Math.round(median(times));
}

/** Fresh processes for the worker-like replay (each takes about two seconds). */
const workerRuns = Math.max(1, Number(process.env.BENCH_P1_WORKER_RUNS ?? 5));

/**
 * P1 in a worker-like process (bench/p1-worker-replay.ts): one more P1 build records its episodes,
 * with the app compiled as deployed (compiledForBench), and the episodes are replayed in
 * fresh processes that hold only the app. Returns the lines to print.
 */
function runP1WorkerReplay(): string[] {
  const recording = path.join(tmpdir(), `image-factory-p1-episodes-${process.pid}.jsonl`);
  try {
    const out = compiledForBench();
    execFileSync(
      process.execPath,
      ['--allow-natives-syntax', path.join(out, 'bench/pipeline-benches.js'), 'P1'],
      { env: { ...process.env, P1_RECORD: recording }, stdio: 'ignore' },
    );
    const runs: {
      coldCpuMs: number;
      warmCpuMs: number;
      episodes: number;
      emptyObjectHadRoom?: boolean;
    }[] = [];
    for (let i = 0; i < workerRuns; i++) {
      const printed = execFileSync(
        process.execPath,
        [
          '--allow-natives-syntax',
          '--single-threaded',
          path.join(out, 'bench/p1-worker-replay.js'),
          recording,
        ],
        { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 },
      );
      const line = printed.split('\n').find((l) => l.startsWith('P1W-json '));
      if (line === undefined) throw new Error('the replay printed no figures');
      runs.push(JSON.parse(line.slice('P1W-json '.length)) as (typeof runs)[number]);
    }
    const cold = median(runs.map((r) => r.coldCpuMs));
    const warm = median(runs.map((r) => r.warmCpuMs));
    const room = runs.every((r) => r.emptyObjectHadRoom !== false) ? 'had room' : 'had no room left';
    const n = runs.length;
    const episodes = runs[0]?.episodes ?? 0;
    return [
      `P1 replay CPU in a worker-like process (the same ${episodes} episodes of both builds, each answering the actions it answered in the host, replayed through the app compiled as deployed in a process that holds only the app; the empty object's map ${room}): first build ${sideBySide('P1 replay CPU, worker-like process', cold, 'ms')}, median of ${n} (${range(runs.map((r) => r.coldCpuMs))} ms) (target < 100 ms: ${cold < 100 ? 'MET' : 'NOT MET'}); warm ${sideBySide('P1 replay CPU, worker-like process, warm', warm, 'ms')} (${range(runs.map((r) => r.warmCpuMs))} ms) (target < 100 ms: ${warm < 100 ? 'MET' : 'NOT MET'})`,
    ];
  } catch (error) {
    // A child's own error (e.g. a replay that answered other actions) is in its stderr.
    const { stderr } = error as { stderr?: string | Buffer };
    const childError = stderr
      ?.toString()
      .split('\n')
      .find((l) => l.startsWith('Error'));
    const reason = childError ?? (error as Error).message.split('\n')[0];
    return [`P1 worker-like replay: failed: ${reason ?? ''}`];
  } finally {
    rmSync(recording, { force: true });
  }
}

function verdict(f: PollFigures): string {
  return f.product <= 600 && f.readsPerHour <= 60 ? 'MET' : 'NOT MET';
}

/** BENCH_ONLY=P1,P3 runs only those benchmarks (all when unset). */
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim().toUpperCase());
const wanted = (name: string): boolean => only === undefined || only.includes(name);

async function main(): Promise<void> {
  console.log(`bench seed=${seed}`);
  if (wanted('P1')) {
    console.log(
      `P1 reference loop (this machine's speed now): ${sideBySide('P1 reference loop', referenceLoopMs(), 'ms')}`,
    );
    runP1Bench();
    console.log(runP1WorkerReplay().join('\n'));
  }
  if (wanted('P2')) runInChild('P2');

  if (wanted('P3')) {
    const p3 = runP3(seed, builds);
    console.log(
      `P3 polling (pure loop, ${builds} generated runs, 3% ~4 h): fixed-30s ${fmt(p3.fixed30)} | fixed-60s ${fmt(p3.fixed60)} | adaptive ${fmt(p3.adaptive)} (target ≤600 at ≤60 reads/h: ${verdict(p3.adaptive)}; worst single run ${p3.adaptive.maxReadsPerBuildHour.toFixed(0)} reads/h)`,
    );
    console.log(
      `P3 polling (pure loop, variants): adaptive without history ${fmt(p3.adaptiveNoHistory)} | adaptive, runs shaped like the simulator (fixed sub-state shares) ${fmt(p3.adaptiveSimulatorShaped)} (target ≤600 at ≤60 reads/h)`,
    );

    if (e2eBuilds > 0) {
      const e2e = await runP3EndToEnd(seed, e2eBuilds);
      console.log(
        `P3 polling (end-to-end, simulated Azure via ImageBuilder adapter, ${e2eBuilds} runs, reads = sim GET imageTemplates): fixed-30s ${fmt(e2e.fixed30)} | fixed-60s ${fmt(e2e.fixed60)} | adaptive ${fmt(e2e.adaptive)} (target ≤600 at ≤60 reads/h: ${verdict(e2e.adaptive)})`,
      );
    }
  }

  if (wanted('P4')) runInChild('P4', String(Number(process.env.BENCH_P4_PIPELINES ?? 200)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
