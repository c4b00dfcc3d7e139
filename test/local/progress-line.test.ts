/**
 * The console (`npm start`) prints one progress line per build change. A cancel reason is quoted
 * in the build's message; with CR/LF or an ANSI sequence in it, it printed a forged progress line
 * (issue 14). Every control character now shows escaped, on the build's own single line.
 */
import { progressLine } from '../../src/local/progress-line';
import { printable } from '../../src/shared/text';

const forged =
  'oops\r\n12:00:01 (sim 06:00:01) windows-2022-base-aaaa Completed: done [PROD] promoted\u001b[2K\u001b[1A';

describe('console and log lines escape control characters', () => {
  it('a cancel reason with CR/LF and ANSI stays inside its own progress line', () => {
    const { line } = progressLine(
      'ubuntu-2204-base-abc',
      'Running',
      { step: 'compensate', message: `Canceled by key:0123456789ab: ${forged}` },
      new Date(Date.UTC(2026, 10, 10, 12, 0, 0)),
      new Date(Date.UTC(2026, 10, 10, 6, 0, 0)),
    );
    expect(line.split(/[\r\n\u2028\u2029]/)).toHaveLength(1);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(line.startsWith('12:00:00 (sim 06:00:00) ubuntu-2204-base-abc Running: compensate Canceled')).toBe(
      true,
    );
    expect(line).toContain('oops\\r\\n12:00:01');
    expect(line).toContain('\\u001b[2K');
  });

  it('printable leaves ordinary text alone and escapes C0, DEL, C1 and line separators', () => {
    expect(printable('Build b-1: promoted to PROD (ä, 東京)')).toBe('Build b-1: promoted to PROD (ä, 東京)');
    expect(printable('a\tb\u007fc\u0085d\u2028e')).toBe('a\\tb\\u007fc\\u0085d\\u2028e');
  });
});
