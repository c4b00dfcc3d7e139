/**
 * Microsoft.ResourceGraph `POST /providers/Microsoft.ResourceGraph/resources` (the tenant-level
 * query API; shape from azure-rest-api-specs `specification/resourcegraph/…/stable/2024-04-01/
 * resourcegraph.json`: `QueryRequest` in, `QueryResponse` {totalRecords, count, resultTruncated,
 * $skipToken, data} out, objectArray format).
 *
 * KQL is not interpreted. Exactly one query shape is modelled, the one the retention adapter sends
 * (src/adapters/resourceGraph.ts): VMs and scale sets whose `storageProfile.imageReference.id`
 * (a scale set's under `virtualMachineProfile`) is one of a list of gallery image version ids. Any
 * other query is refused as Azure refuses a query it cannot parse (400 BadRequest / InvalidQuery),
 * so a changed adapter query fails its tests instead of silently matching nothing (FIDELITY.md).
 *
 * Resource Graph answers only with resources the caller may read ("Resource Graph returns only the
 * resources you have read access to": Microsoft Learn, "Azure Resource Graph overview", Permissions):
 * each row is filtered by `{type}/read` on the resource for the caller, so a missing Reader grant
 * shows as an empty answer, never as 403.
 */
import type { Route } from '../router';
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { isObject } from '../util';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The modelled query: type filter, image id extended from either profile, `in~` list of ids,
 * projection. Whitespace between tokens is free; the ids are single-quoted ARM ids.
 */
const QUERY =
  /^\s*Resources\s*\|\s*where\s+type\s*=~\s*'microsoft\.compute\/virtualmachines'\s+or\s+type\s*=~\s*'microsoft\.compute\/virtualmachinescalesets'\s*\|\s*extend\s+imageId\s*=\s*tolower\(tostring\(coalesce\(properties\.storageProfile\.imageReference\.id,\s*properties\.virtualMachineProfile\.storageProfile\.imageReference\.id\)\)\)\s*\|\s*where\s+imageId\s+in~\s*\(((?:\s*'[^']+'\s*,?)+)\)\s*\|\s*project\s+id\s*,\s*type\s*,\s*imageId\s*$/i;

/** Resource Graph's refusal of a query (azure-powershell#9850, microsoft/ARI#250: BadRequest carrying InvalidQuery). */
function invalidQuery(sim: Simulator): ArmError {
  return new ArmError(
    400,
    'BadRequest',
    `Please provide below info when asking for support: timestamp = ${new Date(sim.clock.now()).toISOString()}, correlationId = ${sim.newGuid()}.`,
    {},
    [
      {
        code: 'InvalidQuery',
        message:
          'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.',
      },
    ],
  );
}

function imageIdOf(r: SimResource): string | undefined {
  const p = r.properties;
  const direct = isObject(p.storageProfile) ? p.storageProfile : undefined;
  const vmp = isObject(p.virtualMachineProfile) ? p.virtualMachineProfile : undefined;
  const nested = vmp && isObject(vmp.storageProfile) ? vmp.storageProfile : undefined;
  for (const sp of [direct, nested]) {
    const ref = sp && isObject(sp.imageReference) ? sp.imageReference : undefined;
    if (ref && typeof ref.id === 'string') return ref.id.toLowerCase();
  }
  return undefined;
}

function resources(sim: Simulator, req: ArmRequest): ArmResponse {
  const body = isObject(req.body) ? req.body : {};
  const query = typeof body.query === 'string' ? body.query : undefined;
  if (query === undefined) throw invalidQuery(sim);
  const subscriptions = Array.isArray(body.subscriptions) ? body.subscriptions : undefined;
  // "Subscription ids have to be valid GUIDs" (microsoft/msticpy#620 shows the 400 it gives).
  if (subscriptions?.some((s) => typeof s !== 'string' || !GUID.test(s))) throw invalidQuery(sim);
  const match = QUERY.exec(query);
  if (!match) throw invalidQuery(sim);
  const wanted = new Set([...(match[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => (m[1] ?? '').toLowerCase()));
  const options = isObject(body.options) ? body.options : {};
  const top = typeof options.$top === 'number' ? options.$top : 100;
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw invalidQuery(sim);
  const token = typeof options.$skipToken === 'string' ? options.$skipToken : undefined;
  const skip = token !== undefined ? Number(Buffer.from(token, 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(skip) || skip < 0) throw invalidQuery(sim);
  sim.tick();
  const rows = [...sim.resources.values()]
    .filter((r) => {
      const t = r.type.toLowerCase();
      return t === 'microsoft.compute/virtualmachines' || t === 'microsoft.compute/virtualmachinescalesets';
    })
    .filter((r) => subscriptions === undefined || subscriptions.some((s) => s === r.subscriptionId))
    // only what the caller can read; no 403 (see the top of this file)
    .filter((r) => sim.can(req.claims.oid, `${r.type}/read`, r.id))
    .map((r) => ({ r, imageId: imageIdOf(r) }))
    .filter((x): x is { r: SimResource; imageId: string } => x.imageId !== undefined && wanted.has(x.imageId))
    .sort((a, b) => a.r.id.localeCompare(b.r.id))
    .map(({ r, imageId }) => ({ id: r.id, type: r.type.toLowerCase(), imageId }));
  const page = rows.slice(skip, skip + top);
  const next = skip + top < rows.length ? Buffer.from(String(skip + top)).toString('base64') : undefined;
  return {
    status: 200,
    body: {
      totalRecords: rows.length,
      count: page.length,
      data: page,
      facets: [],
      resultTruncated: 'false',
      ...(next !== undefined ? { $skipToken: next } : {}),
    },
  };
}

export const resourceGraphRoutes: Route[] = [
  { type: 'microsoft.resourcegraph', verb: 'action:resources', handler: resources },
];
