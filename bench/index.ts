/**
 * `npm run bench`: every benchmark side by side in one process, one line per figure, each with its
 * target. Seeded: the same seed gives the same figures (BENCH_SEED, default 42).
 */
import { execFileSync } from 'node:child_process';
import { runP3, type PollFigures } from './p3-polling';
import { runP3EndToEnd } from './p3-polling-e2e';

const seed = Number(process.env.BENCH_SEED ?? 42);
const builds = Number(process.env.BENCH_P3_BUILDS ?? 2000);
const e2eBuilds = Number(process.env.BENCH_P3_E2E_BUILDS ?? 40);

function fmt(f: PollFigures): string {
  return `reads/h=${f.readsPerHour.toFixed(1)} lag=${f.meanLagS.toFixed(1)}s product=${f.product.toFixed(0)}`;
}

/**
 * P1, P2 and P4 run the whole factory (local host + simulated Azure); each gets its own process
 * because @azure/identity keeps managed-identity settings per process.
 */
function runInChild(which: string, ...args: string[]): void {
  try {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'bench/pipeline-benches.ts', which, ...args],
      {
        encoding: 'utf8',
        maxBuffer: 64 * 2 ** 20,
      },
    );
    console.log(
      out
        .split('\n')
        .filter((line) => line.startsWith(which))
        .join('\n'),
    );
  } catch (error) {
    console.log(`${which}: failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
}

function verdict(f: PollFigures): string {
  return f.product <= 600 && f.readsPerHour <= 60 ? 'MET' : 'NOT MET';
}

async function main(): Promise<void> {
  console.log(`bench seed=${seed}`);
  runInChild('P1');
  runInChild('P2');

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

  runInChild('P4', String(Number(process.env.BENCH_P4_PIPELINES ?? 200)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
