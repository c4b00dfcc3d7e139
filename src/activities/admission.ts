/**
 * The admission activity: the build orchestration's first step. It loads the served definition,
 * re-applies the request's overrides, checks the digest and the target environments' gates
 * (src/domain/pipeline/admission.ts) and returns the definition the build runs. A refusal is
 * logged (no definition text, no settings: only the build, the pipeline name and the reason) and
 * returned as a non-retryable FactoryError, so the build fails before anything is created.
 */
import { admitBuild, type ServedDefinitions } from '../domain/pipeline/admission';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import { isFactoryError, toError } from '../shared/errors';
import { bounded } from '../shared/text';

export interface AdmissionDependencies {
  /** The definitions the factory serves now (PIPELINES_DIR, checked against its environments). */
  served: () => ServedDefinitions;
  /** Where a refusal is recorded (the function's log: Application Insights in Azure). */
  warn: (line: string) => void;
}

export function createAdmissionActivity(deps: AdmissionDependencies) {
  return (input: unknown): Promise<PipelineDefinition> => {
    try {
      return Promise.resolve(admitBuild(input, deps.served()));
    } catch (error) {
      if (isFactoryError(error)) {
        const claimed = input as { buildId?: unknown; pipeline?: unknown } | null;
        const buildId = typeof claimed?.buildId === 'string' ? bounded(claimed.buildId, 100) : '(none)';
        const pipeline =
          typeof claimed?.pipeline === 'string' ? bounded(claimed.pipeline) : `(${typeof claimed?.pipeline})`;
        deps.warn(
          `build ${JSON.stringify(buildId)} of pipeline ${JSON.stringify(pipeline)} refused (${error.code}): ${error.message}`,
        );
      }
      return Promise.reject(toError(error));
    }
  };
}
