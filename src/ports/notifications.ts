/** Where build events go (an Event Grid topic, a chat webhook). The orchestration never sees how. */
import type { BuildCloudEvent } from '../domain/notifications/events';

export interface NotificationsPort {
  /** Publishes one event to every configured channel; returns the channels that took it. */
  publish(event: BuildCloudEvent): Promise<string[]>;
}
