/**
 * The response headers every API answer carries, in one place. Pages get a fresh nonce per
 * response: their Content-Security-Policy allows only the <script>/<style> elements that carry it
 * (so text the page shows can never run or restyle it) and forbids framing (clickjacking). JSON is
 * never sniffed into HTML and never cached (it may name approvers and keys' fingerprints).
 *
 * Contract for page renderers: take a `nonce` argument and put `nonce="<nonce>"` on every
 * <script> and <style> element; inline `style=`/`on*=` attributes are not allowed by the policy.
 */
import { randomBytes } from 'node:crypto';

/** 128 random bits, base64 (CSP3: a nonce should be at least 128 bits, generated per response). */
export const newNonce = (): string => randomBytes(16).toString('base64');

const COMMON = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
} as const;

export function jsonSecurityHeaders(): Record<string, string> {
  return { ...COMMON };
}

export function pageSecurityHeaders(nonce: string): Record<string, string> {
  return {
    ...COMMON,
    'content-type': 'text/html; charset=utf-8',
    // The page fetches nothing but this API (connect-src 'self').
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      // The favicon is a data: URL; the chart draws on a canvas (no images fetched elsewhere).
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
}

/** Adds the JSON headers to an answer that has a JSON body (problems included); pages set their own. */
export function withSecurityHeaders<T extends { headers?: Record<string, string>; jsonBody?: unknown }>(
  response: T,
): T {
  if (response.jsonBody === undefined) return response;
  return { ...response, headers: { ...jsonSecurityHeaders(), ...response.headers } };
}
