/**
 * The build orchestration moved to src/orchestrations/build/ (issue 16): index.ts reads as the
 * story, one module per step. This file only re-exports what callers imported from here before.
 */
export { BUILD_ORCHESTRATION } from '../domain/build-status';
export type { BuildInput } from '../domain/pipeline/admission';
export { buildImagePipeline } from './build/index';
export { recordTimeline, type BuildResult } from './build/run';
export {
  ActivityRefused,
  AZURE_CALL_RETRY,
  AZURE_CALL_RETRY_OPTIONS,
  callAzure,
  errorInfo,
  poll,
} from './build/activity-calls';
export { LRO_WAITS } from './build/operations';
export * from './build/waits';
