/**
 * Step 0, admission (src/domain/pipeline/admission.ts): the served definition, the digest and the
 * environments' gates are checked by an activity, and the build runs exactly the definition it
 * returns. The input never carries a definition, so a start through the Durable management API
 * cannot bring its own. Nothing is created before admission, so a refusal has nothing to undo.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { BuildCustomStatus, BuildFailure } from '../../domain/build-status';
import { ADMIT_BUILD_ACTIVITY, type BuildInput } from '../../domain/pipeline/admission';
import type { PipelineDefinition } from '../../domain/pipeline/definition';
import { callAzure, errorInfo } from './activity-calls';

export function* admit(
  context: OrchestrationContext,
  input: BuildInput,
): Generator<Task, PipelineDefinition, unknown> {
  try {
    return yield* callAzure<PipelineDefinition>(context, ADMIT_BUILD_ACTIVITY, input);
  } catch (error) {
    // Refused (or admission could not run): nothing was created, so there is nothing to undo.
    const info = errorInfo(error);
    const failure: BuildFailure = {
      code: info.code,
      message: info.message,
      step: 'admission',
      ...(info.hint ? { hint: info.hint } : {}),
    };
    const claimed = (input as { pipeline?: unknown } | null)?.pipeline;
    context.df.setCustomStatus({
      buildId: typeof input?.buildId === 'string' ? input.buildId : context.df.instanceId,
      pipeline: typeof claimed === 'string' ? claimed : '(refused)',
      outcome: 'failed',
      step: 'done',
      stages: [],
      message: failure.message,
      failure,
      updatedAt: context.df.currentUtcDateTime.toISOString(),
    } satisfies BuildCustomStatus);
    throw new Error(`${failure.code}: ${failure.message}`);
  }
}
