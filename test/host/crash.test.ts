import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Kills the host process (SIGKILL) at several points of a run and restarts it on the same SQLite
 * file: the instance must finish, no raised event may be lost, and no activity may run more often
 * than once per scheduled attempt plus once per kill that interrupted it mid-flight.
 */
function startChild(
  databasePath: string,
  sideEffects: string,
): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/host/crash-child.ts', databasePath, 'crash-1'],
    {
      env: { ...process.env, SAMPLE_SIDE_EFFECT_FILE: sideEffects, SAMPLE_SLOW_MS: '60', JEST_WORKER_ID: '' },
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

const until = async (predicate: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const giveUp = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > giveUp) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const executions = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

describe('crash and resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'host-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finishes after SIGKILLs mid-run with no lost event and no extra side effects', async () => {
    const databasePath = join(dir, 'host.sqlite');
    const sideEffects = join(dir, 'effects.log');
    let kills = 0;
    // Kill points: after 1 and 3 activity executions, then once the approval was raised.
    for (const killAfter of [1, 3]) {
      const { child, output } = startChild(databasePath, sideEffects);
      await until(() => output().includes('READY'));
      await until(() => executions(sideEffects).length >= killAfter);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      kills++;
    }
    // Raise the approval, then kill before the instance can finish its last step.
    {
      const { child, output } = startChild(databasePath, sideEffects);
      await until(() => output().includes('READY'));
      await until(() => executions(sideEffects).length >= 6);
      await new Promise((r) => setTimeout(r, 300));
      child.stdin.write('approve\n');
      await new Promise((r) => setTimeout(r, 30));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      kills++;
    }
    const { child, output } = startChild(databasePath, sideEffects);
    await until(() => output().includes('DONE'), 30_000);
    await new Promise((resolve) => child.once('exit', resolve));
    const done = JSON.parse(output().split('DONE ')[1]!.split('\n')[0]!);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual({ steps: 7, approval: 'granted' });

    const lines = executions(sideEffects);
    const perStep = new Map<string, number>();
    for (const line of lines) perStep.set(line, (perStep.get(line) ?? 0) + 1);
    // Every scheduled step ran at least once; only a step interrupted by a kill may have run twice.
    expect(perStep.size).toBe(7);
    const duplicates = [...perStep.values()].reduce((sum, n) => sum + (n - 1), 0);
    expect(duplicates).toBeLessThanOrEqual(kills);
    expect(lines.length).toBeLessThanOrEqual(7 + kills);
  }, 60_000);
});
