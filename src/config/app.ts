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
  /** NCRONTAB (6 fields, UTC) of the retention job (docs/retention.md); default daily at 03:30. */
  RETENTION_SCHEDULE: z.string().min(11).default('0 30 3 * * *'),
  /**
   * Image Builder runs at a time per subscription and region, across all pipelines; further builds
   * wait in step 'waitingForBuildSlot' (src/domain/pipeline/build-slots.ts).
   */
  BUILD_SLOTS_PER_SUBSCRIPTION_REGION: z.coerce.number().int().min(1).max(100).default(4),
  /**
   * The drain switch for releases (docs/runbook.md): "true" refuses new builds (503 with
   * Retry-After) and makes the cadence timer skip; builds in flight continue.
   */
  FACTORY_DRAINING: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
  /**
   * Host name the API's links are built from (a custom domain); empty = WEBSITE_HOSTNAME, which
   * the platform sets in Azure and `npm start` sets locally. Never the request's Host header.
   */
  API_PUBLIC_HOST_NAME: z
    .string()
    .regex(/^$|^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/, 'a host name, optionally with :port')
    .default(''),
  /**
   * 'true' only where App Service authentication (Easy Auth) runs in front of the app: only then
   * are the x-ms-client-principal-* headers the platform's and not the caller's.
   */
  API_EASY_AUTH: z.enum(['true', 'false']).default('false'),
  /** Mutating API requests (POST) per caller per minute, sustained. */
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  /** Mutating API requests a caller may send at once before the per-minute rate applies. */
  API_RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(10_000).default(10),
  /** Builds of one pipeline that may be queued or running at once; more get 429. */
  MAX_QUEUED_BUILDS_PER_PIPELINE: z.coerce.number().int().min(1).max(1000).default(5),
  /** Builds that may be queued or running at once per staging target (build subscription + region). */
  MAX_QUEUED_BUILDS_PER_BUILD_SLOT: z.coerce.number().int().min(1).max(1000).default(20),
});
