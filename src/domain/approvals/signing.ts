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

/** App Service passes this text itself when it cannot resolve a Key Vault reference (platform-facts). */
const KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

/**
 * APPROVAL_SIGNING_KEY (or _PREVIOUS): `base64:<base64 of the key bytes>` or plain text (its UTF-8
 * bytes). At least 32 bytes. `requireBase64` (hosted on App Service): only `base64:` is accepted, so
 * the key is random bytes rather than a typed phrase. The error names the setting, never the value.
 */
export function parseSigningKey(
  setting: string,
  options: { name?: string; requireBase64?: boolean } = {},
): Buffer {
  const name = options.name ?? 'APPROVAL_SIGNING_KEY';
  if (KEY_VAULT_REFERENCE.test(setting))
    throw new Error(
      `${name}: is an unresolved Key Vault reference: App Service passes the literal "@Microsoft.KeyVault(…)" text when it cannot resolve the reference (secret missing, or the app's identity may not read it); that text is guessable, so it is never used as a key — fix the reference (its status is shown under the app's Environment variables) and restart`,
    );
  const base64 = /^base64:(.*)$/s.exec(setting.trim());
  let key: Buffer;
  if (base64) {
    const encoded = (base64[1] ?? '').trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
      throw new Error(`${name}: "base64:" is not followed by valid base64`);
    key = Buffer.from(encoded, 'base64');
  } else {
    if (options.requireBase64 === true)
      throw new Error(
        `${name}: outside local runs the key must be "base64:<at least 32 random bytes, base64>" (e.g. openssl rand -base64 32), not text`,
      );
    key = Buffer.from(setting, 'utf8');
  }
  if (key.length < 32) throw new Error(`${name}: too short (${key.length} bytes; at least 32 are required)`);
  return key;
}

/**
 * The keys a signature may be made with: the current one, and during a rotation the previous one
 * until the stated end of the overlap (APPROVAL_SIGNING_KEY_PREVIOUS / _PREVIOUS_UNTIL).
 */
export interface SigningKeys {
  current: Buffer;
  previous?: { key: Buffer; until: string };
}

export function asSigningKeys(keys: Buffer | SigningKeys): SigningKeys {
  return Buffer.isBuffer(keys) ? { current: keys } : keys;
}

/** Which key generation a signature was made with; `previous-expired` is refused like `none`. */
export type SignatureMatch =
  | { generation: 'current'; accepted: true }
  | { generation: 'previous'; accepted: true; until: string }
  | { generation: 'previous-expired'; accepted: false; until: string }
  | { generation: 'none'; accepted: false };

/**
 * The one rule both the trigger and the build's re-check (verifyApprovalDecision) apply, so they
 * agree: the current key always; the previous key only while `atIso` ≤ its `until`.
 */
export function matchSignature(
  keys: Buffer | SigningKeys,
  id: string,
  data: unknown,
  signature: string,
  atIso: string,
): SignatureMatch {
  const { current, previous } = asSigningKeys(keys);
  if (verifyDecisionSignature(current, id, data, signature)) return { generation: 'current', accepted: true };
  if (previous !== undefined && verifyDecisionSignature(previous.key, id, data, signature))
    return Date.parse(atIso) <= Date.parse(previous.until)
      ? { generation: 'previous', accepted: true, until: previous.until }
      : { generation: 'previous-expired', accepted: false, until: previous.until };
  return { generation: 'none', accepted: false };
}

/** Words for logs and refusals (no key material). */
export function describeMatch(match: SignatureMatch): string {
  switch (match.generation) {
    case 'current':
      return 'signed with the current key';
    case 'previous':
      return `signed with the previous key (accepted until ${match.until})`;
    case 'previous-expired':
      return `signed with the previous key, whose overlap ended at ${match.until}`;
    case 'none':
      return 'matches no configured key';
  }
}
