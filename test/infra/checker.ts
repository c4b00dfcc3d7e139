/**
 * Keeps infra/ and the code consistent, since Bicep cannot be compiled here: every setting the app
 * reads is set by infra and listed in local.settings.sample.json (and infra sets nothing nobody
 * reads), queue names match, every role id is a known built-in with the right name, the custom roles
 * cover every ARM action the adapters call, and the Service Bus rights are exactly the least ones.
 * Works on texts, so tests can run it on mutated copies and see it fail.
 */
import { actionMatches } from '../../src/adapters/access';

/** Built-in roles infra may use (name → id, from learn.microsoft.com "Azure built-in roles"). */
export const BUILT_IN_ROLES: Record<string, string> = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Network Contributor': '4d97b98b-1d4f-4787-a291-c67834d212e7',
  'Managed Identity Operator': 'f1a07417-d97a-45cb-824c-7a7467783830',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  'Azure Service Bus Data Sender': '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  'Azure Service Bus Data Receiver': '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
  'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
};

/** Actions of the built-in roles infra assigns to the factory (beyond its custom roles). */
const BUILT_IN_ACTIONS: Record<string, string[]> = {
  'Managed Identity Operator': [
    'Microsoft.ManagedIdentity/userAssignedIdentities/*/read',
    'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action',
  ],
};

/** Settings that only make sense locally (trusting the simulator's certificate): never set in Azure. */
export const LOCAL_ONLY_SETTINGS = new Set(['AZURE_CA_CERT_FILE']);

/**
 * Settings infra sets that no schema in src/config declares, each with the reason it is needed.
 * Anything else infra sets but nobody reads is reported as stale.
 */
export const INFRA_ONLY_SETTINGS: Record<string, string> = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'Functions host: where telemetry goes',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
    'Functions host: Entra auth to Application Insights (local auth is off)',
  AzureWebJobsStorage__accountName: 'Functions host + durable task hub: identity-based storage connection',
  AzureWebJobsStorage__credential: 'Functions host: identity-based storage connection',
  AzureWebJobsStorage__clientId: 'Functions host: which user-assigned identity',
  ServiceBusConnection__credential: 'Service Bus trigger (Functions host): identity-based connection',
  AZURE_CLIENT_ID: '@azure/identity: the user-assigned identity ManagedIdentityCredential uses by default',
  FACTORY_CLIENT_SECRET:
    'named by secretSetting of a clientSecret profile in AZURE_CREDENTIALS (Key Vault reference)',
  FACTORY_CLIENT_CERTIFICATE:
    'named by certificateSetting of a clientCertificate profile in AZURE_CREDENTIALS (Key Vault reference)',
};

export interface RequiredActions {
  actions: string[];
  dataActions?: string[];
}

export interface InfraSources {
  /** path → Bicep text */
  bicep: Record<string, string>;
  sampleValues: Record<string, string>;
  /** Keys of the zod schemas in src/config plus ${SETTING} placeholders of the pipelines. */
  settingKeys: string[];
  /** Default queue names from the config schemas. */
  queueNames: string[];
  requiredActions: Record<string, RequiredActions | string>;
  /** docs/settings.md: one line per setting, "- `NAME` — meaning — example". */
  settingsDoc: string;
}

const GUID = /'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'(?:[^\n]*?\/\/ *([^\n]+))?/gi;

function appSettingsKeys(functionBicep: string): Set<string> {
  const block = /var appSettings = \{([\s\S]*?)\n\}/.exec(functionBicep)?.[1] ?? '';
  return new Set([...block.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*):/gm)].map((m) => m[1] as string));
}

/** Quoted strings inside every `<key>: [ ... ]` list of the given key (e.g. actions, dataActions). */
function listed(text: string, key: 'actions' | 'dataActions'): string[] {
  return [...text.matchAll(new RegExp(`(?<![A-Za-z])${key}: \\[([\\s\\S]*?)\\]`, 'g'))].flatMap((m) =>
    [...(m[1] as string).matchAll(/'([^']+)'/g)].map((a) => a[1] as string),
  );
}

function checkSettings(sources: InfraSources, problems: string[]): void {
  const infraSettings = appSettingsKeys(sources.bicep['infra/app/function.bicep'] ?? '');
  const read = new Set(sources.settingKeys);
  for (const key of read) {
    // A connection string (local) is replaced in Azure by the identity-based <name>__fullyQualifiedNamespace.
    const identityBased = read.has(`${key}__fullyQualifiedNamespace`);
    if (identityBased && infraSettings.has(key))
      problems.push(
        `setting ${key} is a connection string: infra must set ${key}__fullyQualifiedNamespace instead`,
      );
    if (!LOCAL_ONLY_SETTINGS.has(key) && !identityBased && !infraSettings.has(key))
      problems.push(`setting ${key} is read by the app but not set in infra/app/function.bicep appSettings`);
    if (!(key in sources.sampleValues))
      problems.push(`setting ${key} is missing from local.settings.sample.json`);
  }
  for (const key of infraSettings) {
    if (!read.has(key) && !(key in INFRA_ONLY_SETTINGS))
      problems.push(`setting ${key} is set by infra but nothing reads it (stale, or add it to a schema)`);
    if (LOCAL_ONLY_SETTINGS.has(key))
      problems.push(`setting ${key} is local-only and must not be set in Azure`);
  }
  const documented = new Set(
    [...sources.settingsDoc.matchAll(/^- `([A-Za-z_][A-Za-z0-9_]*)` — .+ — .+$/gm)].map(
      (m) => m[1] as string,
    ),
  );
  for (const key of new Set([...read, ...infraSettings, ...Object.keys(sources.sampleValues)]))
    if (!documented.has(key))
      problems.push(`setting ${key} has no line "- \`${key}\` — meaning — example" in docs/settings.md`);
}

