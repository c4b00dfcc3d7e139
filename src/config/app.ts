import { z } from 'zod';

/** Settings of the app itself (pipelines, build slots, cadence). Owned by the pipeline/entry-point code. */
export const appSettingsSchema = z.object({
  TASK_HUB_NAME: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, 'letters and digits, 3..45, starting with a letter'),
  PIPELINES_DIR: z.string().min(1).default('pipelines'),
  /**
   * The factory's target environments and their gates (environments.yaml); default: next to
   * PIPELINES_DIR. Read by the pipeline loader (src/domain/pipeline/loader.ts).
   */
  ENVIRONMENTS_FILE: z.string().min(1).optional(),
  /** NCRONTAB (6 fields) of the patch-cadence check; each pipeline's cadence decides what is due. */
  PATCH_CADENCE_SCHEDULE: z.string().min(11).default('0 0 * * * *'),
  /**
   * Image Builder runs at a time per subscription and region, across all pipelines; further builds
   * wait in step 'waitingForBuildSlot' (src/domain/pipeline/build-slots.ts).
   */
  BUILD_SLOTS_PER_SUBSCRIPTION_REGION: z.coerce.number().int().min(1).max(100).default(4),
});
