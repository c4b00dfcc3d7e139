/**
 * Registers what the build orchestration calls: its activities and polling sub-orchestrations.
 * Wiring only. Apart from pipeline.ts (which adds the orchestration itself), so that a test app with
 * a variant of the build orchestration (test/fixtures/factory-release) registers exactly these.
 */
import * as df from 'durable-functions';
import type { ActivityHandler } from 'durable-functions';
import { createPipelineActivities } from '../activities/pipeline';
import { Activities } from '../domain/pipeline/activities';
import {
  WAIT_FOR_BUILD_ORCHESTRATION,
  waitForImageBuild,
  WAIT_FOR_REPLICATION_ORCHESTRATION,
  waitForVersionReplication,
  WAIT_FOR_BUILD_SLOT_ORCHESTRATION,
  waitForBuildSlot,
} from '../orchestrations/build/waits';
import { failureProperties } from '../domain/pipeline/task-failure';
import { AWAIT_OPERATION_ORCHESTRATION } from '../orchestrations/await-done';
import { awaitAzureOperation } from '../orchestrations/await-operation';
import { pipelineDependencies } from './dependencies';
import { createAdmissionActivity } from '../activities/admission';
import { refusingNonRetryable } from '../activities/pipeline';
import { ADMIT_BUILD_ACTIVITY } from '../domain/pipeline/admission';
import { servedPipelines } from '../api/durable-builds-client';
import { loadConfig } from '../config';

// Activity failures carry our error code, retryability and hint to the orchestration (task-failure.ts).
df.app.setExceptionPropertiesProvider({ getExceptionProperties: failureProperties });

df.app.orchestration(WAIT_FOR_BUILD_ORCHESTRATION, waitForImageBuild);
df.app.orchestration(WAIT_FOR_REPLICATION_ORCHESTRATION, waitForVersionReplication);
df.app.orchestration(WAIT_FOR_BUILD_SLOT_ORCHESTRATION, waitForBuildSlot);
df.app.orchestration(AWAIT_OPERATION_ORCHESTRATION, awaitAzureOperation);

for (const name of Object.values(Activities)) {
  const handler: ActivityHandler = (input: unknown) => {
    const activity = createPipelineActivities(pipelineDependencies())[name];
    if (activity === undefined) throw new Error(`No implementation for activity ${name}`);
    return activity(input as never);
  };
  df.app.activity(name, { handler });
}

// The build's first step: only a definition the factory serves, with its environments' gates.
df.app.activity(ADMIT_BUILD_ACTIVITY, {
  handler: (input: unknown, context) =>
    refusingNonRetryable(
      createAdmissionActivity({
        served: () => servedPipelines(loadConfig().PIPELINES_DIR),
        warn: (line) => context.warn(line),
      }),
    )(input),
});
