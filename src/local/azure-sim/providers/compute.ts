/**
 * Microsoft.Compute galleries/images/versions, platform images, VMs, disks; Microsoft.Network reads and NICs.
 * Over 600 lines: one provider per file was the rule so far; issue 16 splits it per resource type.
 */
import type { Route, Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { eqi, isObject, parseResourceId, str } from '../util';
import { DEFAULT_SCRIPT_DURATION_MS } from '../lro';

export interface RegionReplica {
  name: string;
  startAt: number;
  doneAt: number;
  regionalReplicaCount: number;
  storageAccountType: string;
}

export function idOf(req: ArmRequest): string {
  return req.path.replace(/\/+$/, '').replace(/^\/+/, '/');
}

function rgCheck(sim: Simulator, req: ArmRequest): void {
  const sub = req.segments[1] ?? '';
  const rg = req.segments[3] ?? '';
  if (!sim.resourceGroup(sub, rg))
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
}

export function mustGet(sim: Simulator, req: ArmRequest, typeLabel: string): SimResource {
  const r = sim.getResource(idOf(req));
  if (!r) {
    rgCheck(sim, req);
    const parent = idOf(req).split('/').slice(0, -2).join('/');
    if (typeLabel.split('/').length > 2 && !sim.getResource(parent)) {
      throw new ArmError(
        404,
        'ParentResourceNotFound',
        `Can not perform requested operation on nested resource. Parent resource '${parent
          .split('/')
          .slice(8)
          .filter((_, i) => i % 2 === 0)
          .join('/')}' not found.`,
      );
    }
    throw sim.notFound(req.segments, typeLabel, req.segments[req.segments.length - 1] ?? '');
  }
  return r;
}

function tagsOf(body: Record<string, unknown>): Record<string, string> {
  return isObject(body.tags)
    ? Object.fromEntries(Object.entries(body.tags).map(([k, v]) => [k, String(v)]))
    : {};
}

// ---------------------------------------------------------------- galleries

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

function versionView(sim: Simulator, r: SimResource, expand: boolean): Record<string, unknown> {
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

export function authorizeFor(
  sim: Simulator,
  req: ArmRequest,
  type: string,
  verb: 'read' | 'write' | 'delete',
): void {
  const scope = idOf(req);
  sim.authorize(req.claims, `${type}/${verb}`, scope);
}

function getGallery(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/galleries')) };
}

function getImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/galleries/images')) };
}

function listChildren(
  sim: Simulator,
  req: ArmRequest,
  type: string,
  view: (r: SimResource) => unknown,
): ArmResponse {
  const parentId = idOf(req).split('/').slice(0, -1).join('/');
  sim.authorize(req.claims, `${type}/read`, parentId);
  if (!sim.getResource(parentId)) {
    rgCheck(sim, req);
    throw new ArmError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${parentId.split('/').pop() ?? ''}' not found.`,
    );
  }
  const value = sim
    .resourcesIn(parentId)
    .filter((r) => r.type === type && r.id.split('/').length === parentId.split('/').length + 2);
  return { status: 200, body: { value: value.map(view) } };
}

const IMAGE_FIXED = ['osType', 'osState', 'hyperVGeneration'] as const;

function putImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images', 'write');
  const id = idOf(req);
  const galleryId = id.split('/').slice(0, -2).join('/');
  if (!sim.getResource(galleryId)) {
    rgCheck(sim, req);
    throw new ArmError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${galleryId.split('/').pop() ?? ''}' not found.`,
    );
  }
  const body = sim.parseBody(req);
  const props = isObject(body.properties) ? body.properties : undefined;
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  if (!props)
    throw new ArmError(400, 'InvalidParameter', "Required parameter 'properties' is missing (null).");
  for (const f of ['osType', 'osState'] as const) {
    if (!str(props[f]))
      throw new ArmError(400, 'InvalidParameter', `Required parameter '${f}' is missing (null).`, {}, [
        { code: 'InvalidParameter', target: f },
      ]);
  }
  const identifier = isObject(props.identifier) ? props.identifier : undefined;
  if (!identifier || !str(identifier.publisher) || !str(identifier.offer) || !str(identifier.sku)) {
    throw new ArmError(400, 'InvalidParameter', "Required parameter 'identifier' is missing (null).");
  }
  const existing = sim.getResource(id);
  if (existing) {
    for (const f of IMAGE_FIXED) {
      const before = str(existing.properties[f]);
      const after = str(props[f]) ?? (f === 'hyperVGeneration' ? 'V1' : undefined);
      if (before !== undefined && after !== undefined && !eqi(before, after)) {
        throw new ArmError(409, 'PropertyChangeNotAllowed', `Changing property '${f}' is not allowed.`, {}, [
          { code: 'PropertyChangeNotAllowed', target: f },
        ]);
      }
    }
    if (JSON.stringify(existing.properties.identifier) !== JSON.stringify(identifier)) {
      throw new ArmError(
        409,
        'PropertyChangeNotAllowed',
        "Changing property 'identifier' is not allowed.",
        {},
        [{ code: 'PropertyChangeNotAllowed', target: 'identifier' }],
      );
    }
  }
  const parsed = parseResourceId(id);
  const r = sim.putResource({
    id,
    type: 'Microsoft.Compute/galleries/images',
    name: parsed?.name ?? '',
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: tagsOf(body),
    properties: {
      ...structuredClone(props),
      hyperVGeneration: str(props.hyperVGeneration) ?? 'V1',
      provisioningState: 'Succeeded',
    },
  });
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location,
    kind: 'imageDefinitionCreate',
    apiVersion: req.apiVersion,
  });
  return { status: existing ? 200 : 201, body: sim.view(r), headers };
}

function deleteImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  if (sim.resourcesIn(r.id).length > 0)
    throw new ArmError(
      409,
      'CannotDeleteResource',
      `Can not delete resource before nested resources are deleted.`,
    );
  sim.deleteResource(r.id);
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'imageDefinitionDelete',
    location202: true,
    apiVersion: req.apiVersion,
  });
  return { status: 202, headers };
}

function getVersion(sim: Simulator, req: ArmRequest): ArmResponse {
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

function putVersion(sim: Simulator, req: ArmRequest): ArmResponse {
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

function patchVersion(sim: Simulator, req: ArmRequest): ArmResponse {
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

function deleteVersion(sim: Simulator, req: ArmRequest): ArmResponse {
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

// ---------------------------------------------------------------- platform images

function platformVersions(sim: Simulator, req: ArmRequest): ArmResponse {
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

// ---------------------------------------------------------------- network (reads + NICs)

function subnetView(sim: Simulator, r: SimResource): Record<string, unknown> {
  return { id: r.id, name: r.name, type: r.type, etag: 'W/"1"', properties: structuredClone(r.properties) };
}

function getVnet(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/virtualNetworks', 'read');
  const r = mustGet(sim, req, 'Microsoft.Network/virtualNetworks');
  return { status: 200, body: sim.view(r, { etag: 'W/"1"' }) };
}

function getVnetWithSubnets(sim: Simulator, req: ArmRequest): ArmResponse {
  const out = getVnet(sim, req);
  const r = sim.getResource(idOf(req));
  if (r && isObject(out.body) && isObject(out.body.properties)) {
    out.body.properties.subnets = sim
      .resourcesIn(r.id)
      .filter((x) => x.type === 'Microsoft.Network/virtualNetworks/subnets')
      .map((x) => subnetView(sim, x));
  }
  return out;
}

function getSubnet(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/virtualNetworks/subnets', 'read');
  return {
    status: 200,
    body: subnetView(sim, mustGet(sim, req, 'Microsoft.Network/virtualNetworks/subnets')),
  };
}

function getNsg(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/networkSecurityGroups', 'read');
  return {
    status: 200,
    body: sim.view(mustGet(sim, req, 'Microsoft.Network/networkSecurityGroups'), { etag: 'W/"1"' }),
  };
}

function getNic(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/networkInterfaces', 'read');
  return { status: 200, body: nicView(sim, mustGet(sim, req, 'Microsoft.Network/networkInterfaces')) };
}

/** A NIC as ARM answers it, with the DNS settings Azure's body carries (recorded traffic). */
function nicView(sim: Simulator, r: SimResource): Record<string, unknown> {
  const v = sim.view(r, { etag: 'W/"1"' });
  const props = v.properties as Record<string, unknown>;
  props.dnsSettings = { dnsServers: [], appliedDnsServers: [] };
  // The defaults Azure answers when the request left them out (REST spec example
  // NetworkInterfaceCreate.json, network 2024-05-01: 200/201 bodies).
  props.enableAcceleratedNetworking ??= false;
  props.enableIPForwarding ??= false;
  props.vnetEncryptionSupported ??= false;
  for (const ipc of Array.isArray(props.ipConfigurations) ? props.ipConfigurations.filter(isObject) : [])
    if (isObject(ipc.properties)) ipc.properties.privateIPAddressVersion ??= 'IPv4';
  return v;
}

function putNic(sim: Simulator, req: ArmRequest): ArmResponse {
  const type = 'Microsoft.Network/networkInterfaces';
  authorizeFor(sim, req, type, 'write');
  rgCheck(sim, req);
  const id = idOf(req);
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = isObject(body.properties) ? body.properties : {};
  const ipcs = Array.isArray(props.ipConfigurations) ? props.ipConfigurations.filter(isObject) : [];
  if (ipcs.length === 0)
    // Network's code and text; the text names the NIC, not its id (F5Networks/f5-cloud-failover-extension#129)
    throw new ArmError(
      400,
      'InvalidIPConfigCount',
      `Network interface ${req.segments[req.segments.length - 1] ?? ''} must have one or more IP configurations.`,
    );
  const configs = ipcs.map((c, i) => {
    const cp = isObject(c.properties) ? c.properties : {};
    const subnetId = str(isObject(cp.subnet) ? cp.subnet.id : undefined);
    if (!subnetId)
      throw new ArmError(
        400,
        'InvalidRequestFormat',
        'Cannot parse the request. The subnet reference is missing.',
      );
    const subnet = sim.getResource(subnetId);
    if (!sim.can(req.claims.oid, 'Microsoft.Network/virtualNetworks/subnets/join/action', subnetId)) {
      throw sim.linkedAuthorizationFailed(
        req.claims,
        `${type}/write`,
        id,
        ['Microsoft.Network/virtualNetworks/subnets/join/action'],
        [subnetId],
      );
    }
    if (!subnet)
      throw new ArmError(
        400,
        'InvalidResourceReference',
        `Resource ${subnetId} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      );
    if (!eqi(subnet.location, location)) {
      throw new ArmError(
        400,
        'InvalidResourceReference',
        `Resource ${subnetId} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      );
    }
    return {
      id: `${id}/ipConfigurations/${str(c.name) ?? `ipconfig${i + 1}`}`,
      name: str(c.name) ?? `ipconfig${i + 1}`,
      properties: {
        privateIPAddress: `10.30.1.${4 + i}`,
        privateIPAllocationMethod: 'Dynamic',
        subnet: { id: subnetId },
        primary: i === 0,
        provisioningState: 'Succeeded',
      },
    };
  });
  const existing = sim.getResource(id);
  const parsed = parseResourceId(id);
  const r = sim.putResource({
    id,
    type,
    name: parsed?.name ?? '',
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: tagsOf(body),
    properties: {
      provisioningState: 'Succeeded',
      ipConfigurations: configs,
      ...(typeof props.enableAcceleratedNetworking === 'boolean'
        ? { enableAcceleratedNetworking: props.enableAcceleratedNetworking }
        : {}),
      ...(typeof props.enableIPForwarding === 'boolean'
        ? { enableIPForwarding: props.enableIPForwarding }
        : {}),
      ...(existing?.properties.virtualMachine ? { virtualMachine: existing.properties.virtualMachine } : {}),
    },
  });
  // Synchronous in Azure: 201 (200 on update) with the NIC, no operation headers (recorded traffic).
  return { status: existing ? 200 : 201, body: nicView(sim, r) };
}

/**
 * A VM create that fails keeps its NICs reserved for it for 180 s: deleting one, or giving it to
 * another VM, is refused meanwhile (400 NicReservedForAnotherVm; taskcluster/taskcluster#7196,
 * cloudfoundry/bosh-azure-cpi-release#366, gardenlinux/gardenlinux#4133, Azure/karpenter-provider-azure#92).
 */
const NIC_RESERVATION_MS = 180_000;

function nicReserved(sim: Simulator, nic: SimResource, forVm?: string): ArmError | undefined {
  const until = typeof nic.internal.reservedUntil === 'number' ? nic.internal.reservedUntil : 0;
  const reservedFor = typeof nic.internal.reservedFor === 'string' ? nic.internal.reservedFor : '';
  if (sim.clock.now() >= until || (forVm !== undefined && eqi(forVm, reservedFor))) return undefined;
  const seconds = NIC_RESERVATION_MS / 1000;
  return new ArmError(
    400,
    'NicReservedForAnotherVm',
    `Nic(s) in request is reserved for another Virtual Machine for ${seconds} seconds. Please provide another nic(s) or retry after ${seconds} seconds. Reserved VM: ${reservedFor}`,
  );
}

function deleteNic(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/networkInterfaces', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  const reserved = nicReserved(sim, r);
  if (reserved) throw reserved;
  const vm = isObject(r.properties.virtualMachine) ? str(r.properties.virtualMachine.id) : undefined;
  if (vm && sim.getResource(vm)) {
    throw new ArmError(
      400,
      'NicInUse',
      `Network Interface ${r.id} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`,
    );
  }
  if (r.internal.deleting) return { status: 202, headers: sim.beginOperation(nicDeleteOp(sim, r, req)) };
  r.internal.deleting = true;
  r.properties.provisioningState = 'Deleting';
  const headers = sim.beginOperation({
    ...nicDeleteOp(sim, r, req),
    outcome: { onDone: () => sim.deleteResource(r.id) },
  });
  return { status: 202, headers };
}

function nicDeleteOp(
  sim: Simulator,
  r: SimResource,
  req: ArmRequest,
): Parameters<Simulator['beginOperation']>[0] {
  return {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Network',
    location: r.location,
    kind: 'nicDelete',
    location202: true,
    apiVersion: req.apiVersion,
  };
}

// ---------------------------------------------------------------- VMs and disks

/** When the VM's create operation ends: it is Succeeded from then on (never Creating after it). */
export function vmReadyAt(sim: Simulator, r: SimResource): number {
  return typeof r.internal.readyAt === 'number'
    ? r.internal.readyAt
    : r.createdAt + sim.lroTimings.vmCreate.durationMs;
}

function vmView(sim: Simulator, r: SimResource): Record<string, unknown> {
  const v = sim.view(r) as { properties: Record<string, unknown>; etag?: string };
  const ready = sim.clock.now() >= vmReadyAt(sim, r);
  v.properties.provisioningState = r.internal.deleting
    ? 'Deleting'
    : r.properties.provisioningState === 'Failed'
      ? 'Failed'
      : ready
        ? 'Succeeded'
        : 'Creating';
  // Fields Azure's VM body carries (recorded traffic): creation time, the OS disk's type and
  // size, the exact gallery version behind the image reference.
  v.properties.timeCreated = new Date(r.createdAt).toISOString();
  const sp = v.properties.storageProfile as
    | {
        imageReference?: { id?: string; exactVersion?: string };
        osDisk?: { osType?: string; diskSizeGB?: number; managedDisk?: { id?: string } };
      }
    | undefined;
  const imageId = sp?.imageReference?.id;
  if (imageId && /\/versions\/[^/]+$/i.test(imageId) && sp?.imageReference)
    sp.imageReference.exactVersion = imageId.split('/').pop() ?? '';
  // Recorded traffic: managedDisk.id appears only on the GET after the create has completed.
  if (!ready && sp?.osDisk?.managedDisk) delete sp.osDisk.managedDisk.id;
  // Defaults Azure answers when the request left them out (the ComputeRP VM create examples'
  // responses in azure-rest-api-specs): no data disks, a ReadWrite-cached OS disk, no secrets.
  const storage = sp as Record<string, unknown> | undefined;
  if (storage) storage.dataDisks ??= [];
  if (sp?.osDisk) (sp.osDisk as Record<string, unknown>).caching ??= 'ReadWrite';
  const os = (v.properties.osProfile ?? {}) as Record<string, unknown>;
  delete os.adminPassword;
  delete os.customData;
  if (v.properties.osProfile !== undefined) os.secrets ??= [];
  // The VM carries an etag (recorded traffic; VirtualMachine.etag in the REST spec); its value
  // here is constant, not Azure's per-write counter.
  v.etag = '"1"';
  return v;
}

function getVm(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/virtualMachines', 'read');
  const r = mustGet(sim, req, 'Microsoft.Compute/virtualMachines');
  const body = vmView(sim, r);
  // `$expand=instanceView`: a failed create's error is in the statuses, as
  // ProvisioningState/failed/<code> (VirtualMachineInstanceView; InstanceViewStatus in the REST spec).
  const failure = r.internal.createFailure as { code: string; message: string } | undefined;
  if (
    /instanceView/i.test(req.query.get('$expand') ?? '') &&
    failure &&
    r.properties.provisioningState === 'Failed'
  )
    (body.properties as Record<string, unknown>).instanceView = {
      statuses: [
        {
          code: `ProvisioningState/failed/${failure.code}`,
          level: 'Error',
          displayStatus: 'Provisioning failed',
          message: failure.message,
        },
      ],
    };
  return { status: 200, body };
}

function putVm(sim: Simulator, req: ArmRequest): ArmResponse {
  const type = 'Microsoft.Compute/virtualMachines';
  authorizeFor(sim, req, type, 'write');
  rgCheck(sim, req);
  const id = idOf(req);
  const existing = sim.getResource(id);
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = isObject(body.properties) ? structuredClone(body.properties) : {};
  const sp = isObject(props.storageProfile) ? props.storageProfile : {};
  const imageRef = isObject(sp.imageReference) ? sp.imageReference : {};
  const imageId = str(imageRef.id);
  if (existing) {
    return {
      status: 200,
      body: vmView(sim, existing),
      headers: sim.beginOperation({
        subscriptionId: existing.subscriptionId,
        namespace: 'Microsoft.Compute',
        location,
        kind: 'vmCreate',
        apiVersion: req.apiVersion,
        endsAt: Math.max(sim.clock.now(), vmReadyAt(sim, existing)),
      }),
    };
  }
  if (!isObject(props.hardwareProfile) || !str(props.hardwareProfile.vmSize))
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'hardwareProfile.vmSize' is missing (null).",
    );
  const os = isObject(props.osProfile) ? props.osProfile : undefined;
  if (!os || !str(os.adminUsername))
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'osProfile.adminUsername' is missing (null).",
    );
  if (imageId) {
    const parsed = parseResourceId(imageId);
    const readAction = `${parsed?.type ?? 'Microsoft.Compute/galleries/images/versions'}/read`;
    const image = sim.getResource(imageId);
    const sameTenant =
      parsed && eqi(sim.subscriptionTenant.get(parsed.subscriptionId.toLowerCase()), req.claims.tid);
    if (!sameTenant) throw sim.linkedSubscriptionNotAuthorized(req.claims, readAction, id, imageId);
    if (!sim.can(req.claims.oid, readAction, imageId))
      throw sim.linkedAuthorizationFailed(req.claims, `${type}/write`, id, [readAction], [imageId]);
    if (!image)
      throw new ArmError(
        404,
        'GalleryImageNotFound',
        `The gallery image ${imageId} is not available in ${location} region. Please contact image owner to replicate to this region, or change your requested region.`,
      );
    if (
      image.type === 'Microsoft.Compute/galleries/images/versions' &&
      !isReplicatedIn(sim, image, location)
    ) {
      throw new ArmError(
        404,
        'GalleryImageNotFound',
        `The gallery image ${imageId} is not available in ${location} region. Please contact image owner to replicate to this region, or change your requested region.`,
      );
    }
  } else if (!str(imageRef.publisher)) {
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'storageProfile.imageReference' is missing (null).",
    );
  }
  const np = isObject(props.networkProfile) ? props.networkProfile : {};
  const nics = Array.isArray(np.networkInterfaces) ? np.networkInterfaces.filter(isObject) : [];
  if (nics.length === 0)
    throw new ArmError(400, 'InvalidParameter', "Required parameter 'networkProfile' is missing (null).");
  for (const nic of nics) {
    const nicId = str(nic.id) ?? '';
    const nicRes = sim.getResource(nicId);
    if (!nicRes) throw new ArmError(400, 'NotFound', `Resource ${nicId} not found.`);
    if (!sim.can(req.claims.oid, 'Microsoft.Network/networkInterfaces/join/action', nicId))
      throw sim.linkedAuthorizationFailed(
        req.claims,
        `${type}/write`,
        id,
        ['Microsoft.Network/networkInterfaces/join/action'],
        [nicId],
      );
    const reserved = nicReserved(sim, nicRes, id);
    if (reserved) throw reserved;
    const used = isObject(nicRes.properties.virtualMachine)
      ? str(nicRes.properties.virtualMachine.id)
      : undefined;
    if (used && !eqi(used, id) && sim.getResource(used))
      throw new ArmError(400, 'NicInUse', `Network interface ${nicId} is already in use by ${used}.`);
    nicRes.properties.virtualMachine = { id };
  }
  const parsed = parseResourceId(id);
  const osDiskIn = isObject(sp.osDisk) ? sp.osDisk : {};
  const diskName =
    str(osDiskIn.name) ?? `${parsed?.name ?? 'vm'}_OsDisk_1_${sim.newGuid().replace(/-/g, '')}`;
  const diskId = `/subscriptions/${parsed?.subscriptionId ?? ''}/resourceGroups/${parsed?.resourceGroup ?? ''}/providers/Microsoft.Compute/disks/${diskName}`;
  sim.putResource({
    id: diskId,
    type: 'Microsoft.Compute/disks',
    name: diskName,
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: {},
    properties: {
      provisioningState: 'Succeeded',
      diskState: 'Attached',
      diskSizeGB: 30,
      creationData: {
        createOption: 'FromImage',
        ...(imageId ? { galleryImageReference: { id: imageId } } : {}),
      },
    },
    internal: { attachedTo: id },
  });
  // The OS disk's type comes from the image (a gallery version's definition, a managed image).
  const image = imageId ? sim.getResource(imageId) : undefined;
  const definition = image ? sim.getResource(image.id.split('/').slice(0, -2).join('/')) : undefined;
  const managedOs = image?.properties.storageProfile as { osDisk?: { osType?: string } } | undefined;
  const osType =
    str(definition?.properties.osType) ??
    str(managedOs?.osDisk?.osType) ??
    (isObject(os.linuxConfiguration) ? 'Linux' : 'Windows');
  sp.osDisk = {
    ...osDiskIn,
    osType,
    diskSizeGB: typeof osDiskIn.diskSizeGB === 'number' ? osDiskIn.diskSizeGB : 30,
    name: diskName,
    createOption: 'FromImage',
    deleteOption: str(osDiskIn.deleteOption) ?? 'Detach',
    managedDisk: { ...(isObject(osDiskIn.managedDisk) ? osDiskIn.managedDisk : {}), id: diskId },
  };
  props.storageProfile = sp;
  props.vmId = sim.newGuid();
  const r = sim.putResource({
    id,
    type,
    name: parsed?.name ?? '',
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: tagsOf(body),
    properties: props,
    internal: { imageId, readyAt: sim.clock.now() + sim.lroTimings.vmCreate.durationMs },
  });
  const failureAt = sim.vmCreateFailures.findIndex((f) => eqi(f.vmName, r.name));
  const failure = failureAt >= 0 ? sim.vmCreateFailures.splice(failureAt, 1)[0] : undefined;
  // The create operation and the VM's provisioningState end together (vmReadyAt).
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location,
    kind: 'vmCreate',
    apiVersion: req.apiVersion,
    ...(failure
      ? {
          outcome: {
            error: { code: failure.code, message: failure.message },
            // The VM stays, Failed; its NICs are released from it but reserved for it a while.
            onDone: () => {
              r.properties.provisioningState = 'Failed';
              r.internal.createFailure = { code: failure.code, message: failure.message };
              for (const nic of nics) {
                const nicRes = sim.getResource(str(nic.id) ?? '');
                if (!nicRes) continue;
                delete nicRes.properties.virtualMachine;
                nicRes.internal.reservedFor = r.id;
                // From when the create failed (its operation's end), not from when the failure is first read.
                nicRes.internal.reservedUntil = vmReadyAt(sim, r) + NIC_RESERVATION_MS;
              }
            },
          },
        }
      : {}),
    endsAt: vmReadyAt(sim, r),
  });
  return { status: 201, body: vmView(sim, r), headers: { ...headers, ...VM_ASYNC_NOTIFICATION } };
}