function checkQueues(sources: InfraSources, problems: string[]): void {
  const main = sources.bicep['infra/main.bicep'] ?? '';
  const block = /var queueNames = \{([\s\S]*?)\n\}/.exec(main)?.[1] ?? '';
  const created = new Set([...block.matchAll(/:\s*'([^']+)'/g)].map((m) => m[1] as string));
  for (const queue of sources.queueNames)
    if (!created.has(queue))
      problems.push(`queue ${queue} (config default) is not created by infra/main.bicep`);
}

function checkRoleIds(sources: InfraSources, problems: string[]): void {
  const names = new Map(Object.entries(BUILT_IN_ROLES).map(([name, id]) => [id, name]));
  for (const [path, text] of Object.entries(sources.bicep)) {
    for (const match of text.matchAll(GUID)) {
      const id = (match[1] as string).toLowerCase();
      const label = match[2]?.trim();
      const name = names.get(id);
      if (name === undefined) problems.push(`${path}: role id ${id} is not a known built-in role`);
      else if (label !== undefined && label !== name)
        problems.push(`${path}: role id ${id} is ${name}, but the comment says ${label}`);
    }
  }
}

function checkActions(sources: InfraSources, problems: string[]): void {
  const roles = sources.bicep['infra/app/roles.bicep'] ?? '';
  const assignedBuiltIns = Object.keys(BUILT_IN_ACTIONS).filter((name) =>
    Object.values(sources.bicep).some((text) => text.includes(BUILT_IN_ROLES[name] as string)),
  );
  const granted = {
    actions: [
      ...listed(roles, 'actions'),
      ...assignedBuiltIns.flatMap((name) => BUILT_IN_ACTIONS[name] ?? []),
    ],
    dataActions: listed(roles, 'dataActions'),
  };
  for (const [port, needs] of Object.entries(sources.requiredActions)) {
    if (port.startsWith('$') || typeof needs === 'string') continue;
    for (const kind of ['actions', 'dataActions'] as const)
      for (const action of needs[kind] ?? [])
        if (!granted[kind].some((pattern) => actionMatches(pattern, action)))
          problems.push(`${port} needs ${action}, which no role in infra grants`);
  }
}

/**
 * Service Bus: the factory sends to requests and rejects and receives from decisions; on-prem the
 * opposite (receives requests, sends decisions); nobody gets a role on the namespace or anything else.
 */
function checkServiceBusRights(sources: InfraSources, problems: string[]): void {
  const path = 'infra/app/servicebus.bicep';
  const text = sources.bicep[path] ?? '';
  const queueOf = new Map(
    [
      ...text.matchAll(
        /resource (\w+) 'Microsoft\.ServiceBus\/namespaces\/queues@[^']+' existing = \{[^}]*?name: queueNames\.(\w+)/g,
      ),
    ].map((m) => [m[1] as string, m[2] as string]),
  );
  const roleOf = new Map(
    [...text.matchAll(/var (\w+) = '([0-9a-f-]{36})'/g)].map((m) => [
      m[1] as string,
      Object.entries(BUILT_IN_ROLES).find(([, id]) => id === m[2])?.[0] ?? (m[2] as string),
    ]),
  );
  const grants: Record<string, string[]> = { factoryPrincipalId: [], onPremPrincipalId: [] };
  for (const m of text.matchAll(
    /resource (\w+) 'Microsoft\.Authorization\/roleAssignments@[^']+' = [^{]*\{([\s\S]*?)\n\}/g,
  )) {
    const body = m[2] as string;
    const scope = /scope: (\w+)/.exec(body)?.[1] ?? '(none)';
    const principal = /principalId: (\w+)/.exec(body)?.[1] ?? '(unknown)';
    const role = /roleDefinitions', (\w+)\)/.exec(body)?.[1] ?? '(unknown)';
    const grant = `${queueOf.get(scope) ?? scope}: ${roleOf.get(role) ?? role}`;
    (grants[principal] ??= []).push(grant);
  }
  const expected: Record<string, string[]> = {
    factoryPrincipalId: [
      'decisions: Azure Service Bus Data Receiver',
      'rejects: Azure Service Bus Data Sender',
      'requests: Azure Service Bus Data Sender',
    ],
    onPremPrincipalId: [
      'decisions: Azure Service Bus Data Sender',
      'requests: Azure Service Bus Data Receiver',
    ],
  };
  // The Service Bus adapter sends a request again after a crash with the same message id and
  // relies on the queue to drop it (src/adapters/servicebus); the local peer does the same.
  if (!/^\s*requiresDuplicateDetection: true$/m.test(text))
    problems.push(
      `${path}: the queues must have requiresDuplicateDetection: true (re-sent requests are dropped by message id)`,
    );
  for (const [principal, list] of Object.entries(grants)) {
    const want = expected[principal] ?? [];
    const have = [...list].sort();
    if (JSON.stringify(have) !== JSON.stringify(want))
      problems.push(`${path}: ${principal} has [${have.join('; ')}], expected exactly [${want.join('; ')}]`);
  }
}

export function checkInfra(sources: InfraSources): string[] {
  const problems: string[] = [];
  checkSettings(sources, problems);
  checkQueues(sources, problems);
  checkRoleIds(sources, problems);
  checkActions(sources, problems);
  checkServiceBusRights(sources, problems);
  return problems;
}
