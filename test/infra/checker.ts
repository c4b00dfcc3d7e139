/**
 * Keeps infra/ and the code consistent, since Bicep cannot be compiled here: every setting the app
 * reads is set by infra and listed in local.settings.sample.json (and infra sets nothing nobody
 * reads), queue names match, every role id is a known built-in with the right name, infra/access.json
 * grants every ARM action the adapters call to the right principal at a scope covering the one Azure
 * checks (and nothing nobody needs), Bicep deploys access.json instead of its own lists, and the
 * Service Bus rights are exactly the least ones. Works on texts, so tests can run it on mutated
 * copies and see it fail.
 */
import { actionMatches } from '../../src/adapters/access';
import type { AccessDescription } from '../../src/local/azure-sim/access';

/** Built-in roles infra may use (name → id, from learn.microsoft.com "Azure built-in roles"). */
export const BUILT_IN_ROLES: Record<string, string> = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Network Contributor': '4d97b98b-1d4f-4787-a291-c67834d212e7',
  'Managed Identity Operator': 'f1a07417-d97a-45cb-824c-7a7467783830',
  'EventGrid Data Sender': 'd5a91429-5739-47e2-a06b-3470a27159e7',
  'Durable Task Data Contributor': '0ad04412-c4d5-4796-b79c-f76d14c8d402',
  'Durable Task Data Reader': 'd6a5505f-6ebb-45a4-896e-ac8274cfc0ac',
  'Durable Task Worker': '80d0d6b0-f522-40a4-8886-a5a11720c375',
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

/** Actions of the built-in roles infra/access.json assigns (learn.microsoft.com "Azure built-in roles"). */
const BUILT_IN_ACTIONS: Record<string, string[]> = {
  'Managed Identity Operator': [
    'Microsoft.ManagedIdentity/userAssignedIdentities/*/read',
    'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action',
  ],
  Reader: ['*/read'],
};
const BUILT_IN_DATA_ACTIONS: Record<string, string[]> = {
  'EventGrid Data Sender': ['Microsoft.EventGrid/events/send/action'],
  'Durable Task Data Contributor': ['Microsoft.DurableTask/*'],
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
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type:
    'Functions host: host.json override selecting the Durable Task Scheduler (durableBackend azureManaged)',
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName:
    'Functions host: host.json override naming the scheduler connection setting',
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING:
    'Durable extension (azureManaged provider): scheduler endpoint, ManagedIdentity, client id',
};

/** What one principal needs at one scope (symbolic, as in infra/access.json). */
export interface RequiredNeed {
  principal: string;
  scope: string;
  actions: string[];
  dataActions?: string[];
}

export interface RequiredActions {
  needs: RequiredNeed[];
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
  /** infra/access.json, parsed. */
  access: AccessDescription;
  /** docs/settings.md: one line per setting, "- `NAME` — meaning — example". */
  settingsDoc: string;
}

const GUID = /'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'(?:[^\n]*?\/\/ *([^\n]+))?/gi;

function settingsBlock(functionBicep: string, name: string): string {
  return new RegExp(`var ${name} = \\{([\\s\\S]*?)\\n\\}`).exec(functionBicep)?.[1] ?? '';
}

/** The settings function.bicep sets: appSettings, and the Durable Task Scheduler ones (azureManaged). */
function appSettingsKeys(functionBicep: string): Set<string> {
  const block = ['appSettings', 'durableTaskSchedulerSettings']
    .map((name) => settingsBlock(functionBicep, name))
    .join('\n');
  return new Set([...block.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*):/gm)].map((m) => m[1] as string));
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

/** True when an assignment at `outer` covers `inner` (the same scope or one inside it). */
function scopeCovers(scopes: Record<string, string | null>, outer: string, inner: string): boolean {
  const seen = new Set<string>();
  for (let at: string | null | undefined = inner; at != null && !seen.has(at); at = scopes[at]) {
    if (at === outer) return true;
    seen.add(at);
  }
  return false;
}

interface ResolvedAssignment {
  name: string;
  principal: string;
  scope: string;
  role: string;
  actions: string[];
  dataActions: string[];
  custom: boolean;
}

