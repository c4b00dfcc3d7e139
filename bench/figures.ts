/**
 * Figures a benchmark is judged by, kept in bench/figures.json (committed) so that every run prints
 * the new figure side by side with the one recorded before the change. `BENCH_RECORD=1` makes the
 * run's figures the recorded ones (commit the file with the change that moved them). Timing is never
 * asserted in tests; these are for people comparing two commits.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = join(__dirname, 'figures.json');

interface Recorded {
  value: number;
  unit: string;
  recordedAt: string;
  /** What the figure was measured on (the commit's change), written by whoever recorded it. */
  note?: string;
}

function load(): Record<string, Recorded> {
  try {
    return JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, Recorded>;
  } catch {
    return {};
  }
}

/** "12.3 ms (before: 45.6 ms, recorded 2026-12-06)"; records the figure when BENCH_RECORD=1. */
export function sideBySide(name: string, value: number, unit: string): string {
  const figures = load();
  const before = figures[name];
  if (process.env.BENCH_RECORD === '1') {
    figures[name] = {
      value: Number(value.toFixed(1)),
      unit,
      recordedAt: new Date().toISOString().slice(0, 10),
      ...(process.env.BENCH_NOTE ? { note: process.env.BENCH_NOTE } : {}),
    };
    writeFileSync(FILE, `${JSON.stringify(figures, null, 2)}\n`);
  }
  const show = (v: number, u: string) => `${Number.isInteger(v) ? v : v.toFixed(1)}${u ? ` ${u}` : ''}`;
  const now = show(value, unit);
  return before === undefined
    ? `${now} (no figure recorded before)`
    : `${now} (before: ${show(before.value, before.unit)}, recorded ${before.recordedAt}${before.note ? `, ${before.note}` : ''})`;
}
