import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { appSettingsSchema } from '../../src/config/app';
import { approvalsSettingsSchema } from '../../src/config/approvals';
import { azureSettingsSchema } from '../../src/config/azure';
import { checkInfra, type InfraSources } from './checker';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

function bicepFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) Object.assign(files, bicepFiles(rel));
    else if (name.endsWith('.bicep')) files[rel] = read(rel);
  }
  return files;
}

function sources(): InfraSources {
  const placeholders = readdirSync(path.join(root, 'pipelines'))
    .filter((file) => /\.(ya?ml|json)$/.test(file))
    .flatMap((file) =>
      [
        ...read(`pipelines/${file}`)
          .replace(/^\s*#.*$/gm, '')
          .matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g),
      ].map((m) => m[1] as string),
    );
  const settingKeys = [
    ...Object.keys(appSettingsSchema.shape),
    ...Object.keys(azureSettingsSchema.shape),
    ...Object.keys(approvalsSettingsSchema.shape),
    ...new Set(placeholders),
  ];
  const defaults = approvalsSettingsSchema.parse({}) as Record<string, unknown>;
  return {
    bicep: bicepFiles('infra'),
    sampleValues: (JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> })
      .Values,
    settingKeys,
    queueNames: Object.entries(defaults)
      .filter(([key]) => key.endsWith('_QUEUE'))
      .map(([, value]) => String(value)),
    requiredActions: JSON.parse(read('infra/required-actions.json')) as Record<string, string[]>,
  };
}

describe('infra and code stay consistent', () => {
  it('every setting, queue, role id and required action is covered', () => {
    expect(checkInfra(sources())).toEqual([]);
  });

  it('fails when infra stops setting a setting the app reads', () => {
    const s = sources();
    const fn = s.bicep['infra/app/function.bicep']!;
    s.bicep['infra/app/function.bicep'] = fn.replace(/^\s*AZURE_CREDENTIALS:.*$/m, '');
    expect(checkInfra(s)).toEqual([
      'setting AZURE_CREDENTIALS is read by the app but not set in infra/app/function.bicep appSettings',
    ]);
  });

  it('fails when a setting is missing from local.settings.sample.json', () => {
    const s = sources();
    delete s.sampleValues.PIPELINES_DIR;
    expect(checkInfra(s)).toEqual(['setting PIPELINES_DIR is missing from local.settings.sample.json']);
  });

  it('fails when a queue is not created', () => {
    const s = sources();
    s.bicep['infra/main.bicep'] = s.bicep['infra/main.bicep']!.replace("'approval-decisions'", "'decisions'");
    expect(checkInfra(s)).toEqual([
      'queue approval-decisions (config default) is not created by infra/main.bicep',
    ]);
  });

  it('fails on an unknown role id', () => {
    const s = sources();
    s.bicep['infra/app/keyvault.bicep'] = s.bicep['infra/app/keyvault.bicep']!.replace(
      '4633458b-17de-408a-b874-0445c86b69e6',
      '00000000-17de-408a-b874-0445c86b69e6',
    );
    expect(checkInfra(s)).toEqual([
      'infra/app/keyvault.bicep: role id 00000000-17de-408a-b874-0445c86b69e6 is not a known built-in role',
    ]);
  });

  it('fails when a custom role loses an action an adapter calls', () => {
    const s = sources();
    s.bicep['infra/app/roles.bicep'] = s.bicep['infra/app/roles.bicep']!.replace(
      "'Microsoft.Compute/virtualMachines/runCommand/action'",
      '',
    );
    expect(checkInfra(s)).toEqual([
      'TestVmPort needs Microsoft.Compute/virtualMachines/runCommand/action, which no role in infra grants',
    ]);
  });
});