function deleteVm(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/virtualMachines', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  if (r.internal.deleting) return { status: 202, headers: sim.beginOperation(vmDeleteOp(r, req)) };
  r.internal.deleting = true;
  const onDone = (): void => {
    const sp = r.properties.storageProfile as
      { osDisk?: { deleteOption?: string; managedDisk?: { id?: string } } } | undefined;
    const diskId = sp?.osDisk?.managedDisk?.id;
    const disk = diskId ? sim.getResource(diskId) : undefined;
    if (disk) {
      if (eqi(sp?.osDisk?.deleteOption, 'Delete')) sim.deleteResource(disk.id);
      else {
        disk.properties.diskState = 'Unattached';
        delete disk.internal.attachedTo;
      }
    }
    const np = r.properties.networkProfile as
      { networkInterfaces?: { id?: string; properties?: { deleteOption?: string } }[] } | undefined;
    for (const n of np?.networkInterfaces ?? []) {
      const nic = n.id ? sim.getResource(n.id) : undefined;
      if (!nic) continue;
      // A NIC the VM never got (its create failed) is not the VM's to delete.
      const attached =
        isObject(nic.properties.virtualMachine) && eqi(str(nic.properties.virtualMachine.id), r.id);
      if (eqi(n.properties?.deleteOption, 'Delete') && attached) sim.deleteResource(nic.id);
      else if (attached) delete nic.properties.virtualMachine;
    }
    sim.deleteResource(r.id);
  };
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'vmDelete',
    location202: true,
    apiVersion: req.apiVersion,
    outcome: { onDone },
  });
  return { status: 202, headers: { ...headers, ...VM_ASYNC_NOTIFICATION } };
}

