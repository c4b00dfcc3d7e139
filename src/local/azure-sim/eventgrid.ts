/**
 * Event Grid custom topic: the resource (`Microsoft.EventGrid/topics`, as infra/app/eventgrid.bicep
 * deploys it: CloudEvents 1.0 input schema, `disableLocalAuth: true`) and its publish data plane,
 * served path-style on the simulator's endpoint: `POST {endpoint}/{topic}/api/events`.
 *
 * Sources (FIDELITY.md "Event Grid"): the publish endpoint takes a JSON array of CloudEvents with
 * content type `application/cloudevents-batch+json` (azure-rest-api-specs EventGrid data plane,
 * `PublishCloudEventEvents`, api-version 2018-01-01); Entra tokens for `https://eventgrid.azure.net`
 * and the data action `Microsoft.EventGrid/events/send/action` (role EventGrid Data Sender) on the
 * topic; a principal without it gets 401 `Unauthorized` "The principal associated with access token
 * … does not have permission to send data to <topic id>" (Azure/azure-sdk-for-net#22831); a single
 * object instead of an array gets 400 "Unexpected token when reading JSON. Expected: StartArray,
 * actual: StartObject." (arcus-azure/arcus.eventgrid#145); every message ends with "Report '<id>' to
 * our forums…". The service accepts duplicates: subscribers dedupe by `id` (CloudEvents spec).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AzureSimulator } from './api';
import type { DataPlane, Simulator } from './sim';
import type { SimResource } from './types';
import { eqi } from './util';

export const EVENT_GRID_AUDIENCE = 'https://eventgrid.azure.net';
const TYPE = 'Microsoft.EventGrid/topics';
const SEND = 'Microsoft.EventGrid/events/send/action';

export interface PublishedCloudEvent {
  id: string;
  type: string;
  source: string;
  specversion: string;
  subject?: string;
  time?: string;
  data?: unknown;
  [extension: string]: unknown;
}

/** Adds a topic as infra deploys it; returns its resource id and publish endpoint. */
export function addEventGridTopic(
  azure: AzureSimulator,
  args: { subscriptionId: string; resourceGroup: string; name: string; location: string },
): { id: string; endpoint: string } {
  const sim = azure as Simulator;
  const id = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/${TYPE}/${args.name}`;
  const endpoint = `${sim.armEndpoint}/${args.name}/api/events`;
  sim.putResource({
    id,
    type: TYPE,
    name: args.name,
    subscriptionId: args.subscriptionId,
    resourceGroup: args.resourceGroup,
    location: args.location,
    tags: {},
    properties: {
      provisioningState: 'Succeeded',
      endpoint,
      inputSchema: 'CloudEventSchemaV1_0',
      disableLocalAuth: true,
      publicNetworkAccess: 'Enabled',
    },
    internal: { events: [] as PublishedCloudEvent[] },
  });
  return { id, endpoint };
}

/** Every event the topic accepted, in order (duplicates included, as Event Grid delivers them). */
export function publishedEvents(azure: AzureSimulator, topicId: string): PublishedCloudEvent[] {
  const topic = (azure as Simulator).getResource(topicId);
  return [...((topic?.internal.events as PublishedCloudEvent[] | undefined) ?? [])];
}

function topicNamed(sim: Simulator, name: string): SimResource | undefined {
  return [...sim.resources.values()].find((r) => r.type === TYPE && eqi(r.name, name));
}

export const eventGridDataPlane: DataPlane = (sim, req, res, segments, raw) => {
  const [name = '', api, events] = segments;
  if (segments.length !== 3 || api?.toLowerCase() !== 'api' || events?.toLowerCase() !== 'events')
    return false;
  const topic = topicNamed(sim, name);
  if (topic === undefined) return false;
  if (req.method !== 'POST') return false;
  publish(sim, topic, req, res, raw);
  return true;
};

function publish(
  sim: Simulator,
  topic: SimResource,
  req: IncomingMessage,
  res: ServerResponse,
  raw: string,
): void {
  const report = `${sim.newGuid()}:0:${new Date(sim.clock.now()).toISOString()} (UTC)`;
  const fail = (status: number, code: string, message: string): void => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(
      JSON.stringify({
        error: {
          code,
          message: `${message} Report '${report}' to our forums for assistance or raise a support ticket.`,
        },
      }),
    );
  };
  sim.tick();
  const auth = req.headers.authorization;
  // disableLocalAuth: keys and SAS tokens (aeg-sas-key, aeg-sas-token) are refused like no credential.
  const checked = auth?.startsWith('Bearer ')
    ? sim.validateToken(auth.slice(7), [EVENT_GRID_AUDIENCE])
    : undefined;
  if (
    checked === undefined ||
    !('claims' in checked) ||
    !eqi(checked.claims.tid, sim.tenantOf(topic.subscriptionId))
  )
    return fail(401, 'Unauthorized', 'Unauthorized.');
  if (!sim.can(checked.claims.oid, SEND, topic.id, true))
    return fail(
      401,
      'Unauthorized',
      `The principal associated with access token presented with the incoming request does not have permission to send data to ${topic.id}.`,
    );
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    body = undefined;
  }
  if (!Array.isArray(body))
    return fail(
      400,
      'BadRequest',
      'Unexpected token when reading JSON. Expected: StartArray, actual: StartObject.',
    );
  for (const event of body as Record<string, unknown>[]) {
    // Event Grid's schema-mismatch answer (Azure/azure-sdk-for-python#16055), for this topic's schema.
    const foreign = ['eventType', 'eventTime', 'dataVersion', 'topic'].find((p) => p in event);
    if (foreign !== undefined)
      return fail(
        400,
        'BadRequest',
        `This resource is configured for 'CloudEventSchemaV1_0' schema. Received unexpected property '${foreign}' in JSON which does not conform to the expected schema.`,
      );
  }
  (topic.internal.events as PublishedCloudEvent[]).push(...(body as PublishedCloudEvent[]));
  res.writeHead(200, { 'Content-Length': '0' });
  res.end();
}