function resolveAssignments(access: AccessDescription, problems: string[]): ResolvedAssignment[] {
  const out: ResolvedAssignment[] = [];
  for (const [key, deployment] of Object.entries(access.deployments)) {
    for (const a of deployment.assignments) {
      const where = `infra/access.json ${key} assignment ${a.name}`;
      if (!(a.principal in access.principals)) problems.push(`${where}: unknown principal ${a.principal}`);
      if (!(a.scope in access.scopes)) problems.push(`${where}: unknown scope ${a.scope}`);
      const custom = deployment.roles[a.role];
      const builtIn = access.builtInRoles[a.role];
      if (custom === undefined && builtIn === undefined) {
        problems.push(`${where}: unknown role ${a.role}`);
        continue;
      }
      out.push({
        name: a.name,
        principal: a.principal,
        scope: a.scope,
        role: a.role,
        actions: custom?.actions ?? BUILT_IN_ACTIONS[a.role] ?? [],
        dataActions: custom?.dataActions ?? BUILT_IN_DATA_ACTIONS[a.role] ?? [],
        custom: custom !== undefined,
      });
    }
  }
  return out;
}

/**
 * Scope-aware: every action a port needs must be granted to the principal that calls, by an
 * assignment at the scope Azure checks or one above it. Conversely every action of a custom role
 * must be needed by its assignee somewhere inside the assignment's scope, and every built-in role
 * assignment by at least one need: a grant nobody needs is removed, not kept "just in case".
 */
function checkAccess(sources: InfraSources, problems: string[]): void {
  const access = sources.access;
  for (const [name, id] of Object.entries(access.builtInRoles))
    if (BUILT_IN_ROLES[name] !== id)
      problems.push(
        `infra/access.json: built-in role ${name} has id ${id}, expected ${BUILT_IN_ROLES[name] ?? '(unknown role)'}`,
      );
  const assignments = resolveAssignments(access, problems);
  const needs: (RequiredNeed & { port: string })[] = [];
  for (const [port, value] of Object.entries(sources.requiredActions)) {
    if (port.startsWith('$') || typeof value === 'string') continue;
    for (const need of value.needs) {
      if (!(need.principal in access.principals))
        problems.push(`infra/required-actions.json ${port}: unknown principal ${need.principal}`);
      if (!(need.scope in access.scopes))
        problems.push(`infra/required-actions.json ${port}: unknown scope ${need.scope}`);
      needs.push({ ...need, port });
    }
  }
  const kinds = ['actions', 'dataActions'] as const;
  for (const need of needs)
    for (const kind of kinds)
      for (const action of need[kind] ?? []) {
        const holders = assignments.filter(
          (a) => a.principal === need.principal && a[kind].some((p) => actionMatches(p, action)),
        );
        if (holders.length === 0)
          problems.push(
            `${need.port} needs ${action} for ${need.principal}, which no role in infra/access.json grants`,
          );
        else if (!holders.some((a) => scopeCovers(access.scopes, a.scope, need.scope)))
          problems.push(
            `${need.port} needs ${action} for ${need.principal} at ${need.scope}, but infra/access.json grants it only at ${holders.map((a) => a.scope).join(', ')}`,
          );
      }
  // A custom role may be shared (subnetJoiner: the build identity and the factory): each of its
  // actions must be needed by one of its assignees; each assignment must be needed for something.
  const uses = (a: ResolvedAssignment, kind: (typeof kinds)[number], pattern: string) =>
    needs.some(
      (n) =>
        n.principal === a.principal &&
        scopeCovers(access.scopes, a.scope, n.scope) &&
        (n[kind] ?? []).some((x) => actionMatches(pattern, x)),
    );
  for (const a of assignments)
    if (!kinds.some((kind) => a[kind].some((pattern) => uses(a, kind, pattern))))
      problems.push(
        `infra/access.json assignment ${a.name}: ${a.principal} needs nothing ${a.role} grants in ${a.scope}`,
      );
  for (const [key, deployment] of Object.entries(access.deployments))
    for (const role of Object.keys(deployment.roles)) {
      const holders = assignments.filter((a) => a.custom && a.role === role);
      for (const kind of kinds)
        for (const action of deployment.roles[role]?.[kind] ?? [])
          if (!holders.some((a) => uses(a, kind, action)))
            problems.push(
              `infra/access.json ${key} role ${role} grants ${action}, which none of its assignees needs where it is assigned`,
            );
    }
}

/**
 * Bicep deploys infra/access.json (loadJsonContent) instead of its own action lists, and every
 * custom role name carries the environment: role names are unique per tenant, so a second
 * environment in the same tenant would clash (issue 12, defect 7).
 */
