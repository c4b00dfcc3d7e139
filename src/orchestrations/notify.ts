/**
 * Publishes one build event (docs/notifications.md) from an orchestration. A notification never
 * changes a build's outcome: after the retries it is recorded as not sent and the build goes on.
 */
import { RetryOptions, type OrchestrationContext, type Task } from 'durable-functions';
import { PUBLISH_BUILD_EVENT_ACTIVITY } from '../activities/notifications';
import type { BuildEventInput } from '../domain/notifications/events';

/** Three attempts, 5 s then 10 s apart (the webhook adapter retries 429/5xx inside each attempt). */
export const NOTIFY_RETRY_OPTIONS: RetryOptions = Object.assign(new RetryOptions(5000, 3), {
  backoffCoefficient: 2,
});

export function* notify(
  context: OrchestrationContext,
  event: Omit<BuildEventInput, 'occurredAt'>,
): Generator<Task, boolean, unknown> {
  try {
    yield context.df.callActivityWithRetry(PUBLISH_BUILD_EVENT_ACTIVITY, NOTIFY_RETRY_OPTIONS, {
      ...event,
      occurredAt: context.df.currentUtcDateTime.toISOString(),
    } satisfies BuildEventInput);
    return true;
  } catch {
    return false;
  }
}
