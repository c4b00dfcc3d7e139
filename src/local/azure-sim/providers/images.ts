/**
 * Microsoft.Compute platform image versions (publishers/offers/skus/versions, "latest") and managed
 * images (GET).
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';
import { eqi } from '../util';
import { authorizeFor, mustGet } from './common';

export function platformVersions(sim: Simulator, req: ArmRequest): ArmResponse {
  // subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{k}/versions[/{v}]
  const s = req.segments;
  const sub = s[1] ?? '';
  sim.authorize(
    req.claims,
    'Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read',
    `/subscriptions/${sub}`,
  );
  const [loc, pub, offer, sku, ver] = [s[5], s[7], s[11], s[13], s[15]];
  const matches = sim.platformImages
    .filter((p) => eqi(p.location, loc) && eqi(p.publisher, pub) && eqi(p.offer, offer) && eqi(p.sku, sku))
    .sort((a, b) => compareVersions(a.version, b.version));
  const view = (v: string): Record<string, unknown> => ({
    name: v,
    location: loc,
    id: `/Subscriptions/${sub}/Providers/Microsoft.Compute/Locations/${loc ?? ''}/Publishers/${pub ?? ''}/ArtifactTypes/VMImage/Offers/${offer ?? ''}/Skus/${sku ?? ''}/Versions/${v}`,
  });
  if (ver !== undefined) {
    const hit = ver === 'latest' ? matches[matches.length - 1] : matches.find((m) => m.version === ver);
    // Compute answers a missing platform image version with NotFound, as for a missing SKU
    if (!hit) throw new ArmError(404, 'NotFound', `Artifact: VMImage was not found.`);
    return {
      status: 200,
      body: {
        ...view(hit.version),
        properties: {
          osImage: { operatingSystem: pub === 'Canonical' ? 'Linux' : 'Windows' },
          hyperVGeneration: 'V2',
        },
      },
    };
  }
  if (matches.length === 0 && !sim.platformImages.some((p) => eqi(p.publisher, pub) && eqi(p.offer, offer))) {
    throw new ArmError(404, 'NotFound', `Artifact: VMImage was not found.`);
  }
  return { status: 200, body: matches.map((m) => view(m.version)) };
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function getManagedImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/images', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/images')) };
}
