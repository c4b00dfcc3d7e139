/**
 * The inventory customizer and its reading from customization.log (build-inventory.ts). On a dpkg
 * machine the real Shell customizer runs with sh -e (as Packer's shell provisioner runs inline
 * commands), its lines get customization.log's prefix, and the parse gives every package: more
 * than Run Command's 4,096-byte tail could carry. Logs without the inventory, cut or garbled, are
 * refused with a reason (the build then keeps the gate's list).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inventoryCustomizer, parseInventoryLog } from '../../src/domain/pipeline/build-inventory';
import type { GateReport } from '../../src/domain/pipeline/security-gate';

const onDpkg = existsSync('/usr/bin/dpkg-query') && existsSync('/usr/bin/dpkg');
const prefix = (lines: string[]) =>
  lines.map((l) => `[7c76dfdb-9e98-4b61-9359-0638f1e04261] PACKER OUT     azure-arm: ${l}`).join('\n');

describe('the build inventory from customization.log', () => {
  (onDpkg ? it : it.skip)('on this machine: the Shell customizer lists every dpkg package', () => {
    const customizer = inventoryCustomizer('Linux');
    const inline = 'inline' in customizer ? (customizer.inline ?? []) : [];
    const out = execFileSync('sh', ['-e', '-c', inline.join('\n')], { encoding: 'utf8' });
    const log = `[x] PACKER OUT ==> azure-arm: Provisioning with shell script\n${prefix(out.trimEnd().split('\n'))}\n[x] PACKER OUT ==> azure-arm: Deleting VM\n`;
    const report = parseInventoryLog(log, 'Linux') as GateReport;
    const count = execFileSync('dpkg-query', ['-W', '-f=.\\n'], { encoding: 'utf8' })
      .trim()
      .split('\n').length;
    expect(report).toMatchObject({ os: 'Linux', truncated: false, packageCount: count });
    expect(report.packages).toHaveLength(count);
    expect(report.arch).toBe(execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim());
    expect(Buffer.byteLength(JSON.stringify(report.packages))).toBeGreaterThan(4096);
  });

  it('reads prefixed, duplicated lines; keeps foreign and "all" architectures only', () => {
    const lines = [
      'ifinv:begin',
      'ifinv:O\tubuntu\tjammy\tamd64',
      'ifinv:P\t1\tbash\t5.1-6ubuntu1.1\tamd64',
      'ifinv:P\t2\ttzdata\t2024a-0ubuntu0.22.04\tall',
      'ifinv:P\t2\ttzdata\t2024a-0ubuntu0.22.04\tall',
      'ifinv:P\t3\tlibc6\t2.35-0ubuntu3.8\ti386',
      'ifinv:end\t3',
    ];
    expect(parseInventoryLog(prefix(lines), 'Linux')).toEqual({
      v: 1,
      os: 'Linux',
      vendor: 'ubuntu',
      codename: 'jammy',
      arch: 'amd64',
      counts: {},
      packageCount: 3,
      updates: [],
      packages: [
        ['bash', '5.1-6ubuntu1.1'],
        ['tzdata', '2024a-0ubuntu0.22.04', 'all'],
        ['libc6', '2.35-0ubuntu3.8', 'i386'],
      ],
      truncated: false,
    });
  });

  it.each([
    ['no inventory', ['==> azure-arm: Build started'], /holds no inventory/],
    ['a cut log', ['ifinv:begin', 'ifinv:P\t1\tbash\t5.1'], /no end line/],
    [
      'a missing entry',
      ['ifinv:begin', 'ifinv:P\t1\tbash\t5.1', 'ifinv:end\t2'],
      /lists 1 packages but its end line says 2/,
    ],
    ['garbage', ['ifinv:begin', 'ifinv:P\tx\t\t', 'ifinv:end\t1'], /malformed entry/],
  ])('refuses %s with a reason', (_, lines, reason) => {
    const report = parseInventoryLog(prefix(lines), 'Linux');
    expect(report).toEqual({ error: expect.stringMatching(reason) as string });
  });
});
