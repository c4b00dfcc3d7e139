/** Registers the HTTP API (authLevel function) and the revoke orchestration. Wiring only. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import {
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
import { redactJson, redactText, secretValues } from '../api/redact';
import { loadConfig } from '../config';
import { REVOKE_ORCHESTRATION } from '../domain/build-status';
import { revokeImageVersion } from '../orchestrations/revoke-version';
import { toError } from '../shared/errors';

df.app.orchestration(REVOKE_ORCHESTRATION, revokeImageVersion);

type Handler = (request: ApiRequest, context: InvocationContext) => Promise<ApiResponse> | ApiResponse;

function route(
  name: string,
  methods: ('GET' | 'POST')[],
  path: string,
  handler: Handler,
  // Pages hold no data and read the API with the caller's key: anonymous, so their links open.
  authLevel: 'function' | 'anonymous' = 'function',
): void {
  app.http(name, {
    methods,
    route: path,
    authLevel,
    extraInputs: [df.input.durableClient()],
    handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
      try {
        const body = methods.includes('POST') ? await request.text() : '';
        const response = await handler(
          {
            method: request.method,
            url: request.url,
            headers: Object.fromEntries(request.headers.entries()),
            params: request.params,
            query: Object.fromEntries(request.query.entries()),
            body,
          },
          context,
        );
        // Whatever a definition or a failure message quoted: no secret leaves the API.
        const secrets = secretValues(process.env);
        return {
          ...response,
          ...(response.jsonBody === undefined ? {} : { jsonBody: redactJson(response.jsonBody, secrets) }),
          ...(response.body === undefined ? {} : { body: redactText(response.body, secrets) }),
        };
      } catch (error) {
        context.error(`${name} failed: ${redactText(toError(error).message, secretValues(process.env))}`);
        const failed = problem(
          500,
          'Internal Error',
          'The request could not be completed; see the logs for details.',
        );
        return failed;
      }
    },
  });
}

const pipelines = () => servedPipelines(loadConfig().PIPELINES_DIR);
const client = (context: InvocationContext) => durableBuildsClient(df.getClient(context));

route('startBuild', ['POST'], 'builds', (request, context) =>
  startBuild(request, client(context), pipelines()),
);
route('listBuilds', ['GET'], 'builds', (request, context) => listBuilds(request, client(context)));
route('getBuild', ['GET'], 'builds/{id}', (request, context) => getBuild(request, client(context)));
route('cancelBuild', ['POST'], 'builds/{id}/cancel', (request, context) =>
  cancelBuild(request, client(context)),
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
route('getRevocation', ['GET'], 'revocations/{id}', (request, context) =>
  getRevocation(request, client(context)),
);
route('listPipelines', ['GET'], 'pipelines', () => listPipelines(pipelines()));
route('getPipeline', ['GET'], 'pipelines/{name}', (request) => getPipeline(request, pipelines()));
route('revokeVersion', ['POST'], 'versions/{pipeline}/{version}/revoke', (request, context) =>
  revokeVersion(request, client(context), pipelines()),
);
