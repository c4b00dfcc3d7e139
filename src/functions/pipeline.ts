/** Registers the build pipeline: orchestrations and activities. Wiring only. */
import * as df from 'durable-functions';
import type { ActivityHandler } from 'durable-functions';
import { createPipelineActivities } from '../activities/pipeline';
import { Activities } from '../domain/pipeline/activities';
import {
  BUILD_ORCHESTRATION,
  WAIT_FOR_BUILD_ORCHESTRATION,
  buildImagePipeline,
  waitForImageBuild,
  WAIT_FOR_REPLICATION_ORCHESTRATION,
  waitForVersionReplication,
  WAIT_FOR_BUILD_SLOT_ORCHESTRATION,
  waitForBuildSlot,
} from '../orchestrations/build-pipeline';
import { failureProperties } from '../domain/pipeline/task-failure';
import { AWAIT_OPERATION_ORCHESTRATION } from '../orchestrations/await-done';
import { awaitAzureOperation } from '../orchestrations/await-operation';
import { pipelineDependencies } from './dependencies';

// Activity failures carry our error code, retryability and hint to the orchestration (task-failure.ts).
df.app.setExceptionPropertiesProvider({ getExceptionProperties: failureProperties });

df.app.orchestration(BUILD_ORCHESTRATION, buildImagePipeline);
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
