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

/** A build event as the orchestration drafts it; publishing stamps it with the publisher's time. */
export type BuildEventDraft = Omit<BuildEventInput, 'occurredAt'>;

/**
 * Build events a wait publishes itself (EVENTS_BY_WAITS_SINCE, factory 0.7.0): the build would
 * otherwise spend an episode of its long history on each publish.
 */
export interface Announcements {
  /** Published in the wait's first episode, before anything else it does. */
  atStart?: BuildEventDraft;
  /** Published when the wait ends in success, before it returns. */
  whenDone?: BuildEventDraft;
}

/** What a wait passes on when it continues as new: the start is behind it. */
export function laterAnnouncements(announce: Announcements | undefined): { announce?: Announcements } {
  return announce?.whenDone === undefined ? {} : { announce: { whenDone: announce.whenDone } };
}

export function* notify(
  context: OrchestrationContext,
  event: BuildEventDraft,
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
