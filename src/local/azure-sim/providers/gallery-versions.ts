/**
 * Microsoft.Compute gallery image versions: create (also used by Image Builder's distribute), PATCH
 * of target regions, delete, the source checks, and replication per region on the clock.
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { eqi, isObject, parseResourceId, str } from '../util';
import { authorizeFor, idOf, mustGet, rgCheck, tagsOf } from './common';

export interface RegionReplica {
  name: string;
  startAt: number;
  doneAt: number;
  regionalReplicaCount: number;
  storageAccountType: string;
}

/** Replication state of a version at `now`, per region. */
export function replicaState(
  sim: Simulator,
  r: SimResource,
): { name: string; state: 'Replicating' | 'Completed'; progress: number }[] {
  const now = sim.clock.now();
  const regions = (r.internal.regions as RegionReplica[] | undefined) ?? [];
  return regions.map((g) => {
    if (now >= g.doneAt) return { name: g.name, state: 'Completed' as const, progress: 100 };
    const span = Math.max(1, g.doneAt - g.startAt);
    return {
      name: g.name,
      state: 'Replicating' as const,
      progress: Math.max(0, Math.min(99, Math.floor(((now - g.startAt) / span) * 100))),
    };
  });
}

export function isReplicatedIn(sim: Simulator, version: SimResource, region: string): boolean {
  return replicaState(sim, version).some((s) => eqi(s.name, region) && s.state === 'Completed');
}

export function versionView(sim: Simulator, r: SimResource, expand: boolean): Record<string, unknown> {
  const states = replicaState(sim, r);
  const done = states.every((s) => s.state === 'Completed');
  const props = structuredClone(r.properties);
  const updating = typeof r.internal.updatingUntil === 'number' && sim.clock.now() < r.internal.updatingUntil;
  // A PATCH's operation shows Updating until it ends (recorded traffic: ~3 min; lro.ts).
  props.provisioningState = r.internal.deleting
    ? 'Deleting'
    : updating
      ? 'Updating'
      : done
        ? 'Succeeded'
        : 'Creating';
  const pp = isObject(props.publishingProfile) ? props.publishingProfile : {};
  props.publishingProfile = pp;
  // ARM answers regions by display name ("West Europe"), whatever the request said (REST spec
  // example GalleryImageVersion_Get_WithReplicationStatus; recorded traffic).
  if (Array.isArray(pp.targetRegions))
    pp.targetRegions = pp.targetRegions
      .filter(isObject)
      .map((g) => ({ ...g, name: regionDisplayName(str(g.name) ?? '') }));
  if (expand) {
    props.replicationStatus = {
      aggregatedState: done ? 'Completed' : 'InProgress',
      summary: states.map((s) => ({
        region: regionDisplayName(s.name),
        state: s.state,
        details: '',
        progress: s.progress,
      })),
    };
  }
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    location: r.location,
    tags: { ...r.tags },
    properties: props,
  };
}

/** Display names of the regions the simulated worlds use; other codes are answered as sent. */
const REGION_DISPLAY_NAMES: Record<string, string> = {
  westeurope: 'West Europe',
  northeurope: 'North Europe',
  swedencentral: 'Sweden Central',
  germanywestcentral: 'Germany West Central',
  uksouth: 'UK South',
  eastus: 'East US',
  eastus2: 'East US 2',
  westus: 'West US',
  westus2: 'West US 2',
  centralus: 'Central US',
};

export function regionDisplayName(name: string): string {
  return REGION_DISPLAY_NAMES[regionNameNormalize(name)] ?? name;
}

function regionNameNormalize(s: string): string {
  return s.replace(/\s+/g, '').toLowerCase();
}

