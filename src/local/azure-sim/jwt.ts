/** Minimal JWT helpers for the simulated Entra: RS256/PS256 signing and verification. */
import {
  createHash,
  createPublicKey,
  createSign,
  createVerify,
  constants,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';

export function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null)
      return undefined;
    return {
      header: header as Record<string, unknown>,
      payload: payload as Record<string, unknown>,
      signingInput: `${h}.${p}`,
      signature: Buffer.from(s, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

export function signRs256(payload: Record<string, unknown>, privateKeyPem: string, kid: string): string {
  const header = { typ: 'JWT', alg: 'RS256', kid };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signer = createSign('RSA-SHA256');
  signer.update(signingInput);
  return `${signingInput}.${signer.sign(privateKeyPem).toString('base64url')}`;
}

/** Verifies RS256 or PS256 signatures with the given public key. */
export function verifySignature(jwt: DecodedJwt, key: KeyObject | string): boolean {
  const alg = jwt.header.alg;
  try {
    if (alg === 'RS256') {
      const v = createVerify('RSA-SHA256');
      v.update(jwt.signingInput);
      return v.verify(key, jwt.signature);
    }
    if (alg === 'PS256') {
      const v = createVerify('RSA-SHA256');
      v.update(jwt.signingInput);
      return v.verify(
        {
          key: key as KeyObject,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        },
        jwt.signature,
      );
    }
  } catch {
    return false;
  }
  return false;
}

export interface CertInfo {
  pem: string;
  publicKey: KeyObject;
  /** base64url SHA-256 thumbprint of the DER certificate (x5t#S256). */
  x5tS256: string;
  /** base64url SHA-1 thumbprint (x5t). */
  x5t: string;
}

export function certInfo(pem: string): CertInfo {
  const cert = new X509Certificate(pem);
  return {
    pem,
    publicKey: createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })),
    x5tS256: createHash('sha256').update(cert.raw).digest('base64url'),
    x5t: createHash('sha1').update(cert.raw).digest('base64url'),
  };
}
