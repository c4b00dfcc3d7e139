/**
 * GET /api/builds/{id}/sbom: the build's software bill of materials (CycloneDX JSON, issue 18).
 * The SBOM is not in the custom status (16 KB limit, shared with the timeline) but in the build's
 * history: the recorded result of the security gate's read (getSecurityGateResult), which reaches
 * the build as its polling sub-orchestration's output. The durable status API returns it with
 * showHistory + showHistoryOutput; the newest one wins (a retest stage runs the gate again).
 */
import type { DurableClient } from 'durable-functions';
import { BUILD_ORCHESTRATION } from '../domain/build-status';
import { SBOM_MEDIA_TYPE, SBOM_SPEC_VERSION } from '../domain/pipeline/sbom';
import type { ApiRequest, ApiResponse } from './builds-api';
import { isApiInstanceId } from './instance-id';
import { problem } from './problem';

export interface SbomSource {
  /** The instance's name and history events (with their results), or undefined when none. */
  history(instanceId: string): Promise<{ name: string; events: unknown[] } | undefined>;
}

/**
 * The history over the Durable HTTP management API ("Get instance status" with showHistory and
 * showHistoryOutput, whose answer names it `historyEvents`). Not DurableClient.getStatus: its
 * status object reads `history`, so the events never arrive (Azure/azure-functions-durable-js#620).
 * The webhook URL carries the extension's system key; it is used here server-side and never answered.
 */
export function durableSbomSource(client: DurableClient, fetchJson: typeof fetch = fetch): SbomSource {
  return {
    async history(instanceId) {
      // Where the client itself sends getStatus: the extension's local RPC endpoint when the host
      // gives one (clientData.rpcBaseUrl, not public in 3.x), else the webhook status URL.
      const rpcBaseUrl = (client as unknown as { clientData?: { rpcBaseUrl?: string } }).clientData
        ?.rpcBaseUrl;
      const url = rpcBaseUrl
        ? new URL(`instances/${encodeURIComponent(instanceId)}`, rpcBaseUrl)
        : new URL(client.createHttpManagementPayload(instanceId).statusQueryGetUri);
      url.searchParams.set('showHistory', 'true');
      url.searchParams.set('showHistoryOutput', 'true');
      url.searchParams.set('showInput', 'false');
      const response = await fetchJson(url);
      if (response.status === 404) return undefined;
      if (!response.ok) throw new Error(`instance status answered ${response.status}`);
      const body = (await response.json()) as { name?: unknown; historyEvents?: unknown };
      return {
        name: typeof body.name === 'string' ? body.name : '',
        events: Array.isArray(body.historyEvents) ? (body.historyEvents as unknown[]) : [],
      };
    },
  };
}

/** A CycloneDX BOM inside one history event's result, at any depth (the wait wraps it: done.sbom). */
function bomIn(value: unknown, depth = 0): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || depth > 4) return undefined;
  const record = value as Record<string, unknown>;
  if (record.bomFormat === 'CycloneDX') return record;
  for (const child of Object.values(record)) {
    const found = bomIn(child, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * The media type's version parameter from the document itself: builds recorded before the SBOM was
 * made by the CycloneDX library keep their 1.5 documents in their history.
 */
function specVersionOf(bom: Record<string, unknown>): string {
  const version = bom.specVersion;
  return typeof version === 'string' && /^\d+\.\d+$/.test(version) ? version : SBOM_SPEC_VERSION;
}

/** The BOM says its inventory was cut (the gate's list under Run Command's 4,096-byte tail). */
function truncated(bom: Record<string, unknown>): boolean {
  const properties = (bom.metadata as { properties?: unknown } | undefined)?.properties;
  return (
    Array.isArray(properties) &&
    properties.some(
      (p) =>
        (p as { name?: unknown }).name === 'imagefactory:inventoryTruncated' &&
        (p as { value?: unknown }).value === 'true',
    )
  );
}

/**
 * The newest complete BOM (builds from 0.4.0 on keep the full inventory read from customization.log,
 * before the gate's), else the newest one: the gate's list, marked truncated.
 */
export function sbomFromHistory(events: unknown[]): Record<string, unknown> | undefined {
  let newest: Record<string, unknown> | undefined;
  for (const event of [...events].reverse()) {
    const result = (event as { Result?: unknown }).Result;
    if (typeof result !== 'string' || !result.includes('"CycloneDX"')) continue;
    try {
      const bom = bomIn(JSON.parse(result) as unknown);
      if (bom === undefined) continue;
      if (!truncated(bom)) return bom;
      newest ??= bom;
    } catch {
      // Not JSON: not a gate result.
    }
  }
  return newest;
}

export async function getSbom(request: ApiRequest, source: SbomSource): Promise<ApiResponse> {
  const id = request.params.id ?? '';
  if (!isApiInstanceId(id))
    return problem(400, 'Invalid Request', 'Not a build id.', [{ path: 'id', message: 'not a build id' }]);
  const history = await source.history(id);
  if (history === undefined || history.name !== BUILD_ORCHESTRATION)
    return problem(404, 'Not Found', `No build '${id}'.`);
  const bom = sbomFromHistory(history.events);
  if (bom === undefined)
    return problem(
      404,
      'Not Found',
      `Build '${id}' has no SBOM: its pipeline has no test.securityGate, or the gate has not run yet.`,
    );
  return {
    status: 200,
    headers: { 'content-type': `${SBOM_MEDIA_TYPE}; version=${specVersionOf(bom)}` },
    jsonBody: bom,
  };
}
