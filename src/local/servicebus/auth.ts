/**
 * Claims-based security of the local Service Bus peer: what Service Bus checks on a CBS put-token
 * and on a link attach, with the answers it gives. Sources (facts, not text, except Service Bus's
 * own error texts, which the refusals must carry):
 * - SAS token format and signature: HMAC-SHA256 over `<url-encoded resource URI>\n<expiry>`, with
 *   `sr`, `sig`, `se`, `skn` (Microsoft docs "Service Bus access control with Shared Access
 *   Signatures"); a token for a URI grants access to that URI and everything below it (same doc:
 *   a namespace-level token covers every entity).
 * - put-token failures answer `status-code` 401 with `InvalidSignature: The token has an invalid
 *   signature.` (Azure/azure-sdk-for-java#30723, sandrinodimattia/RedDog#4), `ExpiredToken: The
 *   token is expired. Expiration time: '<utc>'` (Azure/azure-sdk-for-python#23487,
 *   Azure/azure-service-bus-java#354) and `InvalidAudience: Invalid authorization token audience.`
 *   (Azure/azure-sdk-for-js#26360, MicrosoftDocs/azure-docs#19707).
 * - A link to an entity without a valid token is detached with `amqp:unauthorized-access` and
 *   `Unauthorized access. '<Send|Listen>' claim(s) are required to perform this operation.
 *   Resource: '<uri>'.` (ppatierno/azuresblite#2, Azure/azure-sdk-for-python#23487). The access
 *   check happens when the link is attached (clemensv in Azure/azure-service-bus-dotnet#357), and
 *   before the entity's existence is checked (jsquire in Azure/azure-sdk-for-net#44734).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SAS_TOKEN_TYPE = 'servicebus.windows.net:sastoken';

/** The rights a key grants; the peer's one key is RootManageSharedAccessKey, which has all three. */
export type Claim = 'Send' | 'Listen' | 'Manage';

export type PutTokenResult =
  { ok: true; path: string; expiresAtMs: number } | { ok: false; status: 401 | 400; description: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `sb://host[:port]/a/b` (or http/https/amqps: Service Bus accepts any scheme in `sr`) →
 * `{ host, port, path: 'a/b' }`, lower-cased as Service Bus compares them.
 */
function parseResource(uri: string): { host: string; port: string; path: string } | undefined {
  const match = /^(?:sb|https?|amqps?):\/\/([^/:]+)(?::(\d+))?(\/.*)?$/i.exec(uri.trim());
  if (!match) return undefined;
  return {
    host: (match[1] ?? '').toLowerCase(),
    port: match[2] ?? '',
    path: (match[3] ?? '').replace(/^\/+|\/+$/g, '').toLowerCase(),
  };
}

/** Whether a token for `scope` grants access to `path` (itself or anything below it). */
export function covers(scope: string, path: string): boolean {
  const p = path.replace(/^\/+|\/+$/g, '').toLowerCase();
  return scope === '' || p === scope || p.startsWith(`${scope}/`);
}

/** Service Bus writes the expiry as `yyyy-MM-dd HH:mm:ssZ`. */
function utc(seconds: number): string {
  return `${new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

const INVALID_SIGNATURE = 'InvalidSignature: The token has an invalid signature.';
const INVALID_AUDIENCE = 'InvalidAudience: Invalid authorization token audience.';

/**
 * Checks a CBS put-token request: `name` is the audience the client asks access for (the entity
 * URI), `token` its SAS token. On success the token's scope (a path below the namespace) and
 * expiry are returned; the peer then allows links inside that scope until the expiry.
 */
export function checkPutToken(
  request: { type: unknown; name: unknown; token: unknown },
  key: { name: string; key: string },
  namespace: { port: number },
  nowMs: number,
): PutTokenResult {
  if (request.type !== SAS_TOKEN_TYPE)
    // Entra ID (jwt) tokens cannot be checked without Entra: the local peer takes SAS only.
    return {
      ok: false,
      status: 401,
      description: `The local Service Bus peer accepts only SAS tokens (${SAS_TOKEN_TYPE}), not '${String(request.type)}'.`,
    };
  const fields = new URLSearchParams(String(request.token).replace(/^SharedAccessSignature\s+/, ''));
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn || !/^\d+$/.test(se))
    return { ok: false, status: 401, description: INVALID_SIGNATURE };
  // Signature first: a token we did not sign says nothing about audience or expiry.
  const expected = createHmac('sha256', key.key)
    .update(`${encodeURIComponent(sr)}\n${se}`)
    .digest();
  const given = Buffer.from(sig, 'base64');
  if (skn !== key.name || given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, status: 401, description: INVALID_SIGNATURE };
  const expiry = Number(se);
  if (expiry * 1000 <= nowMs)
    return {
      ok: false,
      status: 401,
      description: `ExpiredToken: The token is expired. Expiration time: '${utc(expiry)}'`,
    };
  const scope = parseResource(sr);
  const audience = parseResource(String(request.name));
  const onThisNamespace = (r: { host: string; port: string }) =>
    LOOPBACK.has(r.host) && (r.port === '' || Number(r.port) === namespace.port);
  if (
    scope === undefined ||
    audience === undefined ||
    !onThisNamespace(scope) ||
    !onThisNamespace(audience) ||
    !covers(scope.path, audience.path)
  )
    return { ok: false, status: 401, description: INVALID_AUDIENCE };
  return { ok: true, path: audience.path, expiresAtMs: expiry * 1000 };
}

/** Tokens a connection has put, by the path they grant. */
export class ConnectionClaims {
  private readonly grants = new Map<string, number>();

  add(path: string, expiresAtMs: number): void {
    this.grants.set(path, Math.max(expiresAtMs, this.grants.get(path) ?? 0));
  }

  /** Whether a link to `address` may attach now. */
  allows(address: string, nowMs: number): boolean {
    for (const [scope, expiresAtMs] of this.grants)
      if (expiresAtMs > nowMs && covers(scope, address)) return true;
    return false;
  }
}

/** Service Bus's refusal of a link attached without a valid token for its entity. */
export function unauthorizedLink(
  claim: Claim,
  address: string,
  port: number,
): { condition: string; description: string } {
  return {
    condition: 'amqp:unauthorized-access',
    description: `Unauthorized access. '${claim}' claim(s) are required to perform this operation. Resource: 'sb://127.0.0.1:${port}/${address.replace(/^\/+/, '').toLowerCase()}'.`,
  };
}
