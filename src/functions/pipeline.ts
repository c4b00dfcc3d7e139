/** Registers the build pipeline: the orchestration, and (pipeline-steps.ts) what it calls. Wiring only. */
import * as df from 'durable-functions';
import { BUILD_ORCHESTRATION } from '../domain/build-status';
import { buildImagePipeline } from '../orchestrations/build';
import './pipeline-steps';

df.app.orchestration(BUILD_ORCHESTRATION, buildImagePipeline);
