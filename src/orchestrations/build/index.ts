/**
 * The build orchestration, as the story it tells: admit → preflight → build → test → for each
 * later stage: approve → promote; anything that stops it runs compensation, which removes what the
 * build created, so a build is all-or-nothing. Each step is a module of its own taking the one
 * BuildRun (run.ts) that carries the build's status, result, created resources and cancel event.
 * Deterministic: time only from context.df.currentUtcDateTime, no I/O (activities do it), every
 * wait raced against a deadline and the cancel event. The sequence of actions is what releases
 * keep stable for builds in flight (docs/runbook.md, "Release"): change it only behind
 * sinceVersion (src/shared/orchestration-version.ts).
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { BuildInput } from '../../domain/pipeline/admission';
import { admit } from './admit';
import { approve } from './approve';
import { buildImage } from './build-image';
import { compensate } from './compensate';
import { preflight } from './preflight';
import { beginPromotion, preStage, promote, type Promoted } from './promote';
import { BuildRun, type BuildResult } from './run';
import { testInEng } from './test-vm';

export function* buildImagePipeline(context: OrchestrationContext): Generator<Task, BuildResult, unknown> {
  const input = context.df.getInput<BuildInput>();
  const definition = yield* admit(context, input);
  const run = new BuildRun(context, input, definition);
  try {
    const checked = yield* preflight(run);
    const eng = yield* buildImage(run, checked);
    yield* testInEng(run, eng);
    let previous: Promoted = { stage: run.eng, versionId: eng.versionId };
    for (const stage of definition.stages.slice(1)) {
      const promotion = beginPromotion(run, stage, previous);
      if (stage.preStage) yield* preStage(run, promotion);
      const decision = stage.approval?.required ? yield* approve(run, stage, stage.approval, 1) : undefined;
      previous = yield* promote(run, promotion, decision);
    }
    return succeeded(run);
  } catch (error) {
    return yield* compensate(run, error);
  }
}

function succeeded(run: BuildRun): BuildResult {
  run.result.outcome = 'succeeded';
  run.status.outcome = 'succeeded';
  const stages = run.definition.stages.map((s) => s.name).join(', ');
  run.publish('done', `${run.imageVersion} is latest in ${stages}`);
  return run.result;
}
