/**
 * The recipe: everything that decides an image's content. Its hash names the image template
 * (with the build id), tags every version, and tells the patch cadence whether anything changed.
 */
import { createHash } from 'node:crypto';
import { arrivalStamp } from './build-slots';
import type { PipelineDefinition } from './definition';

/** Keys sorted at every level: the same value always gives the same JSON text (hashes, digests). */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export function recipeHash(definition: PipelineDefinition): string {
  const recipe = {
    source: definition.source,
    image: definition.image,
    customizers: definition.build.customizers,
    vmSize: definition.build.vmSize,
    osDiskSizeGB: definition.build.osDiskSizeGB,
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(recipe)))
    .digest('hex');
}

/**
 * AIB template names: ≤ 64 chars, unique per build and recipe, so a failed one is never "updated".
 * With the build's arrival time they start `it-yyMMddHHmmss-`, so names sort in arrival order: the
 * template is also the build's ticket for a build slot (see build-slots.ts).
 */
/** `it-<stamp>-<pipeline>` is cut here; `-<recipe 8>-<build 10>` follows: 63 characters at most. */
const TEMPLATE_HEAD_LENGTH = 43;

export function templateNameFor(pipeline: string, buildId: string, hash: string, queuedAt?: string): string {
  const buildPart = createHash('sha256').update(buildId).digest('hex').slice(0, 10);
  const head = queuedAt === undefined ? 'it-' : `it-${arrivalStamp(queuedAt)}-`;
  return `${head}${pipeline}`.slice(0, TEMPLATE_HEAD_LENGTH) + `-${hash.slice(0, 8)}-${buildPart}`;
}

/** Azure resource group names are at most 90 characters. */
const RESOURCE_GROUP_NAME_MAX = 90;

/**
 * The staging resource group of one image template: `<prefix><template name>` in the template's
 * subscription. It does not exist before the template is created, so Image Builder creates it in
 * the template's region, gives the template's identity Contributor and deletes it with the
 * template (image-builder-json doc, "stagingResourceGroup"). One group per template: a group
 * Image Builder has tagged for one template cannot serve another. If prefix and name exceed 90
 * characters, the template name loses its head: its tail (recipe and build digests) keeps it unique.
 */
export function stagingResourceGroupIdFor(
  subscriptionId: string,
  prefix: string,
  templateName: string,
): string {
  const room = RESOURCE_GROUP_NAME_MAX - prefix.length;
  const name = prefix + (templateName.length > room ? templateName.slice(-room) : templateName);
  return `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
}
