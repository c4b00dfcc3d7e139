/**
 * What keeps one caller from starving everyone else (issue 14): a per-caller rate limit on every
 * mutating request, caps on queued builds per pipeline and per staging target, and a body limit
 * checked before anything is buffered. The settings are in src/config/app.ts and docs/settings.md.
 */
import { BUILD_ORCHESTRATION } from '../domain/build-status';
import { buildSlotKey } from '../domain/pipeline/build-slots';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import type { ApiRequest, ApiResponse, BuildsClient, Pipelines } from './builds-api';
import { problem } from './problem';
import { callerOf } from './caller';
import type { RateLimiter, RateLimitSettings } from './rate-limit';

export interface ApiPolicy {
  /** API_EASY_AUTH: the x-ms-client-principal-* headers are the platform's. */
  trustEasyAuth: boolean;
  /** API_PUBLIC_HOST_NAME or WEBSITE_HOSTNAME; undefined: links are relative. */
  publicHost: string | undefined;
  rateLimit: RateLimitSettings;
  maxQueuedPerPipeline: number;
  maxQueuedPerBuildSlot: number;
}

/** The settings' defaults (src/config/app.ts), for callers that pass no policy. */
export const DEFAULT_API_POLICY: ApiPolicy = {
  trustEasyAuth: false,
  publicHost: undefined,
  rateLimit: { perMinute: 30, burst: 10 },
  maxQueuedPerPipeline: 5,
  maxQueuedPerBuildSlot: 20,
};

export function apiPolicy(
  config: {
    API_EASY_AUTH: 'true' | 'false';
    API_PUBLIC_HOST_NAME: string;
    API_RATE_LIMIT_PER_MINUTE: number;
    API_RATE_LIMIT_BURST: number;
    MAX_QUEUED_BUILDS_PER_PIPELINE: number;
    MAX_QUEUED_BUILDS_PER_BUILD_SLOT: number;
  },
  websiteHostName: string | undefined,
): ApiPolicy {
  const host = config.API_PUBLIC_HOST_NAME || websiteHostName || undefined;
  return {
    trustEasyAuth: config.API_EASY_AUTH === 'true',
    publicHost: host !== undefined && /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/.test(host) ? host : undefined,
    rateLimit: { perMinute: config.API_RATE_LIMIT_PER_MINUTE, burst: config.API_RATE_LIMIT_BURST },
    maxQueuedPerPipeline: config.MAX_QUEUED_BUILDS_PER_PIPELINE,
    maxQueuedPerBuildSlot: config.MAX_QUEUED_BUILDS_PER_BUILD_SLOT,
  };
}

/** 429 when the caller has used up its mutating requests; undefined when it may go on. */
export function rateLimited(
  request: ApiRequest,
  policy: ApiPolicy,
  limiter: RateLimiter,
): ApiResponse | undefined {
  const caller = callerOf(request, policy.trustEasyAuth);
  const decision = limiter.take(caller.id, policy.rateLimit);
  if (decision.allowed) return undefined;
  const refused = problem(
    429,
    'Too Many Requests',
    `Caller '${caller.id}' sent more than ${policy.rateLimit.burst} requests at once or ` +
      `${policy.rateLimit.perMinute} a minute (settings API_RATE_LIMIT_BURST, API_RATE_LIMIT_PER_MINUTE); ` +
      `retry after ${decision.retryAfterSeconds} s.`,
  );
  return {
    ...refused,
    headers: { ...refused.headers, 'retry-after': String(decision.retryAfterSeconds) },
  };
}

/** How long a caller refused by a queue cap should wait: about one build slot poll. */
const QUEUE_CAP_RETRY_SECONDS = 60;

const slotOf = (definition: PipelineDefinition): string | undefined => {
  const eng = definition.stages[0];
  return eng === undefined ? undefined : buildSlotKey(eng.subscriptionId, definition.build.location);
};

/**
 * 429 when starting `definition` would exceed the queued builds of its pipeline or of its staging
 * target (ENG subscription + build region: the pool build slots are counted in). A queued build's
 * pipeline is read from its status or input and looked up among the served definitions, so the
 * count does not depend on the shape of the orchestration's input.
 */
export async function queueCapProblem(
  client: BuildsClient,
  definition: PipelineDefinition,
  pipelines: Pipelines,
  policy: ApiPolicy,
): Promise<ApiResponse | undefined> {
  const active = (await client.list(['Pending', 'Running'])).filter(
    (i) => i.name === BUILD_ORCHESTRATION && (i.runtimeStatus === 'Pending' || i.runtimeStatus === 'Running'),
  );
  const pipelineOf = (i: (typeof active)[number]): string | undefined => {
    const custom = i.customStatus as { pipeline?: unknown } | null;
    const input = i.input as { pipeline?: unknown } | null;
    const named = custom?.pipeline ?? input?.pipeline;
    if (typeof named === 'string') return named;
    const name = (named as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name : undefined;
  };
  const names = active.map(pipelineOf);
  const samePipeline = names.filter((name) => name === definition.name).length;
  if (samePipeline >= policy.maxQueuedPerPipeline)
    return capProblem(
      `Pipeline '${definition.name}' has ${samePipeline} builds queued or running; the cap is ` +
        `${policy.maxQueuedPerPipeline} (setting MAX_QUEUED_BUILDS_PER_PIPELINE).`,
    );
  const slot = slotOf(definition);
  const sameSlot = names.filter((name) => {
    const other = name === undefined ? undefined : pipelines.valid.get(name);
    return other !== undefined && slotOf(other) === slot;
  }).length;
  if (slot !== undefined && sameSlot >= policy.maxQueuedPerBuildSlot)
    return capProblem(
      `Staging target '${slot}' (build subscription/region of pipeline '${definition.name}') has ` +
        `${sameSlot} builds queued or running; the cap is ${policy.maxQueuedPerBuildSlot} ` +
        `(setting MAX_QUEUED_BUILDS_PER_BUILD_SLOT).`,
    );
  return undefined;
}

let startTail: Promise<unknown> = Promise.resolve();

/**
 * Runs the queue-cap count and the start it allows one at a time in this app instance. Across
 * instances the count can still be passed by the few starts that race it (as for build slots,
 * src/domain/pipeline/build-slots.ts): a cap, not an exact quota.
 */
export function oneStartAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = startTail.then(work, work);
  startTail = run.catch(() => undefined);
  return run;
}

function capProblem(detail: string): ApiResponse {
  const refused = problem(429, 'Build Queue Full', detail);
  return {
    ...refused,
    headers: { ...refused.headers, 'retry-after': String(QUEUE_CAP_RETRY_SECONDS) },
  };
}

/** Links are built from the configured host name, never from the request's Host or target. */
export function publicBaseUrl(policy: ApiPolicy): string {
  if (policy.publicHost === undefined) return '';
  const local = /^(localhost|127\.0\.0\.1)(:\d+)?$/i.test(policy.publicHost);
  return `${local ? 'http' : 'https'}://${policy.publicHost}`;
}
