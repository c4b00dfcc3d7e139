import { spawnSync } from 'node:child_process';
import { takeExitMarker, wrapScript, WRAPPER_HEADER } from '../../src/adapters/runCommandScript';
import { parseRunCommandResult, UNKNOWN_EXIT_CODE } from '../../src/adapters/testVms';

/** Runs the wrapped script the way RunShellScript does: the lines, joined, fed to a real shell. */
function runWrapped(
  shell: string,
  script: string,
): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(shell, ['-s'], {
    input: wrapScript('Shell', script).join('\n'),
    encoding: 'utf8',
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

describe('Run Command exit-code wrapper (Shell, executed by real sh and bash)', () => {
  const cases: { script: string; exitCode: number; stdout: string; stderr?: string }[] = [
    { script: 'echo hello', exitCode: 0, stdout: 'hello\n' },
    { script: 'echo partial; exit 3', exitCode: 3, stdout: 'partial\n' },
    { script: 'set -e\nfalse\necho never', exitCode: 1, stdout: '' },
    { script: "printf 'no newline'", exitCode: 0, stdout: 'no newline' },
    { script: '', exitCode: 0, stdout: '' },
    { script: 'echo oops >&2\nexit 42', exitCode: 42, stdout: '', stderr: 'oops\n' },
    {
      script: 'case x in x) echo matched;; esac\ncat <<EOF\nheredoc $((1+1))\nEOF',
      exitCode: 0,
      stdout: 'matched\nheredoc 2\n',
    },
  ];
  for (const shell of ['/bin/sh', 'bash']) {
    for (const c of cases) {
      it(`${shell}: ${JSON.stringify(c.script)} → exit ${c.exitCode}`, () => {
        const run = runWrapped(shell, c.script);
        expect(run.status).toBe(0); // the wrapper never fails the Run Command operation
        expect(run.stdout.endsWith(`##exitcode=${c.exitCode}\n`)).toBe(true);
        expect(takeExitMarker(run.stdout)).toEqual({ stdout: c.stdout, exitCode: c.exitCode });
        if (c.stderr !== undefined) expect(run.stderr).toBe(c.stderr);
      });
    }
  }

  it('PowerShell: the script travels base64-encoded, runs from a .ps1 file, marker last, exit 0', () => {
    const lines = wrapScript('PowerShell', "Write-Output 'it''s'\nexit 7");
    expect(lines[0]).toBe(WRAPPER_HEADER);
    const b64 = /FromBase64String\('([A-Za-z0-9+/=]+)'\)/.exec(lines.join('\n'))?.[1] ?? '';
    expect(Buffer.from(b64, 'base64').toString('utf8')).toBe("Write-Output 'it''s'\nexit 7");
    expect(lines.join('\n')).toContain('& $__ifFile');
    expect(lines.slice(-2)).toEqual(["Write-Output ('##exitcode=' + $__ifCode)", 'exit 0']);
  });

  it('parses both Run Command shapes; never guesses an exit code from stderr', () => {
    // Windows: StdOut/StdErr statuses, "succeeded" whatever happened
    expect(
      parseRunCommandResult([
        { code: 'ComponentStatus/StdOut/succeeded', message: 'done\r\n##exitcode=5\r\n' },
        { code: 'ComponentStatus/StdErr/succeeded', message: '' },
      ]),
    ).toEqual({ exitCode: 5, stdout: 'done', stderr: '' });
    expect(
      parseRunCommandResult([
        { code: 'ComponentStatus/StdOut/succeeded', message: 'ok' },
        { code: 'ComponentStatus/StdErr/succeeded', message: 'a warning' },
      ]),
    ).toEqual({ exitCode: UNKNOWN_EXIT_CODE, stdout: 'ok', stderr: 'a warning' });
    // Linux without the marker: the stated exit status is used
    expect(
      parseRunCommandResult([
        {
          code: 'ProvisioningState/succeeded',
          message:
            'Enable failed: failed to execute command: command terminated with exit status=2\n[stdout]\nx\n[stderr]\ny\n',
        },
      ]),
    ).toEqual({ exitCode: 2, stdout: 'x', stderr: 'y' });
  });
});
