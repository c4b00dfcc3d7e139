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