/** Creates (or replaces) a gallery image version; used by the REST PUT and by Image Builder's distribute. */
export function createVersionResource(
  sim: Simulator,
  args: {
    id: string;
    location: string;
    tags: Record<string, string>;
    targetRegions: { name: string; regionalReplicaCount: number; storageAccountType: string }[];
    excludeFromLatest: boolean;
    endOfLifeDate?: string;
    source: Record<string, unknown>;
    startAt: number;
    /** When every region is replicated (AIB finishes replication before it reports success). */
    allDoneBy?: number;
  },
): SimResource {
  const parsed = parseResourceId(args.id);
  if (!parsed) throw new Error(`bad version id ${args.id}`);
  const per = sim.durations.replicationPerRegionMs;
  const regionsIn =
    args.targetRegions.length > 0
      ? args.targetRegions
      : [{ name: args.location, regionalReplicaCount: 1, storageAccountType: 'Standard_LRS' }];
  // the home region first, then the others in order, one after another
  const ordered = [
    ...regionsIn.filter((g) => eqi(regionNameNormalize(g.name), args.location)),
    ...regionsIn.filter((g) => !eqi(regionNameNormalize(g.name), args.location)),
  ];
  const regions: RegionReplica[] = ordered.map((g, i) => {
    const doneAt =
      args.allDoneBy !== undefined
        ? Math.min(args.allDoneBy, args.startAt + per * (i + 1))
        : args.startAt + per * (i + 1);
    return {
      name: regionNameNormalize(g.name),
      startAt: args.startAt,
      doneAt,
      regionalReplicaCount: g.regionalReplicaCount,
      storageAccountType: g.storageAccountType,
    };
  });
  return sim.putResource({
    id: args.id,
    type: 'Microsoft.Compute/galleries/images/versions',
    name: parsed.name,
    subscriptionId: parsed.subscriptionId,
    resourceGroup: parsed.resourceGroup,
    location: args.location,
    tags: args.tags,
    properties: {
      publishingProfile: {
        targetRegions: ordered.map((g) => ({
          name: g.name,
          regionalReplicaCount: g.regionalReplicaCount,
          storageAccountType: g.storageAccountType,
        })),
        replicaCount: 1,
        excludeFromLatest: args.excludeFromLatest,
        publishedDate: new Date(args.startAt).toISOString(),
        storageAccountType: 'Standard_LRS',
        ...(args.endOfLifeDate ? { endOfLifeDate: args.endOfLifeDate } : {}),
      },
      storageProfile: { ...args.source, osDiskImage: { sizeInGB: 30, hostCaching: 'ReadWrite' } },
      safetyProfile: { allowDeletionOfReplicatedLocations: true },
    },
    internal: { regions },
  });
}

export function getVersion(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images/versions', 'read');
  const expand = (req.query.get('$expand') ?? '').toLowerCase() === 'replicationstatus';
  return {
    status: 200,
    body: versionView(sim, mustGet(sim, req, 'Microsoft.Compute/galleries/images/versions'), expand),
  };
}

function targetRegionsOf(
  pp: Record<string, unknown>,
): { name: string; regionalReplicaCount: number; storageAccountType: string }[] {
  const list = Array.isArray(pp.targetRegions) ? pp.targetRegions : [];
  return list.filter(isObject).map((t) => ({
    name: str(t.name) ?? '',
    regionalReplicaCount: typeof t.regionalReplicaCount === 'number' ? t.regionalReplicaCount : 1,
    storageAccountType: str(t.storageAccountType) ?? 'Standard_LRS',
  }));
}

const VERSION_NAME = /^\d+\.\d+\.\d+$/;

