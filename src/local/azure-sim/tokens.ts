/**
 * Access tokens the simulated Entra and managed identity endpoint mint (RS256, v1 claims), and
 * their validation by ARM and Blob. Every token issued is recorded (issuedCredentials()).
 */

import type { Simulator } from './sim';
import { decodeJwt, signRs256, verifySignature } from './jwt';
import type { Claims } from './types';
import { str } from './util';

export function issueToken(
  sim: Simulator,
  args: {
    tid: string;
    oid: string;
    appid: string;
    aud: string;
    idtyp: 'app' | 'user';
    xmsMirid?: string;
  },
): string {
  const now = sim.clock.now();
  const iat = Math.floor(now / 1000);
  const token = signRs256(
    {
      aud: args.aud,
      iss: `https://sts.windows.net/${args.tid}/`,
      iat,
      nbf: iat,
      exp: Math.floor((now + sim.tokenLifetimeMs) / 1000),
      appid: args.appid,
      appidacr: '1',
      idp: `https://sts.windows.net/${args.tid}/`,
      idtyp: args.idtyp,
      oid: args.oid,
      sub: args.oid,
      tid: args.tid,
      ver: '1.0',
      ...(args.xmsMirid ? { xms_mirid: args.xmsMirid } : {}),
    },
    sim.signingKey.privateKey,
    sim.signingKey.kid,
  );
  sim.credentials.push({ kind: 'accessToken', value: token });
  return token;
}

/** Validates a token issued by this simulator; returns why not when invalid. */
export function validateToken(
  sim: Simulator,
  token: string,
  audiences: string[],
): { claims: Claims } | { error: 'invalid' | 'expired' | 'audience'; exp?: number; aud?: string } {
  const jwt = decodeJwt(token);
  if (!jwt || !verifySignature(jwt, sim.signingKey.publicKey)) return { error: 'invalid' };
  const p = jwt.payload;
  const claims: Claims = {
    tid: str(p.tid) ?? '',
    oid: str(p.oid) ?? '',
    appid: str(p.appid) ?? '',
    aud: str(p.aud) ?? '',
    exp: typeof p.exp === 'number' ? p.exp : 0,
    iss: str(p.iss) ?? '',
    sub: str(p.sub) ?? '',
  };
  if (claims.exp * 1000 <= sim.clock.now()) return { error: 'expired', exp: claims.exp };
  if (
    !audiences.some(
      (a) => a.replace(/\/+$/, '').toLowerCase() === claims.aud.replace(/\/+$/, '').toLowerCase(),
    )
  )
    return { error: 'audience', aud: claims.aud };
  return { claims };
}
