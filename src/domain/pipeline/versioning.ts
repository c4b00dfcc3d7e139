/** Pure (used inside orchestrations): no clock, no I/O. */
/**
 * Gallery versions are Major.Minor.Patch of int32s: yyyy.MMdd.HHmmssNNN — the build's start (UTC)
 * plus three digits of the build id's hash, so builds started in the same second get different versions.
 */
export function imageVersionFor(startedAt: Date, buildId = ''): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const minor = Number(`${pad(startedAt.getUTCMonth() + 1)}${pad(startedAt.getUTCDate())}`);
  const buildDigits = String(parseInt(shortHash(buildId), 16) % 1000).padStart(3, '0');
  const patch = Number(
    `${pad(startedAt.getUTCHours())}${pad(startedAt.getUTCMinutes())}${pad(startedAt.getUTCSeconds())}${buildDigits}`,
  );
  return `${startedAt.getUTCFullYear()}.${minor}.${patch}`;
}

/** FNV-1a, 8 hex chars: short deterministic names (e.g. test VMs) without crypto in orchestrations. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
