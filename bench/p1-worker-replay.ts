/**
 * P1 in a worker-like process: replays the episodes the P1 build recorded (P1_RECORD, one JSON line
 * per episode: the trigger input as a worker receives it, and the actions the orchestrator answered)
 * through the app compiled as it is deployed, in a process that holds only the app, as a Functions
 * worker does. The in-process figure shares one V8 isolate with the harness, the simulated Azure and
 * the local host, and the activities run between its episodes.
 *
 * Run by bench/index.ts from its compiled form (compiledForBench), never under tsx, whose module
 * format uses up V8's transitions from the empty object's map (docs/engineering-guide.md, "What the
 * CPU figure also measures"). Every replay must answer the actions the host saw, or the figure is
 * refused: it then measures the same work, not a similar one.
 *
 * Prints one line: `P1W-json {"coldCpuMs", "warmCpuMs", "episodes", "emptyObjectHadRoom"}`. CPU is
 * measured as the host measures it (process.cpuUsage around each call), so it includes V8's
 * compiler and GC threads; with nothing but replays to do, their work falls inside the calls more
 * than in the host, which makes this figure, if anything, high. (The replaying thread alone cannot
 * be measured here: Linux updates a running thread's CPU time only at 4 ms ticks.)
 */
import Module from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { emptyObjectHasRoom } from './v8-probe';
import { outOfProcState } from '../src/local/host/out-of-proc-state';

interface Recorded {
  build: 'cold' | 'warm';
  orchestration: string;
  triggerJson: string;
  actionsJson: string;
}

interface Registration {
  metadata: { name: string; bindings: Record<string, Record<string, unknown>> };
  handler: (trigger: unknown, context: unknown) => unknown;
}

const CORE_MODULE = '@azure/functions-core';

function main(): void {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: p1-worker-replay <episodes.jsonl> (from P1_RECORD)');
  const episodes = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Recorded);
  if (episodes.length === 0) throw new Error(`${file} holds no episodes`);

  // What the Node worker provides under this name; the app registers its functions through it.
  const standIn = require.resolve('../src/local/host/functions-core-stand-in');
  const resolver = Module as unknown as {
    _resolveFilename: (request: string, parent: unknown, ...rest: unknown[]) => string;
  };
  const resolve = resolver._resolveFilename;
  resolver._resolveFilename = function resolveCore(request, parent, ...rest) {
    return request === CORE_MODULE ? standIn : resolve.call(this, request, parent, ...rest);
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(path.join(__dirname, '../src/functions/index'));
  const emptyObjectHadRoom = emptyObjectHasRoom();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { captureSink } = require(standIn) as { captureSink: () => { registrations: Registration[] } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { InvocationContext } = require('@azure/functions') as typeof import('@azure/functions');
  const functions = new Map(captureSink().registrations.map((r) => [r.metadata.name, r]));
  // The app's own copy (the same compiled module its orchestrations use), as the in-process P1 does
  // between its builds: another build would not ask the delays the first one remembered.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const polling = require(path.join(__dirname, '../src/domain/polling')) as {
    forgetRememberedPollDelays: () => void;
  };

  void replayAll(episodes, functions, InvocationContext, polling.forgetRememberedPollDelays).then((cpu) =>
    console.log(
      `P1W-json ${JSON.stringify({ coldCpuMs: cpu.cold, warmCpuMs: cpu.warm, episodes: episodes.length, ...(emptyObjectHadRoom === undefined ? {} : { emptyObjectHadRoom }) })}`,
    ),
  );
}

async function replayAll(
  episodes: Recorded[],
  functions: Map<string, Registration>,
  InvocationContext: typeof import('@azure/functions').InvocationContext,
  forgetRememberedPollDelays: () => void,
): Promise<{ cold: number; warm: number }> {
  const cpu = { cold: 0, warm: 0 };
  for (const [index, episode] of episodes.entries()) {
    if (episode.build === 'warm' && episodes[index - 1]?.build === 'cold') forgetRememberedPollDelays();
    const fn = functions.get(episode.orchestration);
    if (fn === undefined) throw new Error(`the app registers no function '${episode.orchestration}'`);
    const trigger = Object.values(fn.metadata.bindings).find((b) => /trigger$/i.test(String(b.type)));
    // As the host does: a fresh context per episode, and the input parsed outside the measure.
    const input: unknown = JSON.parse(episode.triggerJson);
    const context = new InvocationContext({
      invocationId: `replay-${index}`,
      functionName: episode.orchestration,
      options: { trigger: trigger as never },
      logHandler: () => undefined,
    });
    const before = process.cpuUsage();
    let state: { actions?: unknown };
    try {
      state = (await fn.handler(input, context)) as { actions?: unknown };
    } catch (error) {
      state = thrownState(error);
    }
    const used = process.cpuUsage(before);
    cpu[episode.build] += (used.user + used.system) / 1000;
    if (JSON.stringify(state.actions ?? null) !== episode.actionsJson)
      throw new Error(
        `episode ${index} (${episode.orchestration}) answered other actions than it did in the host: the replay would measure other work`,
      );
  }
  return cpu;
}

/** A failed orchestrator's state, as the host reads it (src/local/host/out-of-proc-state.ts). */
function thrownState(error: unknown): { actions?: unknown } {
  const state = outOfProcState<{ actions?: unknown }>(error instanceof Error ? error.message : String(error));
  if (state === undefined) throw error;
  return state;
}

main();