export function putVersion(sim: Simulator, req: ArmRequest): ArmResponse {
  const type = 'Microsoft.Compute/galleries/images/versions';
  authorizeFor(sim, req, type, 'write');
  const id = idOf(req);
  const name = req.segments[req.segments.length - 1] ?? '';
  const imageId = id.split('/').slice(0, -2).join('/');
  const image = sim.getResource(imageId);
  if (!image) {
    rgCheck(sim, req);
    throw new ArmError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${imageId.split('/').slice(-3).join('/').replace('/images', '')}' not found.`,
    );
  }
  if (!VERSION_NAME.test(name)) {
    throw new ArmError(
      400,
      'InvalidParameter',
      `The gallery image version name '${name}' is invalid. The name must be in the format 'Major(int32).Minor(int32).Patch(int32)'.`,
    );
  }
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = isObject(body.properties) ? body.properties : {};
  const sp = isObject(props.storageProfile) ? props.storageProfile : {};
  const pp = isObject(props.publishingProfile) ? props.publishingProfile : {};
  const sourceObj = isObject(sp.source) ? sp.source : {};
  const sourceId = str(sourceObj.id);
  const osDiskImage = isObject(sp.osDiskImage) ? sp.osDiskImage : {};
  const vhd = isObject(osDiskImage.source) ? osDiskImage.source : undefined;
  const existing = sim.getResource(id);
  let source: Record<string, unknown>;
  if (sourceId) {
    validateSourceId(sim, req, id, sourceId, location, image);
    source = { source: { id: sourceId } };
  } else if (vhd && str(vhd.uri)) {
    const storageAccountId = str(vhd.storageAccountId);
    if (!storageAccountId || !sim.getResource(storageAccountId))
      throw new ArmError(
        400,
        'InvalidParameter',
        `The storage account '${storageAccountId ?? ''}' of the VHD source was not found.`,
      );
    const uri = str(vhd.uri) ?? '';
    const path = uri.replace(/^https?:\/\/[^/]+\//, '').toLowerCase();
    if (!sim.blobs.has(path))
      throw new ArmError(400, 'InvalidParameter', `The source blob '${uri}' was not found.`);
    source = { osDiskImage: { source: { uri, storageAccountId } } };
  } else {
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'storageProfile.source' is missing (null).",
      {},
      [{ code: 'InvalidParameter', target: 'galleryImageVersion.properties.storageProfile.source' }],
    );
  }
  if (existing) {
    const before = JSON.stringify(
      (existing.properties.storageProfile as Record<string, unknown> | undefined)?.source ?? null,
    );
    const after = JSON.stringify(source.source ?? null);
    if (before !== after) {
      throw new ArmError(
        409,
        'PropertyChangeNotAllowed',
        "Changing property 'galleryImageVersion.properties.storageProfile.source.id' is not allowed.",
        {},
        [
          {
            code: 'PropertyChangeNotAllowed',
            target: 'galleryImageVersion.properties.storageProfile.source.id',
          },
        ],
      );
    }
    applyVersionPatch(sim, existing, body);
    const headers = sim.beginOperation({
      subscriptionId: existing.subscriptionId,
      namespace: 'Microsoft.Compute',
      location,
      kind: 'versionCreate',
      apiVersion: req.apiVersion,
      doneWhen: () => replicaState(sim, existing).every((g) => g.state === 'Completed'),
    });
    return { status: 200, body: versionView(sim, existing, false), headers };
  }
  const r = createVersionResource(sim, {
    id,
    location,
    tags: tagsOf(body),
    targetRegions: targetRegionsOf(pp),
    excludeFromLatest: pp.excludeFromLatest === true,
    ...(str(pp.endOfLifeDate) ? { endOfLifeDate: str(pp.endOfLifeDate) } : {}),
    source,
    startAt: sim.clock.now(),
  });
  r.internal.sourceId = sourceId;
  // The PUT's operation lasts as long as the replication and ends with the version Succeeded.
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location,
    kind: 'versionCreate',
    apiVersion: req.apiVersion,
    doneWhen: () => !sim.getResource(r.id) || replicaState(sim, r).every((g) => g.state === 'Completed'),
  });
  return { status: 201, body: versionView(sim, r, false), headers };
}

function validateSourceId(
  sim: Simulator,
  req: ArmRequest,
  targetId: string,
  sourceId: string,
  location: string,
  image: SimResource,
): void {
  const parsed = parseResourceId(sourceId);
  const writeAction = 'Microsoft.Compute/galleries/images/versions/write';
  if (!parsed)
    throw new ArmError(400, 'InvalidParameter', `The source id '${sourceId}' is not a valid resource id.`);
  const sourceTenant = sim.subscriptionTenant.get(parsed.subscriptionId.toLowerCase());
  const sourceType = parsed.type.toLowerCase();
  const readAction = `${parsed.type}/read`;
  if (sourceType === 'microsoft.compute/images') {
    const img = sim.getResource(sourceId);
    if (!sourceTenant || !eqi(sourceTenant, req.claims.tid))
      throw sim.linkedSubscriptionNotAuthorized(req.claims, readAction, targetId, sourceId);
    if (!sim.can(req.claims.oid, readAction, sourceId))
      throw sim.linkedAuthorizationFailed(req.claims, writeAction, targetId, [readAction], [sourceId]);
    if (!img) throw new ArmError(404, 'NotFound', `The entity was not found in this Azure location.`);
    if (!eqi(parsed.subscriptionId, req.segments[1])) {
      throw new ArmError(
        400,
        'InvalidParameter',
        `The managed image '${sourceId}' must be in the same subscription as the gallery image version. Copying from a managed image in another subscription is not supported.`,
      );
    }
    if (!eqi(img.location, location)) {
      throw new ArmError(
        400,
        'InvalidParameter',
        `The source managed image '${sourceId}' is in region '${img.location}', but the gallery image version is created in region '${location}'. A managed image can only be used as the source in its own region.`,
      );
    }
    const osType = str(
      (img.properties.storageProfile as { osDisk?: { osType?: string } } | undefined)?.osDisk?.osType,
    );
    if (osType && !eqi(osType, str(image.properties.osType)))
      throw new ArmError(
        400,
        'InvalidParameter',
        `The OS type '${osType}' of the source does not match the OS type '${str(image.properties.osType) ?? ''}' of the gallery image.`,
      );
    return;
  }
  if (sourceType !== 'microsoft.compute/galleries/images/versions')
    throw new ArmError(400, 'InvalidParameter', `The source '${sourceId}' is not a supported image source.`);
  if (!sourceTenant)
    throw sim.linkedAuthorizationFailed(req.claims, writeAction, targetId, [readAction], [sourceId]);
  let principalInSource = req.claims.oid;
  if (!eqi(sourceTenant, req.claims.tid)) {
    const aux = req.auxiliary.find((c) => eqi(c.tid, sourceTenant));
    if (!aux) throw sim.linkedSubscriptionNotAuthorized(req.claims, readAction, targetId, sourceId);
    if (!eqi(aux.appid, req.claims.appid)) {
      throw new ArmError(
        401,
        'InvalidAuthenticationToken',
        'The auxiliary token was issued for a different application than the primary token. All tokens must come from the same multi-tenant application.',
      );
    }
    principalInSource = aux.oid;
  }
  if (!sim.can(principalInSource, readAction, sourceId))
    throw sim.linkedAuthorizationFailed(req.claims, writeAction, targetId, [readAction], [sourceId]);
  const src = sim.getResource(sourceId);
  if (!src) throw new ArmError(404, 'NotFound', `The gallery image version '${sourceId}' was not found.`);
  if (!isReplicatedIn(sim, src, location)) {
    throw new ArmError(
      400,
      'InvalidParameter',
      `The source gallery image version '${sourceId}' is not available in region '${location}'. Replicate it to '${location}' before copying.`,
    );
  }
  const srcImage = sim.getResource(sourceId.split('/').slice(0, -2).join('/'));
  for (const f of ['osType', 'hyperVGeneration'] as const) {
    if (srcImage && !eqi(str(srcImage.properties[f]), str(image.properties[f]))) {
      throw new ArmError(
        400,
        'InvalidParameter',
        `The ${f} '${str(srcImage.properties[f]) ?? ''}' of the source image does not match '${str(image.properties[f]) ?? ''}' of the gallery image definition.`,
      );
    }
  }
}