function vmDeleteOp(r: SimResource, req: ArmRequest): Parameters<Simulator['beginOperation']>[0] {
  return {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'vmDelete',
    location202: true,
    apiVersion: req.apiVersion,
  };
}

/** Recorded traffic: VM writes answer with `azure-asyncnotification: Enabled`. */
const VM_ASYNC_NOTIFICATION = { 'azure-asyncnotification': 'Enabled' };

/** Action Run Command keeps only the last 4,096 bytes of each stream (Azure's documented limit). */
export const RUN_COMMAND_OUTPUT_LIMIT = 4096;

export function lastBytes(text: string, limit = RUN_COMMAND_OUTPUT_LIMIT): string {
  const buf = Buffer.from(text, 'utf8');
  return buf.length <= limit ? text : buf.subarray(buf.length - limit).toString('utf8');
}

/** First line of Image Factory's exit-code wrapper (src/adapters/runCommandScript.ts). */
const WRAPPER_HEADER = /^# image-factory: exit-code marker wrapper v1\b/;

/**
 * The simulated VM does not execute scripts: `scriptRunCommand` decides what the user's script does.
 * When the script is Image Factory's exit-code wrapper, the VM "runs" the wrapper around it the way
 * sh/PowerShell would: the user's script sees its own text, the wrapper appends `##exitcode=N` to
 * stdout and always exits 0.
 */
