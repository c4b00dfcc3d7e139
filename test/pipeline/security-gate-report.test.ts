/**
 * The security gate's report (pure): what the factory reads from the script's output, how the
 * simulator bounds its answer to Run Command's output tail, and how counts meet thresholds.
 */
import {
  evaluateGate,
  GATE_OUTPUT_LIMIT,
  parseGateOutput,
  type GateReport,
} from '../../src/domain/pipeline/security-gate';
import { gateReport } from '../../src/local/azure-sim/providers/security-gate-vm';

describe('security gate report', () => {
  it('a large inventory is cut to the byte budget, counts stay complete and the cut is said', () => {
    const packages = Array.from({ length: 900 }, (_, i): [string, string] => [
      `lib-package-${i}`,
      `1.${i}-1`,
    ]);
    const stdout = gateReport('Shell', { pending: [{ id: 'openssl', severity: 'unspecified' }], packages });
    expect(Buffer.byteLength(stdout)).toBeLessThanOrEqual(GATE_OUTPUT_LIMIT);
    const report = parseGateOutput(`${stdout}\n`) as GateReport;
    expect(report.packageCount).toBe(900);
    expect(report.truncated).toBe(true);
    expect(report.packages.length).toBeGreaterThan(50);
    expect(report.packages.length).toBeLessThan(900);
  });

  it('output that is not the report is refused with the reason, not guessed at', () => {
    expect(parseGateOutput('')).toEqual({ error: 'the security gate printed no JSON report' });
    expect(parseGateOutput('{"v":1,"os":"Linux","counts":{')).toEqual({
      error: 'the security gate report is not valid JSON (cut by the 4,096-byte output tail?)',
    });
    expect(parseGateOutput('{"v":2}')).toMatchObject({
      error: expect.stringMatching(/^the security gate report has an unexpected shape: /),
    });
  });

  it('vendor, codename and arch: read when well-formed, optional, and garbage refused with the field named', () => {
    const linux = (extra: string) =>
      parseGateOutput(
        `{"v":1,"os":"Linux"${extra},"counts":{"unspecified":0},"packageCount":0,"updates":[],"packages":[],"truncated":false}`,
      );
    expect(linux(',"vendor":"ubuntu","codename":"jammy","arch":"amd64"')).toMatchObject({
      vendor: 'ubuntu',
      codename: 'jammy',
      arch: 'amd64',
    });
    // os-release allows '.', '_' and '-' (e.g. ID=opensuse-leap); a report without them is an older script's.
    expect(linux(',"vendor":"my_distro.v2-x"')).toMatchObject({ vendor: 'my_distro.v2-x' });
    expect(linux('')).not.toHaveProperty('vendor');
    const refused = (field: string) => ({
      error: `the security gate report has an unexpected shape: ${field} must be 1 to 32 characters of a-z, 0-9, '.', '_', '-'`,
    });
    expect(linux(',"vendor":"Ubuntu"')).toEqual(refused('vendor'));
    expect(linux(',"vendor":"ubuntu/../x"')).toEqual(refused('vendor'));
    expect(linux(',"vendor":""')).toEqual(refused('vendor'));
    expect(linux(',"codename":"jammy jellyfish"')).toEqual(refused('codename'));
    expect(linux(`,"arch":"${'a'.repeat(33)}"`)).toEqual(refused('arch'));
    expect(linux(',"arch":"amd64?distro=x"')).toEqual(refused('arch'));
    const withPackage = (entry: string) =>
      parseGateOutput(
        `{"v":1,"os":"Linux","counts":{},"packageCount":1,"updates":[],"packages":[${entry}],"truncated":false}`,
      );
    expect(withPackage('["tzdata","2024a-1","all"]')).toMatchObject({
      packages: [['tzdata', '2024a-1', 'all']],
    });
    expect(withPackage('["tzdata","2024a-1","ALL"]')).toEqual(refused('a package architecture'));
    expect(withPackage('["tzdata","2024a-1","all","x"]')).toMatchObject({
      error: expect.stringMatching(/^the security gate report has an unexpected shape: /),
    });
    expect(linux(',"arch":64')).toMatchObject({
      error: expect.stringMatching(/^the security gate report has an unexpected shape: /),
    });
  });

  it('the simulated Ubuntu test VM answers as Ubuntu 22.04 on x64 does; Windows has none of these', () => {
    expect(parseGateOutput(gateReport('Shell', { pending: [], packages: [] }))).toMatchObject({
      vendor: 'ubuntu',
      codename: 'jammy',
      arch: 'amd64',
    });
    const windows = parseGateOutput(gateReport('PowerShell', { pending: [], packages: [] }));
    expect(windows).toMatchObject({ os: 'Windows' });
    expect(windows).not.toHaveProperty('vendor');
  });

  it('each threshold is checked on its own; equal to a threshold passes', () => {
    const report = parseGateOutput(
      gateReport('PowerShell', {
        pending: [
          { id: 'KB1', severity: 'important' },
          { id: 'KB2', severity: 'important' },
          { id: 'KB3', severity: 'low' },
        ],
        packages: [],
      }),
    ) as GateReport;
    expect(evaluateGate(report, { maxCritical: 0, maxImportant: 2, maxTotal: 3 })).toMatchObject({
      passed: true,
      exceeded: [],
      pending: { important: 2, low: 1, total: 3 },
    });
    expect(evaluateGate(report, { maxCritical: 0, maxImportant: 1, maxTotal: 2 }).exceeded).toEqual([
      'important 2 > 1',
      'total 3 > 2',
    ]);
  });
});
