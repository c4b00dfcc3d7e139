/**
 * publishBuildEvent: one side effect (publish one build event), safe to run twice: the CloudEvent id
 * comes from the build, the event and the stage, so a retried attempt sends the same id.
 */
import { buildCloudEvent, type BuildEventInput } from '../domain/notifications/events';
import type { NotificationsPort } from '../ports/notifications';

export const PUBLISH_BUILD_EVENT_ACTIVITY = 'publishBuildEvent';

export interface PublishOutcome {
  id: string;
  channels: string[];
}

export function createNotificationActivities(notifications: NotificationsPort) {
  return {
    [PUBLISH_BUILD_EVENT_ACTIVITY]: async (input: BuildEventInput): Promise<PublishOutcome> => {
      const event = buildCloudEvent(input);
      return { id: event.id, channels: await notifications.publish(event) };
    },
  };
}
