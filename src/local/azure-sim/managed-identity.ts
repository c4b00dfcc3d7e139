/**
 * The managed identity endpoint (App Service protocol on a plain-HTTP loopback port): tokens for
 * the identities attached to the simulated host, and federated-credential assertions.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { TOKEN_EXCHANGE_AUDIENCE } from './entra';
import { signRs256 } from './jwt';
import { sendJson } from './router';
import type { ManagedIdentity, Simulator } from './sim';
import { eqi } from './util';

export function managedIdentityRequest(sim: Simulator, req: IncomingMessage, res: ServerResponse): void {
  sim.count('GET managedIdentity/token');
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.headers['x-identity-header'] !== sim.managedIdentityEndpoint.header) {
    return sendJson(res, 401, {
      statusCode: 401,
      message: 'Unauthorized: the X-IDENTITY-HEADER header is missing or does not match.',
    });
  }
  if (url.searchParams.get('api-version') !== '2019-08-01') {
    return sendJson(res, 400, {
      statusCode: 400,
      message: `Unsupported api-version '${url.searchParams.get('api-version') ?? ''}'. Supported: 2019-08-01.`,
    });
  }
  const resource = url.searchParams.get('resource');
  if (!resource)
    return sendJson(res, 400, {
      statusCode: 400,
      message: "Required query parameter 'resource' is missing.",
    });
  const clientId = url.searchParams.get('client_id');
  const principalId = url.searchParams.get('principal_id') ?? url.searchParams.get('object_id');
  const miResId = url.searchParams.get('mi_res_id');
  const attached = sim.hostIdentities
    .map((h) => ({ h, mi: [...sim.identities.values()].find((m) => eqi(m.clientId, h.clientId)) }))
    .filter(
      (x): x is { h: { clientId: string; isDefault: boolean }; mi: ManagedIdentity } => x.mi !== undefined,
    );
  const chosen = clientId
    ? attached.find((x) => eqi(x.mi.clientId, clientId))
    : principalId
      ? attached.find((x) => eqi(x.mi.principalId, principalId))
      : miResId
        ? attached.find((x) => eqi(x.mi.id, miResId))
        : attached.find((x) => x.h.isDefault);
  if (!chosen) {
    return sendJson(res, 400, {
      statusCode: 400,
      message:
        'Unable to load the proper Managed Identity. The requested identity is not assigned to this resource.',
      correlationId: sim.newGuid(),
    });
  }
  const mi = chosen.mi;
  const aud = resource.replace(/\/\.default$/, '');
  const token =
    aud === TOKEN_EXCHANGE_AUDIENCE
      ? signRs256(
          {
            aud,
            iss: `${sim.authorityHost}/${mi.tenantId}/v2.0`,
            sub: mi.principalId,
            oid: mi.principalId,
            tid: mi.tenantId,
            iat: Math.floor(sim.clock.now() / 1000),
            nbf: Math.floor(sim.clock.now() / 1000),
            exp: Math.floor((sim.clock.now() + sim.tokenLifetimeMs) / 1000),
            xms_mirid: mi.id,
          },
          sim.signingKey.privateKey,
          sim.signingKey.kid,
        )
      : sim.issueToken({
          tid: mi.tenantId,
          oid: mi.principalId,
          appid: mi.clientId,
          aud,
          idtyp: 'app',
          xmsMirid: mi.id,
        });
  if (aud === TOKEN_EXCHANGE_AUDIENCE) sim.credentials.push({ kind: 'accessToken', value: token });
  sendJson(res, 200, {
    access_token: token,
    expires_on: String(Math.floor(Date.now() / 1000) + 3600),
    resource,
    token_type: 'Bearer',
    client_id: mi.clientId,
  });
}
