import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, spawnTsx } from '../pipeline/harness';

/**
 * Kills the host process (SIGKILL) at several points of a run and restarts it on the same SQLite
 * file: the instance must finish, the raised event must not be lost, and each activity must run
 * exactly once per scheduled attempt — plus once more only when a kill interrupted it mid-run
 * (at-least-once, as the real host). The fixture activity writes "hello <step>" when it starts
 * and "end <step>" when it is done, so the test knows which kill interrupted which step.
 */
const SLOW_MS = 250;

function startChild(
  databasePath: string,
  sideEffects: string,
): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const { child, output } = spawnTsx('test/host/crash-child.ts', [databasePath, 'crash-1'], {
    env: { SAMPLE_SIDE_EFFECT_FILE: sideEffects, SAMPLE_SLOW_MS: String(SLOW_MS) },
  });
  children.push(child);
  return { child, output };
}

const until = async (predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> => {
  const giveUp = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const lines = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const starts = (file: string) => lines(file).filter((l) => l.startsWith('hello '));
const ends = (file: string) => lines(file).filter((l) => l.startsWith('end '));
/** Steps started but not finished: what a kill right now interrupts. */
const inFlight = (file: string): string[] => {
  const done = new Set(ends(file).map((l) => l.slice('end '.length)));
  return starts(file)
    .map((l) => l.slice('hello '.length))
    .filter((step) => !done.has(step));
};

const children: ChildProcessWithoutNullStreams[] = [];

describe('crash and resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'host-crash-'));
  afterAll(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes after SIGKILLs mid-activity and after a raised event, each activity once per attempt', async () => {
    const began = Date.now();
    const databasePath = join(dir, 'host.sqlite');
    const effects = join(dir, 'effects.log');
    const interrupted = new Map<string, number>();
    const killMidRun = async (startsBeforeKill: number) => {
      const { child, output } = startChild(databasePath, effects);
      await until(() => output().includes('READY'), 'READY');
      await until(
        () => starts(effects).length >= startsBeforeKill && inFlight(effects).length > 0,
        `step ${startsBeforeKill} in flight`,
      );
      await killHard(child);
      for (const step of inFlight(effects)) interrupted.set(step, (interrupted.get(step) ?? 0) + 1);
    };
    // 1) mid-run of the 2nd step; 2) mid-run of the 4th attempt overall (the re-run counts).
    await killMidRun(2);
    await killMidRun(4);
    expect([...interrupted.values()].reduce((a, b) => a + b, 0)).toBe(2);

    // 3) Once all six steps are done and the instance waits for the approval: raise it, and kill
    // the moment the host has accepted it (before the instance can act on it).
    {
      const { child, output } = startChild(databasePath, effects);
      await until(() => output().includes('READY'), 'READY');
      await until(() => ends(effects).length >= 6, 'six steps done', 20_000);
      child.stdin.write('approve\n');
      await until(() => output().includes('RAISED'), 'RAISED');
      await killHard(child);
      for (const step of inFlight(effects)) interrupted.set(step, (interrupted.get(step) ?? 0) + 1);
    }

    // 4) A last start finishes the instance.
    const { child, output } = startChild(databasePath, effects);
    await until(() => output().includes('DONE'), 'DONE', 30_000);
    await new Promise((resolve) => child.once('exit', resolve));
    const done = JSON.parse(output().split('DONE ')[1]!.split('\n')[0]!) as {
      runtimeStatus: string;
      output: unknown;
    };
    expect(done.runtimeStatus).toBe('Completed');
    // The approval raised just before the kill was not lost (no timeout).
    expect(done.output).toEqual({ steps: 7, approval: 'granted' });

    const perStep = new Map<string, number>();
    for (const line of starts(effects)) {
      const step = line.slice('hello '.length);
      perStep.set(step, (perStep.get(step) ?? 0) + 1);
    }
    const expected = new Map(
      ['step-0', 'step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'final'].map((s) => {
        const step = JSON.stringify(JSON.stringify(s)); // the activity got the string JSON-encoded
        return [step, 1 + (interrupted.get(step) ?? 0)];
      }),
    );
    expect(Object.fromEntries(perStep)).toEqual(Object.fromEntries(expected));
    // Measured: four tsx child starts and ~9 slow activity runs; keep it well under the budget.
    expect(Date.now() - began).toBeLessThan(30_000);
  }, 60_000);
});
