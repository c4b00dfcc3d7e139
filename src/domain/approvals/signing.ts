/**
 * Decision signatures: HMAC-SHA256 with a key shared between Image Factory and release management.
 *
 * Canonical form (what is signed), exactly:
 *   UTF-8 bytes of JSON.stringify({ "data": <data>, "id": <event id> }) where every object's keys are
 *   sorted by UTF-16 code unit order (Array.prototype.sort), at every depth, with no whitespace and
 *   JSON.stringify's escaping. Absent optional fields are absent (not null).
 * Example: {"data":{"approver":"jane","buildId":"b1",…},"id":"3f…"}
 * Carried in the CloudEvents extension attributes `sigalg` = "hmac-sha256" and `signature` =
 * base64(HMAC-SHA256(key, canonical)). Comparison is constant-time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function canonicalDecision(id: string, data: unknown): string {
  return canonicalJson({ data, id });
}

export function signDecision(key: Buffer, id: string, data: unknown): string {
  return createHmac('sha256', key).update(canonicalDecision(id, data), 'utf8').digest('base64');
}

export function verifyDecisionSignature(key: Buffer, id: string, data: unknown, signature: string): boolean {
  const expected = createHmac('sha256', key).update(canonicalDecision(id, data), 'utf8').digest();
  const given = Buffer.from(signature, 'base64');
  // Lengths are public (always 32 for a well-formed signature); the content comparison is constant-time.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * APPROVAL_SIGNING_KEY: `base64:<base64 of the key bytes>` or plain text (its UTF-8 bytes).
 * At least 32 bytes. The error never contains the value.
 */
export function parseSigningKey(setting: string): Buffer {
  const base64 = /^base64:(.*)$/s.exec(setting.trim());
  let key: Buffer;
  if (base64) {
    const encoded = (base64[1] ?? '').trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
      throw new Error('APPROVAL_SIGNING_KEY: "base64:" is not followed by valid base64');
    key = Buffer.from(encoded, 'base64');
  } else {
    key = Buffer.from(setting, 'utf8');
  }
  if (key.length < 32)
    throw new Error(`APPROVAL_SIGNING_KEY: too short (${key.length} bytes; at least 32 are required)`);
  return key;
}
