/**
 * The simulated Entra ID token service: OpenID configuration, signing keys, and the
 * client-credentials token endpoint (client secret, certificate assertion, federated assertion),
 * with AADSTS errors as Entra writes them (ERRORS.md). Tenants and app registrations are seeded on
 * the Simulator; tokens are minted by tokens.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { decodeJwt, verifySignature, type CertInfo } from './jwt';
import { sendJson } from './router';
import type { Simulator } from './sim';
import { str } from './util';

/** The audience of a federated credential's assertion (a managed identity token exchanged for an app's). */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface Tenant {
  tenantId: string;
  displayName: string;
  subscriptions: Set<string>;
}

export interface AppRegistration {
  appId: string;
  displayName: string;
  homeTenantId: string;
  secrets: string[];
  certificates: CertInfo[];
  federated: { issuer: string; subject: string }[];
}

export function entraRequest(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  seg: string[],
  raw: string,
): void {
  const tenantKey = (seg[0] ?? '').toLowerCase();
  const tenant = sim.tenants.get(tenantKey);
  const path = seg.slice(1).join('/').toLowerCase();
  sim.count(req.method === 'POST' ? 'POST oauth2/token' : `GET ${path}`);
  if (!tenant) {
    return aadError(
      res,
      400,
      'invalid_tenant',
      90002,
      `Tenant '${seg[0] ?? ''}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    );
  }
  const base = `${sim.authorityHost}/${tenant.tenantId}`;
  if (req.method === 'GET' && path === 'v2.0/.well-known/openid-configuration') {
    return sendJson(res, 200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/openid/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    });
  }
  if (req.method === 'GET' && path === 'discovery/v2.0/keys') {
    const jwk = sim.signingKey.publicKey.export({ format: 'jwk' });
    return sendJson(res, 200, {
      keys: [{ kty: 'RSA', use: 'sig', kid: sim.signingKey.kid, n: jwk.n, e: jwk.e }],
    });
  }
  if (req.method === 'POST' && path === 'oauth2/v2.0/token') {
    return tokenRequest(sim, res, tenant, new URLSearchParams(raw));
  }
  sendJson(res, 404, { error: 'not_found', error_description: 'Unknown Entra endpoint.' });
}

function tokenRequest(sim: Simulator, res: ServerResponse, tenant: Tenant, form: URLSearchParams): void {
  const tokenUrl = `${sim.authorityHost}/${tenant.tenantId}/oauth2/v2.0/token`;
  const grant = form.get('grant_type');
  const clientId = form.get('client_id') ?? '';
  const scope = form.get('scope') ?? '';
  if (grant !== 'client_credentials') {
    return aadError(
      res,
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grant ?? ''}'.`,
    );
  }
  const app = sim.apps.get(clientId.toLowerCase());
  const oid = sim.servicePrincipals.get(tenant.tenantId.toLowerCase())?.get(clientId.toLowerCase());
  if (!app || !oid) {
    return aadError(
      res,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
  }
  const scopes = scope.split(' ').filter((s) => s.length > 0);
  const resourceScope = scopes.find((s) => s.endsWith('/.default'));
  if (
    !resourceScope ||
    scopes.length !==
      scopes.filter((s) => s.endsWith('/.default') || ['openid', 'profile', 'offline_access'].includes(s))
        .length
  ) {
    return aadError(
      res,
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const secret = form.get('client_secret');
  const assertion = form.get('client_assertion');
  if (secret !== null) {
    if (!app.secrets.includes(secret)) {
      return aadError(
        res,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
      );
    }
  } else if (assertion !== null) {
    sim.credentials.push({ kind: 'clientAssertion', value: assertion });
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return aadError(
        res,
        400,
        'invalid_request',
        90014,
        `The request body must contain the following parameter: 'client_assertion_type'.`,
      );
    }
    const problem = checkClientAssertion(sim, app, assertion, tokenUrl);
    if (problem) return aadError(res, problem.status, 'invalid_client', problem.code, problem.message);
  } else {
    return aadError(
      res,
      401,
      'invalid_client',
      7000218,
      `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`,
    );
  }
  const aud = resourceScope.slice(0, -'/.default'.length);
  const token = sim.issueToken({ tid: tenant.tenantId, oid, appid: app.appId, aud, idtyp: 'app' });
  sendJson(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
}

function checkClientAssertion(
  sim: Simulator,
  app: AppRegistration,
  assertion: string,
  tokenUrl: string,
): { status: number; code: number; message: string } | undefined {
  const jwt = decodeJwt(assertion);
  if (!jwt) return { status: 401, code: 50027, message: 'JWT token is invalid or malformed.' };
  const p = jwt.payload;
  const x5tS256 = str(jwt.header['x5t#S256']);
  const x5t = str(jwt.header.x5t);
  if (x5tS256 !== undefined || x5t !== undefined) {
    // certificate credential
    const cert = app.certificates.find(
      (c) => (x5tS256 !== undefined && c.x5tS256 === x5tS256) || (x5t !== undefined && c.x5t === x5t),
    );
    if (!cert) {
      return {
        status: 401,
        code: 700027,
        message: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${x5tS256 ?? x5t ?? ''}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.]`,
      };
    }
    if (!verifySignature(jwt, cert.publicKey))
      return { status: 401, code: 700027, message: 'Client assertion failed signature validation.' };
    if (str(p.aud) !== tokenUrl)
      return {
        status: 401,
        code: 700212,
        message: `No matching federated identity record found for presented assertion audience '${str(p.aud) ?? ''}'.`,
      };
    if (str(p.iss) !== app.appId || str(p.sub) !== app.appId)
      return {
        status: 401,
        code: 700021,
        message: `Client assertion application identifier doesn't match 'client_id' parameter.`,
      };
    // Assertions are minted with the caller's real clock, so their window is checked against real time.
    const exp = typeof p.exp === 'number' ? p.exp * 1000 : 0;
    if (exp <= Date.now())
      return { status: 401, code: 700024, message: 'Client assertion is not within its valid time range.' };
    return undefined;
  }
  // federated credential: a token this simulator issued (e.g. from the managed identity endpoint)
  if (!verifySignature(jwt, sim.signingKey.publicKey))
    return { status: 401, code: 700027, message: 'Client assertion failed signature validation.' };
  const iss = str(p.iss) ?? '';
  const sub = str(p.sub) ?? '';
  const match = app.federated.find((f) => f.issuer === iss && f.subject === sub);
  if (!match) {
    return {
      status: 400,
      code: 70021,
      message: `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${str(p.aud) ?? ''}'.`,
    };
  }
  if (str(p.aud) !== TOKEN_EXCHANGE_AUDIENCE)
    return {
      status: 400,
      code: 700212,
      message: `No matching federated identity record found for presented assertion audience '${str(p.aud) ?? ''}'.`,
    };
  const exp = typeof p.exp === 'number' ? p.exp * 1000 : 0;
  if (exp <= sim.clock.now())
    return { status: 400, code: 700024, message: 'Client assertion is not within its valid time range.' };
  return undefined;
}

export function aadError(
  res: ServerResponse,
  status: number,
  error: string,
  code: number,
  description: string,
): void {
  const traceId = randomBytes(16).toString('hex');
  const now = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${traceId} Timestamp: ${now}`,
    error_codes: [code],
    timestamp: now,
    trace_id: traceId,
    correlation_id: traceId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}
