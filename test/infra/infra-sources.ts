/**
 * What the infra checks read (test/infra/checker.ts): every Bicep file, the settings the app's
 * schemas and the pipelines name, the sample settings, the docs and the access descriptions.
 * Shared by the consistency and durable-backend suites, which mutate a fresh copy per test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { appSettingsSchema } from '../../src/config/app';
import { approvalsSettingsSchema } from '../../src/config/approvals';
import { azureSettingsSchema } from '../../src/config/azure';
import { notificationsSettingsSchema } from '../../src/config/notifications';
import { loadInfraAccess } from '../../src/local/azure-sim/access';
import type { InfraSources, RequiredActions } from './checker';

export const root = path.resolve(__dirname, '../..');
export const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

export function bicepFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) Object.assign(files, bicepFiles(rel));
    else if (name.endsWith('.bicep')) files[rel] = read(rel);
  }
  return files;
}

export function infraSources(): InfraSources {
  const placeholders = readdirSync(path.join(root, 'pipelines'))
    .filter((file) => /\.(ya?ml|json)$/.test(file))
    .flatMap((file) =>
      [
        ...read(`pipelines/${file}`)
          .replace(/^\s*#.*$/gm, '')
          .matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g),
      ].map((m) => m[1] as string),
    );
  const shapes = [
    appSettingsSchema.shape,
    azureSettingsSchema.shape,
    approvalsSettingsSchema.shape,
    notificationsSettingsSchema.shape,
  ];
  const settingKeys = [...new Set([...shapes.flatMap((shape) => Object.keys(shape)), ...placeholders])];
  // Queue names: the defaults of every *_QUEUE setting, whatever else the schemas require.
  const queueNames = shapes.flatMap((shape) =>
    Object.entries(shape)
      .filter(([key]) => key.endsWith('_QUEUE'))
      .map(([, schema]) =>
        (schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(undefined),
      )
      .filter((parsed) => parsed.success && typeof parsed.data === 'string')
      .map((parsed) => parsed.data as string),
  );
  return {
    bicep: bicepFiles('infra'),
    sampleValues: (JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> })
      .Values,
    settingKeys,
    queueNames,
    settingsDoc: read('docs/settings.md'),
    requiredActions: JSON.parse(read('infra/required-actions.json')) as Record<
      string,
      RequiredActions | string
    >,
    access: loadInfraAccess(),
  };
}
