/**
 * `watch`: follows a build by polling GET /api/builds/{id}. On a terminal, one live line per step
 * (rewritten in place, with a bar for replication progress); elsewhere (a pipe, a CI log) a plain
 * line whenever the step, stage or message changes. Ends with the outcome.
 */
import type { BuildCustomStatus, StageStatus } from '../domain/build-status';
import { humanDuration, OUTCOME_WORDS, STEP_WORDS, wordFor } from '../api/words';
import type { FactoryApi } from './factory-api';

export interface Output {
  write(text: string): void;
  isTTY: boolean;
}

type BuildAnswer = Partial<BuildCustomStatus> & {
  id: string;
  runtimeStatus: string;
  stages: StageStatus[];
  createdTime?: string;
  lastUpdatedTime?: string;
};

export function bar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.round(f * 100)).padStart(3)}%`;
}

const localTime = (iso: string | undefined) =>
  iso ? new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : '';

/** The step's line without timing: what it does, where, and the bar when there is one. */
export function stepLine(build: BuildAnswer): { key: string; text: string; fraction?: number } {
  const stage = build.stages.find((s) => s.name === build.currentStage);
  const where = build.currentStage ? ` [${build.currentStage}]` : '';
  const step = wordFor(STEP_WORDS, build.step ?? 'queued');
  const key = `${build.step ?? ''}|${build.currentStage ?? ''}`;
  if (build.step === 'approve' && build.pendingApproval)
    return {
      key,
      text: `${step}${where}: request ${build.pendingApproval.requestId}, deadline ${localTime(build.pendingApproval.deadline)}; answer with npm run factory -- approve ${build.id} ${build.pendingApproval.stage} --ticket <CHG…>`,
    };
  // Region progress is the copy's; while testing or when done the bar would say nothing new.
  const regions = build.step === 'promote' ? (stage?.regions ?? []) : [];
  if (regions.length > 0) {
    const fraction = regions.reduce((sum, r) => sum + r.progress, 0) / (100 * regions.length);
    return {
      key,
      text: `${step}${where}: ${regions.map((r) => `${r.name} ${r.progress}%`).join(', ')}`,
      fraction,
    };
  }
  return { key, text: `${step}${where}${build.message ? `: ${build.message}` : ''}` };
}

const SPIN = ['|', '/', '-', '\\'];

export async function watchBuild(
  api: FactoryApi,
  id: string,
  out: Output,
  options: { pollMs?: number; now?: () => number } = {},
): Promise<number> {
  const now = options.now ?? Date.now;
  const path = `/api/builds/${encodeURIComponent(id)}`;
  let current: { key: string; since: number; plain: string } | undefined;
  let tick = 0;
  for (;;) {
    const build = (await api.get(path)) as BuildAnswer;
    const finished =
      build.outcome !== undefined &&
      build.outcome !== 'running' &&
      !['Running', 'Pending'].includes(build.runtimeStatus);
    const line = stepLine(build);
    const plain = line.text + (line.fraction === undefined ? '' : ` ${Math.floor(line.fraction * 4) * 25}%`);
    if (current === undefined || current.key !== line.key) {
      if (current !== undefined && out.isTTY) out.write(` (${humanDuration(now() - current.since)})\n`);
      current = { key: line.key, since: now(), plain: '' };
    }
    if (out.isTTY) {
      const elapsed = humanDuration(now() - current.since);
      const progress = line.fraction === undefined ? '' : ` ${bar(line.fraction)}`;
      // \r + erase line: the step's line is rewritten in place until the step changes.
      out.write(
        `\r\x1b[K${finished ? ' ' : SPIN[tick++ % SPIN.length]} ${line.text}${progress} · ${elapsed}`,
      );
    } else if (current.plain !== plain) {
      out.write(`${new Date(now()).toISOString().slice(11, 19)} ${plain}\n`);
      current.plain = plain;
    }
    if (finished) {
      if (out.isTTY) out.write('\n');
      const outcome = wordFor(OUTCOME_WORDS, build.outcome);
      const took =
        build.createdTime && build.lastUpdatedTime
          ? ` (factory time ${humanDuration(Date.parse(build.lastUpdatedTime) - Date.parse(build.createdTime))})`
          : '';
      const detail =
        build.outcome === 'succeeded'
          ? (build.message ?? '')
          : build.failure
            ? `${build.failure.code}: ${build.failure.message.split('\n')[0]}`
            : (build.message ?? '');
      out.write(`build ${id} ${outcome}${took}${detail ? `: ${detail}` : ''}\n`);
      return build.outcome === 'succeeded' ? 0 : 1;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}