function unwrap(shell: 'Shell' | 'PowerShell', script: string): { inner: string; wrapped: boolean } {
  const lines = script.split('\n');
  if (!WRAPPER_HEADER.test(lines[0] ?? '')) return { inner: script, wrapped: false };
  if (shell === 'Shell') {
    const close = lines.lastIndexOf(')');
    if (lines[1] !== '(' || lines[2] !== ':' || close < 3) return { inner: script, wrapped: false };
    return { inner: lines.slice(3, close).join('\n'), wrapped: true };
  }
  const b64 = /FromBase64String\('([A-Za-z0-9+/=]*)'\)/.exec(script)?.[1];
  if (b64 === undefined) return { inner: script, wrapped: false };
  return { inner: Buffer.from(b64, 'base64').toString('utf8'), wrapped: true };
}

function runCommand(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req).split('/').slice(0, -1).join('/');
  sim.authorize(req.claims, 'Microsoft.Compute/virtualMachines/runCommand/action', id);
  const vm = sim.getResource(id);
  if (!vm) throw sim.notFound(req.segments, 'Microsoft.Compute/virtualMachines', req.segments[7] ?? '');
  if (sim.clock.now() < vmReadyAt(sim, vm) || vm.internal.deleting) {
    throw new ArmError(
      409,
      'OperationNotAllowed',
      `Operation 'RunCommand' is not allowed on VM '${vm.name}' since the VM is not running (provisioning state is not Succeeded).`,
    );
  }
  const body = sim.parseBody(req);
  const commandId = str(body.commandId) ?? '';
  if (commandId !== 'RunShellScript' && commandId !== 'RunPowerShellScript')
    // The Run Command doc's answer to a command id that is not available ("Restrictions"); the
    // status and code are not documented, Compute uses 404 NotFound for "entity not found".
    throw new ArmError(404, 'NotFound', 'The entity was not found in this Azure location.');
  const script = (Array.isArray(body.script) ? body.script : []).map(String).join('\n');
  const shell = commandId === 'RunShellScript' ? 'Shell' : 'PowerShell';
  const { out, durationMs } = executeScript(sim, vm, shell, script);
  const stdout = lastBytes(out.stdout);
  const stderr = lastBytes(out.stderr);
  // Linux (RunCommandLinux): one status whose message holds both streams; a non-zero exit of the
  // script is stated in it. Windows (RunCommandWindows): two statuses, StdOut and StdErr, both
  // "succeeded" whatever the script's exit code (Azure reports no exit code for RunPowerShellScript).
  const result =
    shell === 'Shell'
      ? {
          value: [
            {
              code: 'ProvisioningState/succeeded',
              level: 'Info',
              displayStatus: 'Provisioning succeeded',
              message: `${out.exitCode === 0 ? 'Enable succeeded: ' : `Enable failed: failed to execute command: command terminated with exit status=${out.exitCode}`}\n[stdout]\n${stdout}\n[stderr]\n${stderr}\n`,
            },
          ],
        }
      : {
          value: [
            {
              code: 'ComponentStatus/StdOut/succeeded',
              level: 'Info',
              displayStatus: 'Provisioning succeeded',
              message: stdout,
            },
            {
              code: 'ComponentStatus/StdErr/succeeded',
              level: 'Info',
              displayStatus: 'Provisioning succeeded',
              message: stderr,
            },
          ],
        };
  // The action's operation lasts as long as the script runs.
  const headers = sim.beginOperation({
    subscriptionId: vm.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: vm.location,
    kind: 'vmRunCommand',
    location202: true,
    apiVersion: req.apiVersion,
    endsAt: sim.clock.now() + durationMs,
    outcome: { result },
  });
  return { status: 202, headers };
}

