/**
 * The Linux gate script itself, run with sh: the simulator only models its answer, so this checks
 * that the real script prints one JSON line the factory reads, names the machine's vendor, codename
 * and architecture as os-release and dpkg give them, and stays inside the byte budget. On a dpkg
 * machine (Debian, as CI runs) the whole script runs for real; the second case puts stand-in
 * apt-get / dpkg / dpkg-query first on PATH to give it inventory and architectures it must refuse.
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
      // dpkg's own list, in its order: the architecture only where it is not the native one.
      const installed = execFileSync('dpkg-query', ['-W', '-f=${Package}\t${Version}\t${Architecture}\n'], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [name = '', version = '', arch = ''] = line.split('\t');
          return arch === report.arch ? [name, version] : [name, version, arch];
        });
      expect(report.packageCount).toBe(installed.length);
      expect(report.packages.length).toBeGreaterThan(0);
      expect(report.packages).toEqual(installed.slice(0, report.packages.length));
    },
    60_000,
  );

  it('architectures outside the allowed characters are left out, the JSON stays valid and in budget', () => {
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
      // 900 packages with '+' and ':' in versions (more than the budget holds), architectures "all",
      // amd64 and, for the third, one with a quote that must not reach the JSON.
      stub(
        'dpkg-query',
        [
          'i=0; while [ $i -lt 900 ]; do',
          `  if [ $i -eq 2 ]; then a='X"Y'; elif [ $((i % 2)) -eq 0 ]; then a=all; else a=amd64; fi`,
          '  printf \'P\\tlib-package-%s\\t1:%s.0+dfsg-1\\t%s\\n\' $i $i "$a"; i=$((i+1))',
          'done',
        ].join('\n'),
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
      // The native architecture was refused, so every well-formed package architecture is written.
      expect(report).not.toHaveProperty('arch');
      expect(report.packages.slice(0, 4)).toEqual([
        ['lib-package-0', '1:0.0+dfsg-1', 'all'],
        ['lib-package-1', '1:1.0+dfsg-1', 'amd64'],
        ['lib-package-2', '1:2.0+dfsg-1'],
        ['lib-package-3', '1:3.0+dfsg-1', 'amd64'],
      ]);
      expect(report.packages.length).toBeGreaterThan(50);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
