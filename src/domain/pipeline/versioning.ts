/** Pure (used inside orchestrations): no clock, no I/O. */
/**
 * Gallery versions are Major.Minor.Patch of int32s: yyyy.MMddHH.mmssNNNNN — the build's start (UTC)
 * and five digits of the build id's hash, so builds started in the same second get different
 * versions (two of 100 simultaneous builds of one pipeline collide with ~5% probability; a
 * collision fails that build's distribution and never touches the other build's version).
 */
export function imageVersionFor(startedAt: Date, buildId = ''): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const minor = Number(
    `${pad(startedAt.getUTCMonth() + 1)}${pad(startedAt.getUTCDate())}${pad(startedAt.getUTCHours())}`,
  );
  const buildDigits = String(parseInt(shortHash(buildId), 16) % 100_000).padStart(5, '0');
  const patch = Number(`${pad(startedAt.getUTCMinutes())}${pad(startedAt.getUTCSeconds())}${buildDigits}`);
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
