/**
 * Admission of a build: what the orchestration may run. Its input names the pipeline, the request's
 * overrides and the digest of the effective definition (served definition + overrides) the caller
 * saw; the admission activity loads the served definition, applies the overrides again, checks the
 * digest and the target environments' gates, and only then returns the definition the build runs.
 * Whoever can start an orchestration through the Durable management API (not only the HTTP API)
 * therefore cannot hand the factory a definition of their own: no inline definition, no definition
 * without its environments' approvals, no customizer the factory does not serve.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FactoryError } from '../../shared/errors';
import { bounded } from '../../shared/text';
import { validatePipelineDefinition, type DefinitionProblem, type PipelineDefinition } from './definition';
import { applyEnvironmentPolicy, type Environments } from './environments';
import { canonical } from './recipe';

export const ADMIT_BUILD_ACTIVITY = 'admitBuild';

export const startOverridesSchema = z
  .object({
    /** Build timeout for this run (minutes, 1..960). */
    buildTimeoutMinutes: z.number().int().min(1).max(960).optional(),
    /** Pin the platform source image version for this run ('latest' or Major.Minor.Patch). */
    sourceVersion: z
      .string()
      .regex(/^(latest|\d{1,10}\.\d{1,10}\.\d{1,10})$/, "must be 'latest' or Major.Minor.Patch")
      .optional(),
    /** Promote only up to this stage (e.g. 'ENG' for a build nobody needs to approve). */
    stopAfterStage: z.string().min(1).max(16).optional(),
  })
  .strict();

export type StartOverrides = z.infer<typeof startOverridesSchema>;

/** What the build orchestration is started with. */
export interface BuildInput {
  buildId: string;
  /** The served pipeline's name (never a definition: an object here is refused). */
  pipeline: string;
  /** sha256 (hex) of the effective definition's canonical JSON, as the caller computed it. */
  definitionDigest: string;
  overrides?: StartOverrides;
  reason?: string;
  requestedBy?: string;
  requestFingerprint?: string;
}

/** The served pipelines, as the HTTP API and the admission activity read them. */
export interface ServedDefinitions {
  valid: Map<string, PipelineDefinition>;
  environments?: Environments;
}

export function definitionDigest(definition: PipelineDefinition): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(definition)))
    .digest('hex');
}

/**
 * The definition this run uses: the served definition with the overrides applied, each checked
 * against that definition, and the result validated again as a whole.
 */
export function applyOverrides(
  definition: PipelineDefinition,
  overrides: StartOverrides | undefined,
): { pipeline: PipelineDefinition } | { errors: DefinitionProblem[] } {
  if (overrides === undefined) return { pipeline: definition };
  const errors: DefinitionProblem[] = [];
  let candidate: PipelineDefinition = definition;
  if (overrides.buildTimeoutMinutes !== undefined)
    candidate = {
      ...candidate,
      build: { ...candidate.build, timeoutMinutes: overrides.buildTimeoutMinutes },
    };
  if (overrides.sourceVersion !== undefined) {
    if (candidate.source.type === 'platformImage')
      candidate = { ...candidate, source: { ...candidate.source, version: overrides.sourceVersion } };
    else
      errors.push({
        path: 'overrides.sourceVersion',
        message: `pipeline '${definition.name}' builds from a ${candidate.source.type} source, which has no version to pin`,
      });
  }
  if (overrides.stopAfterStage !== undefined) {
    const index = candidate.stages.findIndex((stage) => stage.name === overrides.stopAfterStage);
    if (index < 0)
      errors.push({
        path: 'overrides.stopAfterStage',
        message: `must be one of the pipeline's stages: ${candidate.stages.map((s) => s.name).join(', ')}`,
      });
    else candidate = { ...candidate, stages: candidate.stages.slice(0, index + 1) };
  }
  if (errors.length > 0) return { errors };
  const checked = validatePipelineDefinition(candidate);
  if (checked.ok) return { pipeline: checked.definition };
  return {
    errors: checked.problems.map((p) => ({ path: `(resulting definition) ${p.path}`, message: p.message })),
  };
}

const admissionInputSchema = z.object({
  buildId: z.string().min(1).max(100),
  pipeline: z.string().min(1).max(64),
  definitionDigest: z.string().regex(/^[a-f0-9]{64}$/, 'must be a sha256 hex digest'),
  overrides: startOverridesSchema.optional(),
});

const refused = (code: string, message: string, hint: string) =>
  new FactoryError(code, `build refused before anything was created: ${message}`, { hint });

/**
 * Checks a build's input against what the factory serves and returns the effective definition.
 * Throws a non-retryable FactoryError: InlineDefinitionRefused, InvalidBuildInput, UnknownPipeline,
 * InvalidOverrides, EnvironmentPolicyViolation or DefinitionDigestMismatch.
 */
export function admitBuild(input: unknown, served: ServedDefinitions): PipelineDefinition {
  const pipelineField = (input as { pipeline?: unknown } | null)?.pipeline;
  if (pipelineField !== null && typeof pipelineField === 'object')
    throw refused(
      'InlineDefinitionRefused',
      'the input carries a pipeline definition of its own; a build runs only a definition the factory serves',
      'start builds with POST /api/builds (it names the pipeline and the digest of its definition)',
    );
  const parsed = admissionInputSchema.safeParse(input);
  if (!parsed.success)
    throw refused(
      'InvalidBuildInput',
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`).join('; '),
      'start builds with POST /api/builds',
    );
  const { pipeline: name, overrides, definitionDigest: expected } = parsed.data;
  const definition = served.valid.get(name);
  if (definition === undefined)
    throw refused(
      'UnknownPipeline',
      `the factory serves no valid pipeline named '${bounded(name)}'`,
      `served pipelines: ${[...served.valid.keys()].join(', ') || 'none'}`,
    );
  const applied = applyOverrides(definition, overrides);
  if ('errors' in applied)
    throw refused(
      'InvalidOverrides',
      applied.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
      'see the overrides of POST /api/builds',
    );
  if (served.environments === undefined)
    throw refused(
      'EnvironmentPolicyViolation',
      'the factory has no target environments loaded, so no gate can be checked',
      'fix environments.yaml (ENVIRONMENTS_FILE)',
    );
  // The served definition passed the policy at load; checked again on what this run will execute.
  const governed = applyEnvironmentPolicy(applied.pipeline, served.environments);
  if (governed.definition === undefined)
    throw refused(
      'EnvironmentPolicyViolation',
      governed.problems.map((p) => `${p.path}: ${p.message}`).join('; '),
      'the target environments (environments.yaml) decide the gates; a pipeline may only add to them',
    );
  const actual = definitionDigest(governed.definition);
  if (actual !== expected)
    throw refused(
      'DefinitionDigestMismatch',
      `the digest of pipeline '${name}' with these overrides is ${actual}, not ${expected}`,
      'the served definition changed since the build was requested, or the input was not made by the API: start the build again',
    );
  return governed.definition;
}
