/** Registers the build-notification activity (docs/notifications.md). Wiring only. */
import * as df from 'durable-functions';
import type { ActivityHandler } from 'durable-functions';
import { loadConfig } from '../config';
import { NotificationsAdapter } from '../adapters/notifications';
import { createNotificationActivities, PUBLISH_BUILD_EVENT_ACTIVITY } from '../activities/notifications';
import type { BuildEventInput } from '../domain/notifications/events';

let cached: { key: string; activities: ReturnType<typeof createNotificationActivities> } | undefined;

function activities(env: Record<string, string | undefined> = process.env) {
  const key = JSON.stringify(
    Object.entries(env)
      .filter(([name]) => /^(NOTIFICATIONS_|AZURE_|IDENTITY_)/.test(name))
      .sort(),
  );
  if (cached?.key !== key)
    cached = {
      key,
      activities: createNotificationActivities(
        new NotificationsAdapter(loadConfig(env), {
          env,
          log: (line) => console.log(`[image-factory] ${line}`),
        }),
      ),
    };
  return cached.activities;
}

const handler: ActivityHandler = (input: unknown) =>
  activities()[PUBLISH_BUILD_EVENT_ACTIVITY](input as BuildEventInput);
df.app.activity(PUBLISH_BUILD_EVENT_ACTIVITY, { handler });
