import { z } from 'zod';
import { FactoryError } from '../shared/errors';
import { appSettingsSchema } from './app';
import { approvalsSettingsProblems, approvalsSettingsSchema } from './approvals';
import { azureSettingsSchema } from './azure';
import { notificationsSettingsSchema } from './notifications';

/**
 * The one place settings are read and checked. Each section is owned by the code that uses it;
 * this module merges them so every problem is reported at once, at start-up.
 */
const settingsSchema = appSettingsSchema
  .extend(azureSettingsSchema.shape)
  .extend(approvalsSettingsSchema.shape)
  .extend(notificationsSettingsSchema.shape);

export type AppConfig = z.infer<typeof settingsSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = settingsSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  problems.push(...approvalsSettingsProblems(env));
  if (parsed.success && problems.length === 0) return parsed.data;
  throw new FactoryError('InvalidConfig', `Invalid settings:\n  ${problems.join('\n  ')}`, {
    details: { problems },
    hint: 'Check local.settings.json (locally) or the Function App settings (in Azure); see README "Settings".',
  });
}
