/**
 * Exit codes for VM Run Command (action). Azure does not report the script's exit code:
 * RunPowerShellScript answers two statuses (ComponentStatus/StdOut/succeeded, …/StdErr/succeeded)
 * whatever the script returned, and older agents even failed the whole operation on `exit 1`
 * (losing the output); RunShellScript only sometimes states "exit status=N" in its message. So the
 * adapter wraps every script: the user's script runs as a child (a subshell / a .ps1 file called with
 * `&`), its exit code is printed as the LAST line of stdout (`##exitcode=N`, so it survives Run
 * Command's 4,096-byte tail), and the wrapper itself always exits 0 (the operation never fails because
 * of the script, so stdout/stderr always come back).
 *
 * Exit code semantics:
 * - Shell: the subshell's status (`exit N`, `set -e`, or the last command), as sh/bash define it.
 * - PowerShell: `exit N` in the script → N; an uncaught terminating error → 1 (its text goes to
 *   stderr); otherwise `$LASTEXITCODE` (the last native command's code, 0 when none ran), as CI
 *   runners' pwsh shells do.
 */

export const WRAPPER_HEADER =
  '# image-factory: exit-code marker wrapper v1 (prints ##exitcode=N last, exits 0)';

/** The lines sent as Run Command `script` for a user script. */
export function wrapScript(shell: 'Shell' | 'PowerShell', script: string): string[] {
  const user = script.replace(/\r\n/g, '\n');
  if (shell === 'Shell') {
    // `:` keeps an empty script a valid subshell; the subshell confines `exit`, `set -e` and traps.
    return [
      WRAPPER_HEADER,
      '(',
      ':',
      ...user.split('\n'),
      ')',
      '__if_rc=$?',
      'printf \'\\n##exitcode=%s\\n\' "$__if_rc"',
      'exit 0',
    ];
  }
  // The script travels base64-encoded (no quoting or here-string pitfalls) and runs from a .ps1 file,
  // so its own `exit N` ends only that file and sets $LASTEXITCODE.
  const b64 = Buffer.from(user, 'utf8').toString('base64');
  return [
    WRAPPER_HEADER,
    "$ErrorActionPreference = 'Continue'",
    "$__ifFile = Join-Path ([IO.Path]::GetTempPath()) ('image-factory-' + [guid]::NewGuid().ToString('N') + '.ps1')",
    `[IO.File]::WriteAllText($__ifFile, [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${b64}')), (New-Object Text.UTF8Encoding($true)))`,
    '$global:LASTEXITCODE = 0',
    '$__ifCode = 0',
    'try { & $__ifFile; $__ifCode = $LASTEXITCODE } catch { [Console]::Error.WriteLine(($_ | Out-String)); $__ifCode = 1 } finally { Remove-Item -LiteralPath $__ifFile -Force -ErrorAction SilentlyContinue }',
    'if ($null -eq $__ifCode) { $__ifCode = 0 }',
    "Write-Output ('##exitcode=' + $__ifCode)",
    'exit 0',
  ];
}

const MARKER = /(?:\r?\n)?##exitcode=(-?\d+)[ \t]*(?:\r?\n)*$/;

/** Splits the wrapper's marker off stdout; exitCode undefined when the marker is missing. */
export function takeExitMarker(stdout: string): { stdout: string; exitCode?: number } {
  const match = MARKER.exec(stdout);
  if (match?.[1] === undefined) return { stdout };
  return { stdout: stdout.slice(0, match.index), exitCode: Number(match[1]) };
}
