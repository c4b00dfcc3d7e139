/**
 * How ARM authenticates a call: the Authorization bearer token (missing, malformed, expired,
 * wrong audience) and up to three x-ms-authorization-auxiliary tokens, with ARM's error codes,
 * texts and WWW-Authenticate headers (ERRORS.md).
 */

import type { IncomingMessage } from 'node:http';
import type { Simulator } from './sim';
import { ArmError, type Claims } from './types';

const ARM_AUDIENCES = [
  'https://management.azure.com',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.core.windows.net/',
];

/** The audiences ARM accepts: Azure's, and the simulator's own endpoint. */
export function armAudiences(sim: Simulator): string[] {
  return [...ARM_AUDIENCES, sim.armEndpoint, `${sim.armEndpoint}/`];
}

export function authenticate(sim: Simulator, req: IncomingMessage): Claims {
  const auth = req.headers.authorization;
  if (!auth)
    throw new ArmError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
      {
        'WWW-Authenticate':
          'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
      },
    );
  if (!auth.startsWith('Bearer '))
    // ARM's code for this case (Azure/azure-sdk-for-python#4124)
    throw new ArmError(
      401,
      'AuthenticationFailedInvalidHeader',
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
    );
  const v = sim.validateToken(auth.slice(7), armAudiences(sim));
  if ('claims' in v) return v.claims;
  if (v.error === 'expired') {
    throw new ArmError(
      401,
      'ExpiredAuthenticationToken',
      // ARM writes both times as .NET's invariant "M/d/yyyy h:mm:ss AM" (microsoft/foundry-dev-tools#461)
      `The access token expiry UTC time '${armUtcTime((v.exp ?? 0) * 1000)}' is earlier than current UTC time '${armUtcTime(sim.clock.now())}'.`,
      {
        'WWW-Authenticate':
          'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The access token has expired."',
      },
    );
  }
  if (v.error === 'audience')
    // ARM's answer for a token of another resource (JetBrains/azure-tools-for-intellij#16,
    // hashicorp/go-azure-helpers#51)
    throw new ArmError(
      401,
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${v.aud ?? ''}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
    );
  throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
}

export function auxiliaryClaims(sim: Simulator, req: IncomingMessage): Claims[] {
  const header = req.headers['x-ms-authorization-auxiliary'];
  if (header === undefined) return [];
  const values = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (values.length > 3)
    throw new ArmError(400, 'InvalidAuxiliaryTokens', 'The request can have at most 3 auxiliary tokens.');
  return values.map((v) => {
    if (!v.startsWith('Bearer '))
      throw new ArmError(
        401,
        'InvalidAuthenticationToken',
        "The 'x-ms-authorization-auxiliary' header is provided in an invalid format.",
      );
    const r = sim.validateToken(v.slice(7), armAudiences(sim));
    if (!('claims' in r)) {
      throw new ArmError(
        401,
        r.error === 'expired' ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken',
        r.error === 'expired'
          ? 'The auxiliary access token has expired.'
          : 'The auxiliary access token is invalid.',
      );
    }
    return r.claims;
  });
}

/** A time as ARM writes it in token errors: .NET's invariant "M/d/yyyy h:mm:ss AM", in UTC. */
function armUtcTime(ms: number): string {
  const d = new Date(ms);
  const hours = d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${hours}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}
