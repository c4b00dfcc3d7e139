/**
 * Keeps infra/ and the code consistent, since Bicep cannot be compiled here: every setting the app
 * reads is set by infra and listed in local.settings.sample.json, queue names match, every role id
 * is a known built-in, and the custom roles cover every ARM action the adapters call.
 */
import { actionMatches } from '../../src/adapters/access';

/** Built-in roles infra may use (name → id, from learn.microsoft.com built-in roles). */
export const BUILT_IN_ROLES: Record<string, string> = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Network Contributor': '4d97b98b-1d4f-4787-a291-c67834d212e7',
  'Managed Identity Operator': 'f1a07417-d97a-45cb-824c-7a7467783830',
  'Azure Service Bus Data Sender': '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  'Azure Service Bus Data Receiver': '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
  'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
};

/** Actions of the built-in roles infra assigns to the factory (beyond its custom roles). */
const BUILT_IN_ACTIONS: Record<string, string[]> = {
  'Managed Identity Operator': [
    'Microsoft.ManagedIdentity/userAssignedIdentities/*/read',
    'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action',
  ],
  'Network Contributor': ['Microsoft.Network/*'],
};

/** Settings that only make sense locally (trusting the simulator's certificate): never set in Azure. */
export const LOCAL_ONLY_SETTINGS = new Set(['AZURE_CA_CERT_FILE']);

export interface InfraSources {
  /** path → Bicep text */
  bicep: Record<string, string>;
  sampleValues: Record<string, string>;
  settingKeys: string[];
  queueNames: string[];
  requiredActions: Record<string, string[]>;
}

function appSettingsKeys(functionBicep: string): Set<string> {
  const block = /var appSettings = \{([\s\S]*?)\n\}/.exec(functionBicep)?.[1] ?? '';
  return new Set([...block.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*):/gm)].map((m) => m[1] as string));
}

export function checkInfra(sources: InfraSources): string[] {
  const problems: string[] = [];
  const functionBicep = sources.bicep['infra/app/function.bicep'] ?? '';
  const infraSettings = appSettingsKeys(functionBicep);
  for (const key of sources.settingKeys) {
    // Identity-based connections are set as <name>__fullyQualifiedNamespace in Azure.
    const inInfra =
      LOCAL_ONLY_SETTINGS.has(key) ||
      infraSettings.has(key) ||
      infraSettings.has(`${key}__fullyQualifiedNamespace`);
    if (!inInfra)
      problems.push(`setting ${key} is read by the app but not set in infra/app/function.bicep appSettings`);
    if (!(key in sources.sampleValues))
      problems.push(`setting ${key} is missing from local.settings.sample.json`);
  }
  const main = sources.bicep['infra/main.bicep'] ?? '';
  for (const queue of sources.queueNames) {
    if (!main.includes(`'${queue}'`))
      problems.push(`queue ${queue} (config default) is not created by infra/main.bicep`);
  }
  const knownIds = new Set(Object.values(BUILT_IN_ROLES));
  for (const [path, text] of Object.entries(sources.bicep)) {
    for (const match of text.matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/gi)) {
      if (!knownIds.has((match[1] as string).toLowerCase()))
        problems.push(`${path}: role id ${match[1]} is not a known built-in role`);
    }
  }
  const roles = sources.bicep['infra/app/roles.bicep'] ?? '';
  const customActions = [...roles.matchAll(/actions: \[([\s\S]*?)\]/g)].flatMap((m) =>
    [...(m[1] as string).matchAll(/'([^']+)'/g)].map((a) => a[1] as string),
  );
  const assignedBuiltIns = Object.keys(BUILT_IN_ACTIONS).filter((name) =>
    Object.values(sources.bicep).some((text) => text.includes(BUILT_IN_ROLES[name] as string)),
  );
  const granted = [...customActions, ...assignedBuiltIns.flatMap((name) => BUILT_IN_ACTIONS[name] ?? [])];
  for (const [port, actions] of Object.entries(sources.requiredActions)) {
    if (port.startsWith('$')) continue;
    for (const action of actions) {
      if (!granted.some((pattern) => actionMatches(pattern, action)))
        problems.push(`${port} needs ${action}, which no role in infra grants`);
    }
  }
  return problems;
}
