/**
 * The recipe: everything that decides an image's content. Its hash names the image template
 * (with the build id), tags every version, and tells the patch cadence whether anything changed.
 */
import { createHash } from 'node:crypto';
import { arrivalStamp } from './build-slots';
import type { PipelineDefinition } from './definition';

function canonical(value: unknown): unknown {
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
const TEMPLATE_TAIL_LENGTH = 20;

export function templateNameFor(pipeline: string, buildId: string, hash: string, queuedAt?: string): string {
  const buildPart = createHash('sha256').update(buildId).digest('hex').slice(0, 10);
  const head = queuedAt === undefined ? 'it-' : `it-${arrivalStamp(queuedAt)}-`;
  return `${head}${pipeline}`.slice(0, TEMPLATE_HEAD_LENGTH) + `-${hash.slice(0, 8)}-${buildPart}`;
}

/**
 * The name of a build's next template when the first could not be used (a failed template can only
 * be deleted): the same arrival stamp (its place in the build-slot queue) and the same recipe and
 * build digests at the end, `-r<attempt>` before them.
 */
export function retryTemplateName(firstName: string, attempt: number): string {
  const tail = firstName.slice(-TEMPLATE_TAIL_LENGTH);
  const suffix = `-r${attempt}`;
  return (
    firstName.slice(0, -TEMPLATE_TAIL_LENGTH).slice(0, TEMPLATE_HEAD_LENGTH - suffix.length) + suffix + tail
  );
}
