/** Small deterministic helpers: seeded PRNG, GUIDs, redaction. */

/** mulberry32: tiny, fast, seeded PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function guidFrom(rand: () => number): string {
  const hex: string[] = [];
  for (let i = 0; i < 32; i++) hex.push(Math.floor(rand() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const SECRET_KEY = /(password|secret|token|key|customdata|protectedsettings|sas|signature|assertion)$/i;

/** Deep copy with values of secret-looking keys replaced (for the requests() log). */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEY.test(k) && typeof v === 'string' ? '***' : redact(v);
    }
    return out;
  }
  return value;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function eqi(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** Splits an ARM id into segments, e.g. ["subscriptions", "s", "resourceGroups", "rg", …]. */
export function idSegments(id: string): string[] {
  return id.split('/').filter((s) => s.length > 0);
}

/** Parses /subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}]… */
export function parseResourceId(
  id: string,
): { subscriptionId: string; resourceGroup: string; type: string; name: string } | undefined {
  const seg = idSegments(id);
  if (
    seg.length < 8 ||
    seg[0]?.toLowerCase() !== 'subscriptions' ||
    seg[2]?.toLowerCase() !== 'resourcegroups' ||
    seg[4]?.toLowerCase() !== 'providers'
  )
    return undefined;
  const rest = seg.slice(6);
  if (rest.length % 2 !== 0) return undefined;
  const types: string[] = [];
  let name = '';
  for (let i = 0; i < rest.length; i += 2) {
    types.push(rest[i] ?? '');
    name = rest[i + 1] ?? '';
  }
  return {
    subscriptionId: seg[1] ?? '',
    resourceGroup: seg[3] ?? '',
    type: `${seg[5] ?? ''}/${types.join('/')}`,
    name,
  };
}