/**
 * What the simulated VM's script produces (decided by `scriptRunCommand`) and how long it runs; the
 * exit-code wrapper is "run" around the user's script as sh/PowerShell would.
 */
export function executeScript(
  sim: Simulator,
  vm: SimResource,
  shell: 'Shell' | 'PowerShell',
  script: string,
): { out: { exitCode: number; stdout: string; stderr: string }; durationMs: number } {
  const { inner, wrapped } = unwrap(shell, script);
  const user = sim.runCommandScript
    ? sim.runCommandScript({
        vmId: vm.id,
        imageVersionId: str(vm.internal.imageId) ?? '',
        shell,
        script: inner,
      })
    : { exitCode: 0, stdout: '', stderr: '' };
  const durationMs = user.durationMs ?? DEFAULT_SCRIPT_DURATION_MS;
  // What the process run by the extension produced: the wrapper prints the marker and exits 0.
  const out = wrapped
    ? {
        exitCode: 0,
        stdout:
          shell === 'Shell'
            ? `${user.stdout}\n##exitcode=${user.exitCode}\n` // printf '\n##exitcode=%s\n'
            : `${user.stdout}${user.stdout === '' || user.stdout.endsWith('\n') ? '' : '\n'}##exitcode=${user.exitCode}\n`,
        stderr: user.stderr,
      }
    : { exitCode: user.exitCode, stdout: user.stdout, stderr: user.stderr };
  return { out, durationMs };
}