function applyVersionPatch(sim: Simulator, r: SimResource, body: Record<string, unknown>): void {
  const props = isObject(body.properties) ? body.properties : {};
  const pp = isObject(props.publishingProfile) ? props.publishingProfile : undefined;
  const current = r.properties.publishingProfile as Record<string, unknown>;
  // ARM PATCH replaces the whole `tags` object (callers that want a merge send the merged set).
  if (isObject(body.tags)) r.tags = tagsOf(body);
  if (!pp) return;
  if (typeof pp.excludeFromLatest === 'boolean') current.excludeFromLatest = pp.excludeFromLatest;
  if (str(pp.endOfLifeDate)) current.endOfLifeDate = str(pp.endOfLifeDate);
  if (Array.isArray(pp.targetRegions)) {
    const wanted = targetRegionsOf(pp);
    const regions = (r.internal.regions as RegionReplica[]).filter((g) =>
      wanted.some((w) => eqi(regionNameNormalize(w.name), g.name)),
    );
    const now = sim.clock.now();
    let i = 0;
    for (const w of wanted) {
      if (regions.some((g) => eqi(g.name, regionNameNormalize(w.name)))) continue;
      i += 1;
      regions.push({
        name: regionNameNormalize(w.name),
        startAt: now,
        doneAt: now + sim.durations.replicationPerRegionMs * i,
        regionalReplicaCount: w.regionalReplicaCount,
        storageAccountType: w.storageAccountType,
      });
    }
    r.internal.regions = regions;
    current.targetRegions = wanted;
  }
}

export function patchVersion(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images/versions', 'write');
  const r = mustGet(sim, req, 'Microsoft.Compute/galleries/images/versions');
  applyVersionPatch(sim, r, sim.parseBody(req));
  const now = sim.clock.now();
  const updatingUntil = now + sim.lroTimings.versionUpdate.durationMs;
  r.internal.updatingUntil = updatingUntil;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'versionUpdate',
    apiVersion: req.apiVersion,
    // Regions added by the PATCH replicate within its operation.
    doneWhen: () =>
      !sim.getResource(r.id) ||
      (sim.clock.now() >= updatingUntil && replicaState(sim, r).every((g) => g.state === 'Completed')),
  });
  return { status: 200, body: versionView(sim, r, false), headers };
}

export function deleteVersion(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images/versions', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  r.internal.deleting = true;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'versionDelete',
    location202: true,
    apiVersion: req.apiVersion,
    outcome: { onDone: () => sim.deleteResource(r.id) },
  });
  return { status: 202, headers };
}
