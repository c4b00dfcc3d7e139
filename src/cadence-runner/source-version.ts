/**
 * The exact source a build would use if it started now, as the preflight records it in
 * `sourceImageVersion` (src/activities/preflight.ts): the newest platform image version for
 * `version: latest`, the pinned version otherwise, the resource id of gallery and managed images,
 * the VHD URL without its query (never a SAS). Behind an interface, so the cadence runner only
 * sees a string and the timer wires the Azure port.
 */
import type { PipelineDefinition } from '../domain/pipeline/definition';
import type { PlatformImagePort } from '../ports/azure';

export interface SourceVersions {
  /** '' when it cannot be told (the cadence then builds: a missed patch is worse than a spare build). */
  current(pipeline: PipelineDefinition): Promise<string>;
}

export function sourceVersionsFrom(
  platformImages: (credential: string) => PlatformImagePort,
): SourceVersions {
  return {
    async current(pipeline) {
      const source = pipeline.source;
      switch (source.type) {
        case 'vhd':
          return source.uri.split('?')[0] ?? '';
        case 'galleryImageVersion':
        case 'managedImage':
          return source.id;
        case 'platformImage': {
          if (source.version !== 'latest') return source.version;
          const eng = pipeline.stages[0];
          if (eng === undefined) return '';
          const versions = await platformImages(eng.credential).listVersions({
            subscriptionId: eng.subscriptionId,
            location: pipeline.build.location,
            publisher: source.publisher,
            offer: source.offer,
            sku: source.sku,
          });
          return versions.at(-1) ?? '';
        }
      }
    },
  };
}
