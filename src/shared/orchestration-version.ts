/**
 * Orchestration versions (host.json `durableTask.defaultVersion`, `context.df.version`) and how
 * the Durable runtime orders them — "Orchestration versioning in Durable Functions"
 * (learn.microsoft.com), "Version comparison rules": empty versions are equal; an empty version is
 * older than any other; two System.Version strings (2–4 dot-separated non-negative integers)
 * compare numerically, a missing component counting lower than 0 (System.Version.CompareTo);
 * otherwise a case-insensitive string comparison. Pure: used inside orchestrations.
 */
export function compareVersions(a: string | undefined | null, b: string | undefined | null): number {
  const left = a ?? '';
  const right = b ?? '';
  if (left === '' && right === '') return 0;
  if (left === '') return -1;
  if (right === '') return 1;
  const x = systemVersion(left);
  const y = systemVersion(right);
  if (x !== undefined && y !== undefined) {
    for (let i = 0; i < 4; i++) {
      const diff = (x[i] ?? -1) - (y[i] ?? -1);
      if (diff !== 0) return Math.sign(diff);
    }
    return 0;
  }
  const l = left.toLowerCase();
  const r = right.toLowerCase();
  return l < r ? -1 : l > r ? 1 : 0;
}

/**
 * Every replay of every orchestration asks again (a wait's loop asks per poll), for the handful of
 * versions a host ever sees: each text is parsed once.
 */
const parsedVersions = new Map<string, readonly number[] | undefined>();
const PARSED_VERSIONS_MAX = 256;

function systemVersion(text: string): readonly number[] | undefined {
  if (parsedVersions.has(text)) return parsedVersions.get(text);
  const parsed = /^\d+(\.\d+){1,3}$/.test(text) ? Object.freeze(text.split('.').map(Number)) : undefined;
  if (parsedVersions.size >= PARSED_VERSIONS_MAX) parsedVersions.clear();
  parsedVersions.set(text, parsed);
  return parsed;
}

/**
 * True when the instance started on `release` or later. Orchestrators branch on it where a release
 * changes the sequence of actions, so an instance keeps the steps of the version it started on
 * (an instance from before versioning has no version and takes the oldest path).
 */
export function sinceVersion(context: { df: { version?: string | undefined } }, release: string): boolean {
  return compareVersions(context.df.version, release) >= 0;
}
