/**
 * The Linux gate script itself, run with sh: the simulator only models its answer, so this checks
 * that the real script prints one JSON line the factory reads, names the machine's vendor, codename
 * and architecture as os-release and dpkg give them, and stays inside the byte budget. On a dpkg
 * machine (Debian, as CI runs) the whole script runs for real; the second case puts stand-in
 * apt-get / dpkg / dpkg-query first on PATH to give it inventory and an architecture it must refuse.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GATE_OUTPUT_LIMIT,
  parseGateOutput,
  securityGateScript,
  type GateReport,
} from '../../src/domain/pipeline/security-gate';

const script = securityGateScript('Shell').inline;
const run = (env?: NodeJS.ProcessEnv): string =>
  execFileSync('sh', ['-c', script], { encoding: 'utf8', env: env ?? process.env });

/** os-release read the way its spec describes it (/etc first, values optionally quoted). */
function osRelease(): Record<string, string> {
  const path = existsSync('/etc/os-release') ? '/etc/os-release' : '/usr/lib/os-release';
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => /^([A-Z_]+)=(["']?)(.*)\2$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[3]!]),
  );
}

const onDpkg = existsSync('/usr/bin/dpkg-query') && existsSync('/usr/bin/dpkg');

describe('the Linux security gate script, run with sh', () => {
  (onDpkg ? it : it.skip)(
    "on this machine: one JSON line, the machine's vendor, codename and dpkg architecture, within the budget",
    () => {
      const stdout = run();
      expect(Buffer.byteLength(stdout.trimEnd())).toBeLessThanOrEqual(GATE_OUTPUT_LIMIT);
      const report = parseGateOutput(stdout) as GateReport;
      expect(report).toMatchObject({ v: 1, os: 'Linux' });
      const release = osRelease();
      expect(report.vendor).toBe(release.ID);
      expect(report.codename).toBe(release.VERSION_CODENAME);
      expect(report.arch).toBe(execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim());
      const installed = execFileSync('dpkg-query', ['-W', '-f=${Package}\n'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean).length;
      expect(report.packageCount).toBe(installed);
      expect(report.packages.length).toBeGreaterThan(0);
    },
    60_000,
  );

  it('an architecture outside the allowed characters is left out, the JSON stays valid and in budget', () => {
    const bin = mkdtempSync(join(tmpdir(), 'gate-script-'));
    try {
      const stub = (name: string, body: string) => {
        writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(bin, name), 0o755);
      };
      stub(
        'apt-get',
        "echo 'Inst libssl3 [3.0.2-0ubuntu1.17] (3.0.2-0ubuntu1.18 Ubuntu:22.04/jammy-security [amd64])'",
      );
      stub('dpkg', `echo 'AMD"64'`);
      // 900 packages with '+' and ':' in versions: more than the budget holds.
      stub(
        'dpkg-query',
        `i=0; while [ $i -lt 900 ]; do printf 'P\\tlib-package-%s\\t1:%s.0+dfsg-1\\n' $i $i; i=$((i+1)); done`,
      );
      const stdout = run({ ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` });
      expect(Buffer.byteLength(stdout.trimEnd())).toBeLessThanOrEqual(GATE_OUTPUT_LIMIT);
      const report = parseGateOutput(stdout) as GateReport;
      expect(report).toMatchObject({
        os: 'Linux',
        packageCount: 900,
        truncated: true,
        updates: [['libssl3', 'unspecified']],
      });
      expect(report).not.toHaveProperty('arch');
      expect(report.packages[0]).toEqual(['lib-package-0', '1:0.0+dfsg-1']);
      expect(report.packages.length).toBeGreaterThan(50);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
