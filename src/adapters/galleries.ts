/** GalleryPort and PlatformImagePort over @azure/arm-compute 25.x (flattened models, galleries 2025-12-03). */
import type { GalleryImage, GalleryImageVersion } from '@azure/arm-compute';
import type {
  GalleryImageRef,
  GalleryImageVersionRef,
  GalleryPort,
  ImageDefinitionSpec,
  ImageVersionInfo,
  ImageVersionSpec,
  PlatformImagePort,
  RegionReplicationState,
  TargetRegion,
} from '../ports/azure';
import { FactoryError } from '../shared/errors';
import type { ClientFactory } from './clients';
import { azureCall, classifyAzureError, orUndefined, type ErrorContext } from './errors';

export function imageDefinitionId(ref: GalleryImageRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Compute/galleries/${ref.gallery}/images/${ref.image}`;
}

export function imageVersionId(ref: GalleryImageVersionRef): string {
  return `${imageDefinitionId(ref)}/versions/${ref.version}`;
}

function toTargetRegions(
  regions: TargetRegion[],
): { name: string; regionalReplicaCount: number; storageAccountType: TargetRegion['storageAccountType'] }[] {
  return regions.map((region) => ({
    name: region.name,
    regionalReplicaCount: region.replicaCount,
    storageAccountType: region.storageAccountType,
  }));
}

function isoDate(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}

export function toVersionInfo(version: GalleryImageVersion): ImageVersionInfo {
  const profile = version.publishingProfile;
  const summary = version.replicationStatus?.summary ?? [];
  const endOfLifeDate = isoDate(profile?.endOfLifeDate);
  return {
    id: version.id ?? '',
    provisioningState: (version.provisioningState ?? 'Creating') as ImageVersionInfo['provisioningState'],
    excludeFromLatest: profile?.excludeFromLatest ?? false,
    ...(endOfLifeDate === undefined ? {} : { endOfLifeDate }),
    tags: { ...(version.tags ?? {}) },
    regions:
      summary.length > 0
        ? summary.map((region) => ({
            // ARM answers display names ("West Europe"): the factory speaks region codes.
            name: normalizeRegion(region.region),
            state: (region.state ?? 'Unknown') as RegionReplicationState,
            progress: region.progress ?? 0,
            ...(region.details === undefined ? {} : { details: region.details }),
          }))
        : (profile?.targetRegions ?? []).map((region) => ({
            name: normalizeRegion(region.name),
            state: 'Unknown',
            progress: 0,
          })),
  };
}

function sourceIdOf(version: GalleryImageVersion): string | undefined {
  return (
    version.storageProfile?.source?.id ??
    version.storageProfile?.osDiskImage?.source?.uri ??
    version.storageProfile?.osDiskImage?.source?.id
  );
}

function specSourceId(spec: ImageVersionSpec): string {
  return spec.source.kind === 'vhd' ? spec.source.uri : spec.source.id;
}

function tenantsHint(auxiliaryTenantIds: string[]): Partial<ErrorContext> {
  return auxiliaryTenantIds.length === 0 ? {} : { auxiliaryTenantIds };
}

export class GalleryAdapter implements GalleryPort {
  constructor(private readonly clients: ClientFactory) {}

  private context(operation: string, resource: string): ErrorContext {
    return {
      operation,
      resource,
      principal: this.clients.runtime.store.principal(this.clients.credentialName),
      ...tenantsHint(this.clients.auxiliaryTenantIds),
    };
  }

  private compute(subscriptionId: string): ReturnType<ClientFactory['compute']> {
    return this.clients.compute(subscriptionId);
  }

  private get poll(): { updateIntervalInMs: number } {
    return { updateIntervalInMs: this.clients.runtime.updateIntervalInMs };
  }

  async getImageDefinition(ref: GalleryImageRef): Promise<ImageDefinitionSpec | undefined> {
    const image = await orUndefined(this.context('read image definition', imageDefinitionId(ref)), () =>
      this.compute(ref.subscriptionId).galleryImages.get(ref.resourceGroup, ref.gallery, ref.image),
    );
    return image === undefined ? undefined : toDefinitionSpec(ref, image);
  }

  async ensureImageDefinition(spec: ImageDefinitionSpec): Promise<void> {
    const id = imageDefinitionId(spec);
    const existing = await this.getImageDefinition(spec);
    if (existing !== undefined) {
      const differences = definitionDifferences(spec, existing);
      if (differences.length > 0) {
        throw new FactoryError(
          'Conflict',
          `Image definition ${id} exists with different properties: ${differences.join('; ')}`,
          {
            retryable: false,
            hint: 'Image definitions cannot change these properties: use a new image definition name, or align the pipeline with the existing one.',
            details: { resource: id, differences },
          },
        );
      }
      return;
    }
    const features = {
      ...(spec.features ?? {}),
      ...(spec.securityType === undefined ? {} : { SecurityType: spec.securityType }),
    };
    const body: GalleryImage = {
      location: spec.location,
      osType: spec.osType,
      osState: spec.osState,
      hyperVGeneration: spec.hyperVGeneration,
      identifier: { ...spec.identifier },
      ...(Object.keys(features).length === 0
        ? {}
        : { features: Object.entries(features).map(([name, value]) => ({ name, value })) }),
    };
    await azureCall(this.context('create image definition', id), () =>
      this.compute(spec.subscriptionId).galleryImages.createOrUpdate(
        spec.resourceGroup,
        spec.gallery,
        spec.image,
        body,
        this.poll,
      ),
    );
  }

  async getVersion(ref: GalleryImageVersionRef): Promise<ImageVersionInfo | undefined> {
    const version = await this.readVersion(ref);
    return version === undefined ? undefined : toVersionInfo(version);
  }

  private readVersion(ref: GalleryImageVersionRef): Promise<GalleryImageVersion | undefined> {
    return orUndefined(this.context('read image version', imageVersionId(ref)), () =>
      this.compute(ref.subscriptionId).galleryImageVersions.get(
        ref.resourceGroup,
        ref.gallery,
        ref.image,
        ref.version,
        { expand: 'ReplicationStatus' },
      ),
    );
  }

  async listVersions(ref: GalleryImageRef): Promise<ImageVersionInfo[]> {
    return azureCall(this.context('list image versions', imageDefinitionId(ref)), async () => {
      const out: ImageVersionInfo[] = [];
      for await (const version of this.compute(ref.subscriptionId).galleryImageVersions.listByGalleryImage(
        ref.resourceGroup,
        ref.gallery,
        ref.image,
      )) {
        out.push(toVersionInfo(version));
      }
      return out;
    });
  }

  async beginCreateVersion(spec: ImageVersionSpec): Promise<void> {
    const id = imageVersionId(spec);
    const existing = await this.readVersion(spec);
    if (existing !== undefined) {
      const existingSource = sourceIdOf(existing);
      if (existingSource !== undefined && existingSource.toLowerCase() !== specSourceId(spec).toLowerCase()) {
        throw new FactoryError(
          'Conflict',
          `Image version ${id} exists already with another source (${existingSource})`,
          {
            retryable: false,
            hint: 'Gallery image versions are immutable: publish under a new version number.',
            details: { resource: id, existingSource, requestedSource: specSourceId(spec) },
          },
        );
      }
      if (existing.provisioningState !== 'Failed') return;
      throw new FactoryError(
        'OperationFailed',
        `Image version ${id} exists from an earlier attempt and failed`,
        {
          retryable: false,
          hint: 'Delete the failed version (deleteVersion), then create it again.',
          details: { resource: id },
        },
      );
    }
    const source = spec.source;
    const body: GalleryImageVersion = {
      location: spec.location,
      tags: spec.tags,
      publishingProfile: {
        targetRegions: toTargetRegions(spec.targetRegions),
        excludeFromLatest: spec.excludeFromLatest,
        ...(spec.endOfLifeDate === undefined ? {} : { endOfLifeDate: new Date(spec.endOfLifeDate) }),
      },
      storageProfile:
        source.kind === 'vhd'
          ? { osDiskImage: { source: { uri: source.uri, storageAccountId: source.storageAccountId } } }
          : { source: { id: source.id } },
    };
    // Copy/replication runs for tens of minutes: only wait until ARM accepted the PUT.
    await azureCall(this.context('create image version', id), async () => {
      await this.compute(spec.subscriptionId)
        .galleryImageVersions.createOrUpdate(
          spec.resourceGroup,
          spec.gallery,
          spec.image,
          spec.version,
          body,
          this.poll,
        )
        .submitted();
    });
  }

  async updateVersion(
    ref: GalleryImageVersionRef,
    patch: {
      excludeFromLatest?: boolean;
      endOfLifeDate?: string;
      tags?: Record<string, string>;
      targetRegions?: TargetRegion[];
    },
  ): Promise<void> {
    const id = imageVersionId(ref);
    const context = this.context('update image version', id);
    const existing = await this.readVersion(ref);
    if (existing === undefined)
      throw new FactoryError('NotFound', `Cannot update image version ${id}: it does not exist`, {
        retryable: false,
        details: { resource: id },
      });
    if (patchApplied(existing, patch)) return; // a retry after ARM accepted it: never PATCH twice
    const publishingProfile = {
      ...(patch.excludeFromLatest === undefined ? {} : { excludeFromLatest: patch.excludeFromLatest }),
      ...(patch.endOfLifeDate === undefined ? {} : { endOfLifeDate: new Date(patch.endOfLifeDate) }),
      ...(patch.targetRegions === undefined ? {} : { targetRegions: toTargetRegions(patch.targetRegions) }),
    };
    // A PATCH runs ~3 minutes in Azure (Retry-After 60 s): return once ARM accepted it; the
    // orchestration reads the version until it leaves Updating.
    await azureCall(context, async () => {
      await this.compute(ref.subscriptionId)
        .galleryImageVersions.update(
          ref.resourceGroup,
          ref.gallery,
          ref.image,
          ref.version,
          {
            ...(patch.tags === undefined ? {} : { tags: { ...(existing.tags ?? {}), ...patch.tags } }),
            ...(Object.keys(publishingProfile).length === 0 ? {} : { publishingProfile }),
          },
          this.poll,
        )
        .submitted();
    });
  }

  async deleteVersion(ref: GalleryImageVersionRef): Promise<void> {
    const context = this.context('delete image version', imageVersionId(ref));
    const existing = await this.readVersion(ref);
    // Gone, or its delete already accepted (~1.5 min in Azure): never DELETE twice.
    if (existing === undefined || existing.provisioningState === 'Deleting') return;
    try {
      await this.compute(ref.subscriptionId)
        .galleryImageVersions.delete(ref.resourceGroup, ref.gallery, ref.image, ref.version, this.poll)
        .submitted();
    } catch (error) {
      const classified = classifyAzureError(error, context);
      if (classified.code !== 'NotFound') throw classified;
    }
  }
}

/** Whether the version already carries every value the patch asks for. */
function patchApplied(
  version: GalleryImageVersion,
  patch: {
    excludeFromLatest?: boolean;
    endOfLifeDate?: string;
    tags?: Record<string, string>;
    targetRegions?: TargetRegion[];
  },
): boolean {
  const profile = version.publishingProfile;
  if (patch.excludeFromLatest !== undefined && profile?.excludeFromLatest !== patch.excludeFromLatest)
    return false;
  if (
    patch.endOfLifeDate !== undefined &&
    profile?.endOfLifeDate?.getTime() !== new Date(patch.endOfLifeDate).getTime()
  )
    return false;
  if (patch.tags !== undefined && Object.entries(patch.tags).some(([k, v]) => version.tags?.[k] !== v))
    return false;
  if (patch.targetRegions !== undefined) {
    const have = new Set((profile?.targetRegions ?? []).map((r) => normalizeRegion(r.name)));
    const want = patch.targetRegions.map((r) => normalizeRegion(r.name));
    if (have.size !== want.length || want.some((r) => !have.has(r))) return false;
  }
  return true;
}

/** "West Europe", "westeurope" and "WestEurope" are one region: ARM answers display names. */
export function normalizeRegion(name: string | undefined): string {
  return (name ?? '').replace(/\s+/g, '').toLowerCase();
}

function toDefinitionSpec(ref: GalleryImageRef, image: GalleryImage): ImageDefinitionSpec {
  const features: Record<string, string> = {};
  let securityType: ImageDefinitionSpec['securityType'];
  for (const feature of image.features ?? []) {
    if (feature.name === undefined || feature.value === undefined) continue;
    if (feature.name === 'SecurityType') securityType = feature.value as ImageDefinitionSpec['securityType'];
    else features[feature.name] = feature.value;
  }
  return {
    subscriptionId: ref.subscriptionId,
    resourceGroup: ref.resourceGroup,
    gallery: ref.gallery,
    image: ref.image,
    location: image.location,
    osType: image.osType ?? 'Linux',
    osState: image.osState ?? 'Generalized',
    hyperVGeneration: (image.hyperVGeneration ?? 'V1') as ImageDefinitionSpec['hyperVGeneration'],
    identifier: {
      publisher: image.identifier?.publisher ?? '',
      offer: image.identifier?.offer ?? '',
      sku: image.identifier?.sku ?? '',
    },
    ...(securityType === undefined ? {} : { securityType }),
    ...(Object.keys(features).length === 0 ? {} : { features }),
  };
}

function definitionDifferences(wanted: ImageDefinitionSpec, actual: ImageDefinitionSpec): string[] {
  const out: string[] = [];
  const compare = (label: string, a: string | undefined, b: string | undefined): void => {
    if ((a ?? '').toLowerCase() !== (b ?? '').toLowerCase())
      out.push(`${label} is ${b ?? '(unset)'}, wanted ${a ?? '(unset)'}`);
  };
  compare('osType', wanted.osType, actual.osType);
  compare('osState', wanted.osState, actual.osState);
  compare('hyperVGeneration', wanted.hyperVGeneration, actual.hyperVGeneration);
  compare('identifier.publisher', wanted.identifier.publisher, actual.identifier.publisher);
  compare('identifier.offer', wanted.identifier.offer, actual.identifier.offer);
  compare('identifier.sku', wanted.identifier.sku, actual.identifier.sku);
  if (wanted.securityType !== undefined)
    compare('securityType', wanted.securityType, actual.securityType ?? 'Standard');
  return out;
}

/** Compares dotted versions numerically ("1.10.0" after "1.9.3"); non-numeric parts compare as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = Number(x);
    const ny = Number(y);
    const diff = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (diff !== 0) return diff;
  }
  return 0;
}

export class PlatformImageAdapter implements PlatformImagePort {
  constructor(private readonly clients: ClientFactory) {}

  async listVersions(args: {
    subscriptionId: string;
    location: string;
    publisher: string;
    offer: string;
    sku: string;
  }): Promise<string[]> {
    const images = await orUndefined(
      {
        operation: 'list platform image versions',
        resource: `${args.publisher}:${args.offer}:${args.sku} in ${args.location}`,
        principal: this.clients.runtime.store.principal(this.clients.credentialName),
      },
      () =>
        this.clients
          .compute(args.subscriptionId)
          .virtualMachineImages.list(args.location, args.publisher, args.offer, args.sku),
    );
    return (images ?? []).map((image) => image.name).sort(compareVersions);
  }
}
