/**
 * Step 1, preflight: reads only, so nothing is created when it fails. The preflight activity checks
 * every identity's roles, the network and the source image and reports every problem at once; then
 * the image definition is ensured in every stage's gallery (idempotent; one call from 0.5.0 on).
 */
import type { Task } from 'durable-functions';
import {
  Activities,
  type ImageDefinitionsInput,
  type PreflightResult,
} from '../../domain/pipeline/activities';
import { sinceVersion } from '../../shared/orchestration-version';
import { EVENTS_BY_WAITS_SINCE, STEP_CALLS_BATCHED_SINCE } from './release-gates';
import { AZURE_CALL_RETRY_OPTIONS, BuildStopped } from './activity-calls';
import type { BuildRun } from './run';

export function* preflight(run: BuildRun): Generator<Task, PreflightResult, unknown> {
  const { context, definition, input } = run;
  run.publish('preflight', 'checking roles, network and source image');
  const preflightTask = context.df.callActivityWithRetry(Activities.preflight, AZURE_CALL_RETRY_OPTIONS, {
    buildId: input.buildId,
    definition,
    queuedAt: run.startedAt.toISOString(),
  });
  // Preflight only reads, so a cancel may win at once. This first race also makes the library
  // track `cancel` (it does so from the first yield), so `call` sees a cancel that arrives while
  // any later step runs.
  yield* run.raceCancel(preflightTask);
  const result = run.settled<PreflightResult>(Activities.preflight, preflightTask);
  run.status.recipeHash = result.recipeHash;
  run.status.sourceImageVersion = result.sourceVersion;
  if (result.problems.length > 0) {
    throw new BuildStopped('failed', {
      code: 'PreflightFailed',
      message: `${result.problems.length} problem(s) must be fixed before this pipeline can build:\n${result.problems
        .map((p, i) => `${i + 1}. ${p.message}\n   fix: ${p.fix}`)
        .join('\n')}`,
      step: 'preflight',
      hint: result.problems.map((p) => p.fix).join('\n'),
    });
  }
  // From 0.7.0 the build step's first wait announces it (build-image.ts, EVENTS_BY_WAITS_SINCE).
  if (!sinceVersion(context, EVENTS_BY_WAITS_SINCE)) yield* run.event('started');
  const definitions = definition.stages.map((stage) => ({
    credential: stage.credential,
    spec: {
      subscriptionId: stage.subscriptionId,
      resourceGroup: stage.gallery.resourceGroup,
      gallery: stage.gallery.name,
      image: definition.image.definition,
      location: stage.regions[0]?.name ?? definition.build.location,
      osType: definition.image.osType,
      osState: 'Generalized' as const,
      hyperVGeneration: definition.image.hyperVGeneration,
      securityType: definition.image.securityType,
      identifier: definition.image.identifier,
      ...(definition.image.features ? { features: definition.image.features } : {}),
    },
  }));
  if (sinceVersion(context, STEP_CALLS_BATCHED_SINCE)) {
    yield* run.call(Activities.ensureImageDefinitions, { definitions } satisfies ImageDefinitionsInput);
  } else {
    for (const one of definitions) yield* run.call(Activities.ensureImageDefinition, one);
  }
  return result;
}