function getDisk(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/disks', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/disks')) };
}

/** PATCH disks: tags (replaced as a whole, as ARM PATCH does); other updatable fields are ignored. */
function patchDisk(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/disks', 'write');
  const r = mustGet(sim, req, 'Microsoft.Compute/disks');
  const body = sim.parseBody(req);
  if (isObject(body.tags)) r.tags = tagsOf(body);
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'diskUpdate',
    apiVersion: req.apiVersion,
  });
  return { status: 200, body: sim.view(r), headers };
}

function deleteDisk(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/disks', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  const attached = str(r.internal.attachedTo);
  if (attached && sim.getResource(attached)) {
    throw new ArmError(409, 'OperationNotAllowed', `Disk ${r.name} is attached to VM ${attached}.`);
  }
  const op = {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'diskDelete' as const,
    location202: true,
    apiVersion: req.apiVersion,
  };
  if (r.internal.deleting) return { status: 202, headers: sim.beginOperation(op) };
  r.internal.deleting = true;
  r.properties.provisioningState = 'Deleting';
  const headers = sim.beginOperation({ ...op, outcome: { onDone: () => sim.deleteResource(r.id) } });
  return { status: 202, headers };
}

function getManagedImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/images', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/images')) };
}

export const computeRoutes: Route[] = [
  { type: 'microsoft.compute/galleries', verb: 'get', handler: getGallery },
  { type: 'microsoft.compute/galleries/images', verb: 'get', handler: getImage },
  { type: 'microsoft.compute/galleries/images', verb: 'put', handler: putImage },
  { type: 'microsoft.compute/galleries/images', verb: 'delete', handler: deleteImage },
  {
    type: 'microsoft.compute/galleries/images',
    verb: 'list',
    handler: (sim, req) => listChildren(sim, req, 'Microsoft.Compute/galleries/images', (r) => sim.view(r)),
  },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'get', handler: getVersion },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'put', handler: putVersion },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'patch', handler: patchVersion },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'delete', handler: deleteVersion },
  {
    type: 'microsoft.compute/galleries/images/versions',
    verb: 'list',
    handler: (sim, req) =>
      listChildren(sim, req, 'Microsoft.Compute/galleries/images/versions', (r) =>
        versionView(sim, r, false),
      ),
  },
  {
    type: 'microsoft.compute/locations/publishers/artifacttypes/offers/skus/versions',
    verb: 'list',
    handler: platformVersions,
  },
  {
    type: 'microsoft.compute/locations/publishers/artifacttypes/offers/skus/versions',
    verb: 'get',
    handler: platformVersions,
  },
  { type: 'microsoft.compute/images', verb: 'get', handler: getManagedImage },
  { type: 'microsoft.compute/virtualmachines', verb: 'get', handler: getVm },
  { type: 'microsoft.compute/virtualmachines', verb: 'put', handler: putVm },
  { type: 'microsoft.compute/virtualmachines', verb: 'delete', handler: deleteVm },
  { type: 'microsoft.compute/virtualmachines', verb: 'action:runcommand', handler: runCommand },
  { type: 'microsoft.compute/disks', verb: 'get', handler: getDisk },
  { type: 'microsoft.compute/disks', verb: 'patch', handler: patchDisk },
  { type: 'microsoft.compute/disks', verb: 'delete', handler: deleteDisk },
  { type: 'microsoft.network/virtualnetworks', verb: 'get', handler: getVnetWithSubnets },
  { type: 'microsoft.network/virtualnetworks/subnets', verb: 'get', handler: getSubnet },
  { type: 'microsoft.network/networksecuritygroups', verb: 'get', handler: getNsg },
  { type: 'microsoft.network/networkinterfaces', verb: 'get', handler: getNic },
  { type: 'microsoft.network/networkinterfaces', verb: 'put', handler: putNic },
  { type: 'microsoft.network/networkinterfaces', verb: 'delete', handler: deleteNic },
];
