/**
 * Who is asking, for the audit (`requestedBy`) and the rate limit.
 *
 * The `x-ms-client-principal-*` headers are the platform's only where App Service authentication
 * (Easy Auth) runs in front of the app: it strips what a client sent and sets its own. Without it
 * any caller can send them, so they are believed only when the setting API_EASY_AUTH says so.
 * Otherwise the caller is the function key it presented. The Node worker is not given the host's
 * key-id claim, so the key is named by a fingerprint (first 12 hex digits of its SHA-256): stable,
 * not a secret, and the key's owner can compute it (docs/security.md).
 */
import { createHash } from 'node:crypto';
import type { ApiRequest } from './builds-api';

export interface Caller {
  /** `user:<principal name>`, `key:<fingerprint>` or `anonymous`. Never contains a secret. */
  id: string;
  /** What the audit records as requestedBy. */
  audit: string;
}

export const keyFingerprint = (key: string): string =>
  createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 12);

/** A principal name as the audit shows it: printable, bounded. */
const PRINCIPAL = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;

export function callerOf(request: ApiRequest, trustEasyAuth: boolean): Caller {
  const principal = request.headers['x-ms-client-principal-name'];
  if (trustEasyAuth && principal !== undefined && PRINCIPAL.test(principal))
    return { id: `user:${principal.toLowerCase()}`, audit: principal };
  const key = request.headers['x-functions-key'] ?? request.query.code;
  if (key !== undefined && key !== '') {
    const name = `key:${keyFingerprint(key)}`;
    return { id: name, audit: name };
  }
  return { id: 'anonymous', audit: 'anonymous' };
}