function checkBicepUsesAccess(sources: InfraSources, problems: string[]): void {
  for (const path of ['infra/app/roles.bicep', 'infra/tenant/main.bicep'])
    if (!(sources.bicep[path] ?? '').includes("loadJsonContent('../access.json')"))
      problems.push(`${path}: must deploy infra/access.json with loadJsonContent('../access.json')`);
  for (const [path, text] of Object.entries(sources.bicep)) {
    if (/(?<![A-Za-z.])(actions|dataActions): \[\s*'/.test(text))
      problems.push(`${path}: lists role actions itself; put them in infra/access.json`);
    for (const m of text.matchAll(/roleName: ('[^'\n]*')/g))
      if (!(m[1] as string).includes('${environmentName}'))
        problems.push(`${path}: custom role name ${m[1] as string} does not include the environment name`);
  }
  // Purge protection keeps a deleted vault's name taken for 90 days: after `azd down --purge`,
  // `azd up` needs a new name.
  const vault = sources.bicep['infra/app/keyvault.bicep'] ?? '';
  const main = sources.bicep['infra/main.bicep'] ?? '';
  const vaultName = /module keyVault [\s\S]*?\n {4}name: ([^\n]+)/.exec(main)?.[1] ?? '';
  if (/enablePurgeProtection: true/.test(vault) && !vaultName.includes('keyVaultGeneration'))
    problems.push(
      'infra/main.bicep: the Key Vault has purge protection, so its name must change per deployment generation (keyVaultGeneration)',
    );
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

/**
 * roles.bicep deploys an assignment only when it resolves its scope (groups or resources map, or the
 * subscription): an eng scope it does not know would be skipped silently, and the grant would exist
 * in the simulated world only.
 */
function checkRolesResolveScopes(sources: InfraSources, problems: string[]): void {
  const roles = sources.bicep['infra/app/roles.bicep'] ?? '';
  for (const a of sources.access.deployments.eng.assignments)
    if (
      a.scope in sources.access.scopes &&
      a.scope !== 'engSubscription' &&
      !new RegExp(`^\\s+${a.scope}: \\{`, 'm').test(roles)
    )
      problems.push(
        `infra/app/roles.bicep: does not resolve scope ${a.scope}, so assignment ${a.name} would not be deployed`,
      );
}

/**
 * The Durable Task Scheduler backend (durableBackend azureManaged): the host.json overrides select
 * the azureManaged provider and name the connection setting, which is identity-only (Endpoint,
 * Authentication=ManagedIdentity, the factory identity's ClientID: "Configure managed identity for
 * Durable Task Scheduler"); the scheduler module declares a non-empty ipAllowlist (an empty one
 * denies every call).
 */
function checkDurableBackend(sources: InfraSources, problems: string[]): void {
  const path = 'infra/app/function.bicep';
  const block = settingsBlock(sources.bicep[path] ?? '', 'durableTaskSchedulerSettings');
  const value = (key: string) => new RegExp(`^\\s*${key}: '([^'\\n]*)'`, 'm').exec(block)?.[1];
  if (value('AzureFunctionsJobHost__extensions__durableTask__storageProvider__type') !== 'azureManaged')
    problems.push(
      `${path}: durableTaskSchedulerSettings must set AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'`,
    );
  const name = value('AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName');
  if (name !== 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING')
    problems.push(
      `${path}: durableTaskSchedulerSettings must name DURABLE_TASK_SCHEDULER_CONNECTION_STRING as the storage provider's connectionStringName`,
    );
  const connection = value('DURABLE_TASK_SCHEDULER_CONNECTION_STRING') ?? '';
  if (
    !/^Endpoint=\$\{durableTaskSchedulerEndpoint\};Authentication=ManagedIdentity;ClientID=\$\{factoryIdentityClientId\}$/.test(
      connection,
    )
  )
    problems.push(
      `${path}: DURABLE_TASK_SCHEDULER_CONNECTION_STRING must be 'Endpoint=\${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=\${factoryIdentityClientId}' (identity only, the factory identity), not '${connection}'`,
    );
  const scheduler = sources.bicep['infra/app/durable-task-scheduler.bicep'] ?? '';
  if (!/@minLength\(1\)\nparam ipAllowlist string\[\]/.test(scheduler))
    problems.push(
      'infra/app/durable-task-scheduler.bicep: ipAllowlist must be a parameter with @minLength(1) (an empty allow list denies every call)',
    );
}

export function checkInfra(sources: InfraSources): string[] {
  const problems: string[] = [];
  checkSettings(sources, problems);
  checkQueues(sources, problems);
  checkRoleIds(sources, problems);
  checkAccess(sources, problems);
  checkBicepUsesAccess(sources, problems);
  checkServiceBusRights(sources, problems);
  checkRolesResolveScopes(sources, problems);
  checkDurableBackend(sources, problems);
  return problems;
}
