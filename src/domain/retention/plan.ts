/**
 * Retention for one image definition in one tenant's gallery (issue 18, item 2): a pure plan the
 * retention job carries out (or shows as a dry run). Rules:
 * - keep the newest `keepNewest` versions (by version number: Major.Minor.Patch, numerically);
 * - never touch the version that is latest (the newest not excluded from latest: what a VM created
 *   from the definition gets) nor the last good one (newest whose tests passed and not revoked);
 * - an older version without an end of life gets `endOfLifeDate` = now;
 * - a version whose end of life is at least `graceDays` ago is deleted, unless it is in use (VMs or
 *   scale sets reference it; the caller asks Azure Resource Graph): then it is skipped and reported.
 */
import { FactoryError } from '../../shared/errors';

export interface RetentionPolicy {
  /** How many of the newest versions stay untouched, 1–100. */
  keepNewest: number;
  /** Days between end of life and deletion, 0–3650. */
  graceDays: number;
}

export interface RetainedVersion {
  /** ARM resource id of the version (its last segment is the version number). */
  id: string;
  excludeFromLatest: boolean;
  endOfLifeDate?: string;
  tags: Record<string, string>;
}

export type RetentionAction =
  | { kind: 'keep'; id: string; why: 'newest' | 'latest' | 'lastGood' | 'inGrace' }
  | { kind: 'setEndOfLife'; id: string; endOfLifeDate: string }
  | { kind: 'delete'; id: string; endOfLifeDate: string }
  | { kind: 'skipInUse'; id: string; endOfLifeDate: string; usedBy: string[] };

const DAY_MS = 24 * 60 * 60 * 1000;

/** Refuses a policy that would delete too much or make no sense, naming every problem. */
export function checkRetentionPolicy(policy: RetentionPolicy): RetentionPolicy {
  const problems: string[] = [];
  if (!Number.isInteger(policy.keepNewest) || policy.keepNewest < 1 || policy.keepNewest > 100)
    problems.push(`keepNewest must be a whole number from 1 to 100 (got ${String(policy.keepNewest)})`);
  if (!Number.isInteger(policy.graceDays) || policy.graceDays < 0 || policy.graceDays > 3650)
    problems.push(`graceDays must be a whole number from 0 to 3650 (got ${String(policy.graceDays)})`);
  if (problems.length > 0)
    throw new FactoryError('InvalidRetentionPolicy', `Retention policy refused: ${problems.join('; ')}`, {
      details: { problems },
    });
  return policy;
}

const versionOf = (id: string) => id.split('/').pop() ?? '';

/** Descending by version number, part by part (2026.1110.10 after 2026.1110.9). */
export function newestFirst<T extends { id: string }>(versions: T[]): T[] {
  const parts = (v: T) => versionOf(v.id).split('.').map(Number);
  return [...versions].sort((a, b) => {
    const pa = parts(a);
    const pb = parts(b);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const d = (pb[i] ?? 0) - (pa[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  });
}

const passed = (v: RetainedVersion) =>
  (v.tags['imagefactory.testResult'] ?? '').startsWith('passed') &&
  v.tags['imagefactory.revoked'] === undefined;

export function planRetention(args: {
  versions: RetainedVersion[];
  policy: RetentionPolicy;
  /** ISO time of the run. */
  now: string;
  /** Version id (lower case) → resources using it (VMs, scale sets). */
  inUse: Map<string, string[]>;
}): RetentionAction[] {
  const policy = checkRetentionPolicy(args.policy);
  const now = Date.parse(args.now);
  if (Number.isNaN(now))
    throw new FactoryError('InvalidRetentionRun', `now must be an ISO 8601 time (got '${args.now}')`);
  const ordered = newestFirst(args.versions);
  const latest = ordered.find((v) => !v.excludeFromLatest);
  const lastGood = ordered.find(passed);
  return ordered.map((v, index): RetentionAction => {
    if (index < policy.keepNewest) return { kind: 'keep', id: v.id, why: 'newest' };
    if (v === latest) return { kind: 'keep', id: v.id, why: 'latest' };
    if (v === lastGood) return { kind: 'keep', id: v.id, why: 'lastGood' };
    const eol = v.endOfLifeDate === undefined ? undefined : Date.parse(v.endOfLifeDate);
    if (eol === undefined || Number.isNaN(eol) || eol > now)
      return { kind: 'setEndOfLife', id: v.id, endOfLifeDate: new Date(now).toISOString() };
    const endOfLifeDate = new Date(eol).toISOString();
    if (now - eol < policy.graceDays * DAY_MS) return { kind: 'keep', id: v.id, why: 'inGrace' };
    const usedBy = args.inUse.get(v.id.toLowerCase()) ?? [];
    return usedBy.length > 0
      ? { kind: 'skipInUse', id: v.id, endOfLifeDate, usedBy }
      : { kind: 'delete', id: v.id, endOfLifeDate };
  });
}
