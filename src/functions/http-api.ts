/**
 * Registers the HTTP API and the revoke orchestration. Wiring only: every POST is rate-limited per
 * caller before its body is read, bodies are read with a cap, and every answer gets the security
 * headers (src/api/abuse.ts, request-body.ts, security-headers.ts). Revoke is authLevel 'admin'
 * (the master key): it removes a version from every gallery, more than a build's function key may
 * do (docs/security.md).
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { apiPolicy, rateLimited, type ApiPolicy } from '../api/abuse';
import { RateLimiter } from '../api/rate-limit';
import { readCappedBody } from '../api/request-body';
import { withSecurityHeaders } from '../api/security-headers';
import {
  MAX_BODY_BYTES,
  cancelBuild,
  getBuild,
  getPipeline,
  listBuilds,
  listPipelines,
  problem,
  revokeVersion,
  startBuild,
  viewBuild,
  viewFleet,
  type ApiRequest,
  type ApiResponse,
} from '../api/builds-api';
import { durableBuildsClient, servedPipelines } from '../api/durable-builds-client';
import { getAsset } from '../api/assets';
import { getFleet } from '../api/fleet';
import { getRevocation } from '../api/revocations';
import { durableSbomSource, getSbom } from '../api/sbom';
import { redactJson, redactText, secretValues } from '../api/redact';
import { loadConfig } from '../config';
import { REVOKE_ORCHESTRATION } from '../domain/build-status';
import { revokeImageVersion } from '../orchestrations/revoke-version';
import { toError } from '../shared/errors';
import { printable } from '../shared/text';

df.app.orchestration(REVOKE_ORCHESTRATION, revokeImageVersion);

type Handler = (
  request: ApiRequest,
  context: InvocationContext,
  policy: ApiPolicy,
) => Promise<ApiResponse> | ApiResponse;

/** Per app instance (docs/security.md); real time, as the platform's clock. */
const limiter = new RateLimiter(() => Date.now());

function route(
  name: string,
  methods: ('GET' | 'POST')[],
  path: string,
  handler: Handler,
  // Pages hold no data and read the API with the caller's key: anonymous, so their links open.
  authLevel: 'function' | 'admin' | 'anonymous' = 'function',
): void {
  app.http(name, {
    methods,
    route: path,
    authLevel,
    extraInputs: [df.input.durableClient()],
    handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
      try {
        const policy = apiPolicy(loadConfig(), process.env.WEBSITE_HOSTNAME);
        const apiRequest: ApiRequest = {
          method: request.method,
          url: request.url,
          headers: Object.fromEntries(request.headers.entries()),
          params: request.params,
          query: Object.fromEntries(request.query.entries()),
          body: '',
        };
        let response: ApiResponse | undefined;
        if (methods.includes('POST')) {
          response = rateLimited(apiRequest, policy, limiter);
          if (response === undefined) {
            const body = await readCappedBody(request, MAX_BODY_BYTES);
            if ('error' in body) response = body.error;
            else apiRequest.body = body.text;
          }
        }
        response ??= await handler(apiRequest, context, policy);
        // Whatever a definition or a failure message quoted: no secret leaves the API.
        const secrets = secretValues(process.env);
        return withSecurityHeaders({
          ...response,
          ...(response.jsonBody === undefined ? {} : { jsonBody: redactJson(response.jsonBody, secrets) }),
          ...(response.body === undefined ? {} : { body: redactText(response.body, secrets) }),
        });
      } catch (error) {
        context.error(
          `${name} failed: ${printable(redactText(toError(error).message, secretValues(process.env)))}`,
        );
        const failed = problem(
          500,
          'Internal Error',
          'The request could not be completed; see the logs for details.',
        );
        return withSecurityHeaders(failed);
      }
    },
  });
}

const pipelines = () => servedPipelines(loadConfig().PIPELINES_DIR);
const client = (context: InvocationContext) => durableBuildsClient(df.getClient(context));

const drain = () => ({ draining: loadConfig().FACTORY_DRAINING });

route('startBuild', ['POST'], 'builds', (request, context, policy) =>
  startBuild(request, client(context), pipelines(), policy, drain()),
);
route('listBuilds', ['GET'], 'builds', (request, context) => listBuilds(request, client(context), drain()));
route('getBuild', ['GET'], 'builds/{id}', (request, context, policy) =>
  getBuild(request, client(context), policy),
);
route('getBuildSbom', ['GET'], 'builds/{id}/sbom', (request, context) =>
  getSbom(request, durableSbomSource(df.getClient(context))),
);
route('cancelBuild', ['POST'], 'builds/{id}/cancel', (request, context, policy) =>
  cancelBuild(request, client(context), policy),
);
route('viewBuild', ['GET'], 'builds/{id}/view', (request) => viewBuild(request), 'anonymous');
route('viewFleet', ['GET'], 'fleet/view', () => viewFleet(), 'anonymous');
route('getAsset', ['GET'], 'assets/{name}', (request) => getAsset(request), 'anonymous');
route('getFleet', ['GET'], 'fleet', (_request, context) =>
  getFleet(client(context), pipelines(), {
    now: Date.now(),
    // The host's own switch for a function (AzureWebJobs.<name>.Disabled: true or 1).
    cadenceEnabled: !/^(true|1)$/i.test(process.env['AzureWebJobs.patchCadence.Disabled']?.trim() ?? ''),
  }),
);
route('getRevocation', ['GET'], 'revocations/{id}', (request, context, policy) =>
  getRevocation(request, client(context), policy),
);
route('listPipelines', ['GET'], 'pipelines', () => listPipelines(pipelines()));
route('getPipeline', ['GET'], 'pipelines/{name}', (request) => getPipeline(request, pipelines()));
route(
  'revokeVersion',
  ['POST'],
  'versions/{pipeline}/{version}/revoke',
  (request, context, policy) => revokeVersion(request, client(context), pipelines(), policy),
  'admin',
);
