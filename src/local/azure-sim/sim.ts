/**
 * The simulated Azure: state, seeding and the HTTPS/HTTP servers (Entra, ARM, Blob, managed identity).
 * Resource-provider behaviour lives in providers/*.ts; this file holds what every call shares:
 * authentication, RBAC, api-version checks, faults, long-running operations and the request log.
 * Over 600 lines: routing, Entra, Blob and seeding still live here; issue 16 splits them by concern.
 */
import { createHash, generateKeyPairSync, randomBytes, createPublicKey, type KeyObject } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { systemClock, type Clock } from '../../shared/clock';
import type {
  AzureSimulator,
  FaultPlan,
  IssuedCredential,
  RunCommandScript,
  SimRequestRecord,
  SimulatorOptions,
} from './api';
import { certInfo, decodeJwt, signRs256, verifySignature, type CertInfo } from './jwt';
import { BUILT_IN_ROLES, roleAllows, scopeCovers, type RoleAssignment, type RoleDefinition } from './rbac';
import { ArmError, type ArmRequest, type ArmResponse, type Claims, type SimResource } from './types';
import { ProviderRegistry, type RegistrationState } from './providers/registration';
import { eqi, guidFrom, idSegments, isObject, redact, seededRandom, str } from './util';
import { reportArmExchange } from './contract';
import { DEFAULT_LRO_TIMINGS, resolveLroTimings, type LroKind, type LroTiming } from './lro';

// ARM accepts every published api-version of a resource type, so the simulator does too (issue 13
// item 8: it used to accept one per type). The versions the installed SDKs pin come first (the
// InvalidApiVersionParameter text lists them in this order). Sources:
// - Image Builder: every stable version in azure-rest-api-specs `specification/imagebuilder/…/stable/*`.
// - Compute: the `input-file` lists of every package tag in azure-rest-api-specs
//   `specification/compute/resource-manager/Microsoft.Compute/Compute/readme.md` (ComputeRP for
//   virtualMachines/images/locations and DiskRP for disks from 2020 on; GalleryRP for galleries, all
//   of them: 2018-06-01 to 2025-03-03, also the GalleryRP/stable/* folders), plus
//   the newer versions @azure/arm-compute 24/25 pin (2025-12-03, 2026-03-01, 2026-04-01, 2026-03-02).
// - Network: @azure/arm-network 39 and 36 (2026-01-01, 2025-05-01) and the stable versions the
//   network readme's package tags name (2021-05-01, 2021-08-01, 2022-01-01) or its examples
//   (stable/2024-05-01/examples/NetworkInterfaceCreate.json); the others are not listed here yet
//   (FIDELITY.md, knowingly different).
// - Resources: the resources readme's package tags (resources.json, subscriptions.json) from 2019-08 on.
// - Authorization, managed identity, storage: the SDK-pinned versions only (FIDELITY.md).
const COMPUTE_RP_VERSIONS = [
  '2026-04-01',
  '2026-03-01',
  '2025-04-01',
  '2024-11-01',
  '2024-07-01',
  '2024-03-01',
  '2023-09-01',
  '2023-07-01',
  '2023-03-01',
  '2022-11-01',
  '2022-08-01',
  '2022-03-01',
  '2021-11-01',
  '2021-07-01',
  '2021-04-01',
  '2021-03-01',
  '2020-12-01',
  '2020-06-01',
];
export const API_VERSIONS: Record<string, string[]> = {
  'microsoft.virtualmachineimages': [
    '2025-10-01',
    '2024-02-01',
    '2023-07-01',
    '2022-07-01',
    '2022-02-14',
    '2021-10-01',
    '2020-02-14',
  ],
  'microsoft.compute/galleries': [
    '2025-12-03',
    '2025-03-03',
    '2024-03-03',
    '2023-07-03',
    '2022-08-03',
    '2022-03-03',
    '2022-01-03',
    '2021-10-01',
    '2021-07-01',
    '2020-09-30',
    '2019-12-01',
    '2019-07-01',
    '2019-03-01',
    '2018-06-01',
  ],
  'microsoft.compute/virtualmachines': COMPUTE_RP_VERSIONS,
  'microsoft.compute/images': COMPUTE_RP_VERSIONS,
  'microsoft.compute/locations': COMPUTE_RP_VERSIONS,
  'microsoft.compute/disks': [
    '2026-03-02',
    '2025-01-02',
    '2024-03-02',
    '2023-10-02',
    '2023-04-02',
    '2023-01-02',
    '2022-07-02',
    '2022-03-02',
    '2021-12-01',
    '2021-08-01',
    '2021-04-01',
    '2020-12-01',
    '2020-09-30',
  ],
  'microsoft.network': ['2026-01-01', '2025-05-01', '2024-05-01', '2022-01-01', '2021-08-01', '2021-05-01'],
  // resources.json (resource groups, resources) and subscriptions.json (subscription GET) stable
  // versions named by the resources readme's package tags, after the SDK's.
  'microsoft.resources': [
    '2025-04-01',
    '2022-12-01',
    '2022-09-01',
    '2021-04-01',
    '2021-01-01',
    '2020-10-01',
    '2020-08-01',
    '2020-06-01',
    '2019-10-01',
    '2019-08-01',
  ],
  'microsoft.authorization': ['2022-04-01', '2015-07-01'],
  'microsoft.managedidentity': ['2023-01-31', '2024-11-30'],
  'microsoft.storage': ['2025-01-01', '2023-05-01'],
};

export function apiVersionsFor(type: string): string[] {
  const t = type.toLowerCase();
  let best: string[] = [];
  let bestLen = -1;
  for (const [k, v] of Object.entries(API_VERSIONS)) {
    if ((t === k || t.startsWith(k + '/')) && k.length > bestLen) {
      best = v;
      bestLen = k.length;
    }
  }
  return best;
}

const ARM_AUDIENCES = [
  'https://management.azure.com',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.core.windows.net/',
];
const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

interface Tenant {
  tenantId: string;
  displayName: string;
  subscriptions: Set<string>;
}

interface AppRegistration {
  appId: string;
  displayName: string;
  homeTenantId: string;
  secrets: string[];
  certificates: CertInfo[];
  federated: { issuer: string; subject: string }[];
}

export interface ManagedIdentity {
  id: string;
  name: string;
  principalId: string;
  clientId: string;
  tenantId: string;
}

interface AsyncOperation {
  id: string;
  name: string;
  subscriptionId: string;
  namespace: string;
  location: string;
  tenantId: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  kind: LroKind;
  /** Clock time the operation turns terminal (ignored when `doneWhen` is set). */
  endsAt: number;
  /** Ends the operation when the resource says so (e.g. a version PUT ends with its replication). */
  doneWhen?: () => boolean;
  /** Retry-After (seconds) sent while it runs; undefined = no header. */
  retryAfterSeconds?: number;
  startTime: number;
  endTime?: number;
  error?: { code: string; message: string };
  /** Body of the final Location GET (200) — e.g. a run command result; 204 when absent. */
  result?: unknown;
  /** Runs once when the operation turns terminal (e.g. a delete finishing). */
  onDone?: () => void;
}

/** Blob contents by lower-case "account/container/blob", with the clock time of the last write. */
export class BlobStore extends Map<string, string> {
  readonly modified = new Map<string, number>();

  constructor(private readonly now: () => number) {
    super();
  }

  override set(key: string, value: string): this {
    // Map's constructor never calls set here (no initial entries), so `modified` exists.
    this.modified.set(key, this.now());
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.modified.delete(key);
    return super.delete(key);
  }
}

export type Handler = (sim: Simulator, req: ArmRequest) => ArmResponse | Promise<ArmResponse>;

export interface Route {
  /** Canonical lower-case type the route serves, e.g. "microsoft.compute/galleries/images". */
  type: string;
  /** get/put/patch/delete on an item, list on a collection, or an action name (POST). */
  verb: 'get' | 'put' | 'patch' | 'delete' | 'list' | `action:${string}`;
  handler: Handler;
}

/**
 * A data plane served on the simulator's HTTPS endpoint by path (like Blob): answers and returns
 * true when the request is its own (e.g. Event Grid's `/{topic}/api/events`, eventgrid.ts).
 */
export type DataPlane = (
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
  raw: string,
) => boolean;

export interface SimulatorExtras {
  /** Lifetime of issued access tokens in simulator-clock ms (default 24 h; see FIDELITY.md). */
  tokenLifetimeMs?: number;
  /** Duration / Retry-After per long-running operation kind (defaults: Azure's, see lro.ts). */
  operationTimings?: Partial<Record<LroKind, Partial<LroTiming>>>;
}

export class Simulator implements AzureSimulator {
  armEndpoint = '';
  authorityHost = '';
  ca = '';
  managedIdentityEndpoint = { url: '', header: '' };
  spareClientCertificate = { certificatePem: '', privateKeyPem: '' };

  readonly clock: Clock;
  readonly durations: {
    buildMs: number;
    replicationPerRegionMs: number;
    vmCreateMs: number;
    providerRegistrationMs: number;
  };
  /** Resource provider registration state per subscription (providers/registration.ts). */
  readonly providerRegistry: ProviderRegistry;
  readonly resources = new Map<string, SimResource>();
  readonly tenants = new Map<string, Tenant>();
  readonly subscriptionTenant = new Map<string, string>();
  readonly apps = new Map<string, AppRegistration>();
  /** tenantId -> appId -> service principal object id */
  readonly servicePrincipals = new Map<string, Map<string, string>>();
  readonly identities = new Map<string, ManagedIdentity>(); // by lower-case resource id
  readonly roleDefinitions = new Map<string, RoleDefinition>(); // by lower-case guid
  readonly roleAssignments = new Map<string, RoleAssignment>(); // by lower-case full id
  readonly platformImages: {
    location: string;
    publisher: string;
    offer: string;
    sku: string;
    version: string;
  }[] = [];
  /** "account/container/blob" -> content; remembers when each blob was last written (List Blobs). */
  readonly blobs = new BlobStore(() => this.clock.now());
  readonly operations = new Map<string, AsyncOperation>();
  runCommandScript: RunCommandScript | undefined;
  readonly customizerFailures: { customizerName: string; logLines: string[] }[] = [];
  /** Identities a workload on this "host" may get tokens for from the managed identity endpoint. */
  readonly hostIdentities: { clientId: string; isDefault: boolean }[] = [];

  private readonly routes: Route[] = [];
  private readonly dataPlanes: DataPlane[] = [];
  private readonly idRandom: () => number;
  private faultRandom: () => number;
  private faultPlan: FaultPlan | undefined;
  private readonly seed: number;
  private readonly counts: Record<string, number> = {};
  private readonly log: SimRequestRecord[] = [];
  private readonly credentials: IssuedCredential[] = [];
  private readonly signingKey: { privateKey: string; publicKey: KeyObject; kid: string };
  private readonly tokenLifetimeMs: number;
  readonly lroTimings: Record<LroKind, LroTiming>;
  private https: HttpsServer | undefined;
  private http: HttpServer | undefined;
  private readonly tickers: ((now: number) => void)[] = [];
  private readonly onRequest: SimulatorOptions['onRequest'];
  private readonly onOperationPoll: SimulatorOptions['onOperationPoll'];
  private readonly rateLimitUse = new Map<string, number>();

  constructor(options: SimulatorOptions & SimulatorExtras) {
    this.clock = options.clock ?? systemClock;
    this.onRequest = options.onRequest;
    this.onOperationPoll = options.onOperationPoll;
    this.seed = options.seed ?? 1;
    this.idRandom = seededRandom(this.seed);
    this.faultRandom = seededRandom(this.seed ^ 0x5eed);
    this.faultPlan = options.faults;
    this.durations = {
      buildMs: options.durations?.buildMs ?? 60 * 60_000,
      replicationPerRegionMs: options.durations?.replicationPerRegionMs ?? 20 * 60_000,
      vmCreateMs: options.durations?.vmCreateMs ?? DEFAULT_LRO_TIMINGS.vmCreate.durationMs,
      providerRegistrationMs: options.durations?.providerRegistrationMs ?? 2 * 60_000,
    };
    this.providerRegistry = new ProviderRegistry(
      () => this.clock.now(),
      this.durations.providerRegistrationMs,
    );
    this.tokenLifetimeMs = options.tokenLifetimeMs ?? 24 * 3600_000;
    this.lroTimings = resolveLroTimings(options.operationTimings, options.durations?.vmCreateMs);
    // Operations end by clock time, whether or not anybody polls them (see lro.ts).
    this.onTick((now) => this.settleOperations(now));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = {
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey: createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })),
      kid: this.newGuid().replace(/-/g, '').slice(0, 16),
    };
    for (const role of BUILT_IN_ROLES) this.roleDefinitions.set(role.id.toLowerCase(), role);
  }

  // ------------------------------------------------------------------ lifecycle

  async start(port: number | undefined): Promise<void> {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      notBeforeDate: new Date(Date.now() - 3600_000),
      notAfterDate: new Date(Date.now() + 7 * 24 * 3600_000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    });
    this.ca = pems.cert;
    const client = await generate([{ name: 'commonName', value: 'image-factory-client' }], {
      keySize: 2048,
      notBeforeDate: new Date(Date.now() - 3600_000),
      notAfterDate: new Date(Date.now() + 365 * 24 * 3600_000),
    });
    this.spareClientCertificate = { certificatePem: client.cert, privateKeyPem: client.private };
    this.https = createHttpsServer(
      { key: pems.private, cert: pems.cert, keepAlive: true },
      (req, res) => void this.dispatch(req, res),
    );
    await new Promise<void>((resolve) => this.https?.listen(port ?? 0, '127.0.0.1', resolve));
    const addr = this.https.address() as AddressInfo;
    this.armEndpoint = `https://127.0.0.1:${addr.port}`;
    this.authorityHost = this.armEndpoint;
    this.http = createHttpServer((req, res) => void this.managedIdentityRequest(req, res));
    await new Promise<void>((resolve) => this.http?.listen(0, '127.0.0.1', resolve));
    const miAddr = this.http.address() as AddressInfo;
    this.managedIdentityEndpoint = {
      url: `http://127.0.0.1:${miAddr.port}/msi/token`,
      header: randomBytes(16).toString('hex'),
    };
  }

  async stop(): Promise<void> {
    for (const server of [this.https, this.http]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.https = undefined;
    this.http = undefined;
  }

  registerRoutes(routes: Route[]): void {
    this.routes.push(...routes);
  }

  registerDataPlane(plane: DataPlane): void {
    this.dataPlanes.push(plane);
  }

  /** Registers a function that materializes clock-driven state (called before every request and inventory()). */
  onTick(fn: (now: number) => void): void {
    this.tickers.push(fn);
  }

  tick(): void {
    const now = this.clock.now();
    for (const t of this.tickers) t(now);
  }

  newGuid(): string {
    return guidFrom(this.idRandom);
  }

  // ------------------------------------------------------------------ seeding

  addTenant(tenantId: string, displayName: string): void {
    this.tenants.set(tenantId.toLowerCase(), { tenantId, displayName, subscriptions: new Set() });
    if (!this.servicePrincipals.has(tenantId.toLowerCase()))
      this.servicePrincipals.set(tenantId.toLowerCase(), new Map());
  }

  addSubscription(tenantId: string, subscriptionId: string): void {
    const tenant = this.tenants.get(tenantId.toLowerCase());
    if (!tenant) throw new Error(`addSubscription: unknown tenant ${tenantId}`);
    tenant.subscriptions.add(subscriptionId.toLowerCase());
    this.subscriptionTenant.set(subscriptionId.toLowerCase(), tenant.tenantId);
  }

  registerProvider(subscriptionId: string, namespace: string, options: { completed?: boolean } = {}): void {
    this.tenantOf(subscriptionId);
    this.providerRegistry.register(subscriptionId, namespace, options.completed ?? true);
  }

  unregisterProvider(subscriptionId: string, namespace: string): void {
    this.tenantOf(subscriptionId);
    this.providerRegistry.unregister(subscriptionId, namespace);
  }

  providerRegistrationState(subscriptionId: string, namespace: string): RegistrationState {
    return this.providerRegistry.state(subscriptionId, namespace);
  }

  addResourceGroup(
    subscriptionId: string,
    name: string,
    location: string,
    tags: Record<string, string> = {},
  ): string {
    if (!this.subscriptionTenant.has(subscriptionId.toLowerCase()))
      throw new Error(`addResourceGroup: unknown subscription ${subscriptionId}`);
    const id = `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
    this.putResource({
      id,
      type: 'Microsoft.Resources/resourceGroups',
      name,
      subscriptionId,
      resourceGroup: name,
      location,
      tags,
      properties: { provisioningState: 'Succeeded' },
    });
    return id;
  }

  addAppRegistration(app: {
    appId: string;
    displayName: string;
    homeTenantId: string;
    secrets?: string[];
    certificates?: string[];
    federated?: { issuer: string; subject: string }[];
  }): void {
    this.apps.set(app.appId.toLowerCase(), {
      appId: app.appId,
      displayName: app.displayName,
      homeTenantId: app.homeTenantId,
      secrets: [...(app.secrets ?? [])],
      certificates: (app.certificates ?? []).map(certInfo),
      federated: [...(app.federated ?? [])],
    });
  }

  addServicePrincipal(tenantId: string, appId: string): string {
    const sps = this.servicePrincipals.get(tenantId.toLowerCase());
    if (!sps) throw new Error(`addServicePrincipal: unknown tenant ${tenantId}`);
    if (!this.apps.has(appId.toLowerCase())) throw new Error(`addServicePrincipal: unknown app ${appId}`);
    const existing = sps.get(appId.toLowerCase());
    if (existing) return existing;
    const oid = this.newGuid();
    sps.set(appId.toLowerCase(), oid);
    return oid;
  }

  addUserAssignedIdentity(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
  }): ManagedIdentity {
    const tenantId = this.tenantOf(args.subscriptionId);
    const id = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${args.name}`;
    const mi: ManagedIdentity = {
      id,
      name: args.name,
      principalId: this.newGuid(),
      clientId: this.newGuid(),
      tenantId,
    };
    this.identities.set(id.toLowerCase(), mi);
    this.putResource({
      id,
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      name: args.name,
      subscriptionId: args.subscriptionId,
      resourceGroup: args.resourceGroup,
      location: args.location,
      tags: {},
      properties: { tenantId, principalId: mi.principalId, clientId: mi.clientId },
    });
    return { ...mi };
  }

  /** Lets workloads on the simulated host get tokens for this identity from the managed identity endpoint. */
  attachHostIdentity(clientId: string, isDefault = false): void {
    this.hostIdentities.push({ clientId, isDefault });
  }

  addRoleDefinition(def: {
    roleName: string;
    description?: string;
    actions: string[];
    notActions?: string[];
    dataActions?: string[];
    assignableScopes: string[];
  }): string {
    const id = this.newGuid();
    this.roleDefinitions.set(id, {
      id,
      roleName: def.roleName,
      type: 'CustomRole',
      description: def.description ?? '',
      actions: def.actions,
      notActions: def.notActions ?? [],
      dataActions: def.dataActions ?? [],
      notDataActions: [],
      assignableScopes: def.assignableScopes,
    });
    return id;
  }

  findRole(role: string): RoleDefinition | undefined {
    const guid = role.split('/').pop()?.toLowerCase() ?? '';
    return (
      this.roleDefinitions.get(guid) ??
      [...this.roleDefinitions.values()].find((r) => r.roleName.toLowerCase() === role.toLowerCase())
    );
  }

  assignRole(args: { principalId: string; role: string; scope: string }): string {
    const role = this.findRole(args.role);
    if (!role) throw new Error(`assignRole: unknown role ${args.role}`);
    const name = this.newGuid();
    const scope = args.scope.replace(/\/+$/, '');
    const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    this.roleAssignments.set(id.toLowerCase(), {
      id,
      name,
      scope,
      roleDefinitionGuid: role.id,
      principalId: args.principalId,
      principalType: 'ServicePrincipal',
    });
    return id;
  }

  removeRoleDefinition(roleDefinitionId: string): void {
    this.roleDefinitions.delete(roleDefinitionId.split('/').pop()?.toLowerCase() ?? '');
  }

  removeRoleAssignment(assignmentId: string): void {
    this.roleAssignments.delete(assignmentId.toLowerCase());
  }

  addPlatformImageVersion(args: {
    location: string;
    publisher: string;
    offer: string;
    sku: string;
    version: string;
  }): void {
    this.platformImages.push({ ...args });
  }

  addGallery(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
  }): string {
    const id = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/Microsoft.Compute/galleries/${args.name}`;
    this.putResource({
      id,
      type: 'Microsoft.Compute/galleries',
      name: args.name,
      subscriptionId: args.subscriptionId,
      resourceGroup: args.resourceGroup,
      location: args.location,
      tags: {},
      properties: {
        provisioningState: 'Succeeded',
        identifier: { uniqueName: `${this.tenantOf(args.subscriptionId)}-${args.name.toUpperCase()}` },
      },
    });
    return id;
  }

  addVirtualNetwork(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    subnets: {
      name: string;
      addressPrefix: string;
      privateLinkServiceNetworkPolicies: 'Enabled' | 'Disabled';
      nsgInboundAllows?: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
      nsgInboundDenies?: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
    }[];
  }): string {
    const base = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/Microsoft.Network`;
    const id = `${base}/virtualNetworks/${args.name}`;
    const common = {
      subscriptionId: args.subscriptionId,
      resourceGroup: args.resourceGroup,
      location: args.location,
      tags: {},
    };
    this.putResource({
      ...common,
      id,
      type: 'Microsoft.Network/virtualNetworks',
      name: args.name,
      properties: {
        provisioningState: 'Succeeded',
        addressSpace: { addressPrefixes: args.subnets.map((s) => s.addressPrefix) },
      },
    });
    for (const subnet of args.subnets) {
      let nsgId: string | undefined;
      if (subnet.nsgInboundAllows || subnet.nsgInboundDenies) {
        const nsgName = `${args.name}-${subnet.name}-nsg`;
        const nsg = `${base}/networkSecurityGroups/${nsgName}`;
        nsgId = nsg;
        const rule = (
          name: string,
          r: { sourceAddressPrefix: string; destinationPortRanges: string[] },
          access: 'Allow' | 'Deny',
          priority: number,
        ): Record<string, unknown> => ({
          id: `${nsg}/securityRules/${name}`,
          name,
          properties: {
            provisioningState: 'Succeeded',
            protocol: access === 'Allow' ? 'Tcp' : '*',
            sourcePortRange: '*',
            sourceAddressPrefix: r.sourceAddressPrefix,
            destinationAddressPrefix: '*',
            destinationPortRanges: r.destinationPortRanges,
            access,
            priority,
            direction: 'Inbound',
          },
        });
        const securityRules = [
          ...(subnet.nsgInboundAllows ?? []).map((r, i) => rule(`allow-${i}`, r, 'Allow', 100 + i * 10)),
          ...(subnet.nsgInboundDenies ?? []).map((r, i) => rule(`deny-${i}`, r, 'Deny', 4000 + i * 10)),
        ];
        this.putResource({
          ...common,
          id: nsg,
          type: 'Microsoft.Network/networkSecurityGroups',
          name: nsgName,
          properties: {
            provisioningState: 'Succeeded',
            securityRules,
            defaultSecurityRules: defaultSecurityRules(nsg),
          },
        });
      }
      this.putResource({
        ...common,
        id: `${id}/subnets/${subnet.name}`,
        type: 'Microsoft.Network/virtualNetworks/subnets',
        name: subnet.name,
        properties: {
          provisioningState: 'Succeeded',
          addressPrefix: subnet.addressPrefix,
          privateLinkServiceNetworkPolicies: subnet.privateLinkServiceNetworkPolicies,
          privateEndpointNetworkPolicies: 'Disabled',
          ...(nsgId ? { networkSecurityGroup: { id: nsgId } } : {}),
        },
      });
    }
    return id;
  }

  addManagedImage(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    osType: 'Linux' | 'Windows';
  }): string {
    const id = `/subscriptions/${args.subscriptionId}/resourceGroups/${args.resourceGroup}/providers/Microsoft.Compute/images/${args.name}`;
    this.putResource({
      id,
      type: 'Microsoft.Compute/images',
      name: args.name,
      subscriptionId: args.subscriptionId,
      resourceGroup: args.resourceGroup,
      location: args.location,
      tags: {},
      properties: {
        provisioningState: 'Succeeded',
        hyperVGeneration: 'V2',
        storageProfile: { osDisk: { osType: args.osType, osState: 'Generalized', diskSizeGB: 30 } },
      },
    });
    return id;
  }

  addStorageBlob(args: {
    subscriptionId: string;
    resourceGroup: string;
    account: string;
    container: string;
    blob: string;
    content?: string;
  }): string {
    this.ensureStorageAccount(
      args.subscriptionId,
      args.resourceGroup,
      args.account,
      this.resourceGroup(args.subscriptionId, args.resourceGroup)?.location ?? 'westeurope',
    );
    this.blobs.set(`${args.account}/${args.container}/${args.blob}`.toLowerCase(), args.content ?? '');
    return `${this.armEndpoint}/${args.account}/${args.container}/${args.blob}`;
  }

  ensureStorageAccount(
    subscriptionId: string,
    resourceGroup: string,
    account: string,
    location: string,
  ): string {
    const id = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account}`;
    if (!this.getResource(id)) {
      this.putResource({
        id,
        type: 'Microsoft.Storage/storageAccounts',
        name: account,
        subscriptionId,
        resourceGroup,
        location,
        tags: {},
        properties: {
          provisioningState: 'Succeeded',
          primaryEndpoints: { blob: `${this.armEndpoint}/${account}/` },
        },
      });
    }
    return id;
  }

  // ------------------------------------------------------------------ behaviour scripting and inspection

  setFaults(plan: FaultPlan | undefined): void {
    this.faultPlan = plan;
    this.faultRandom = seededRandom(this.seed ^ 0x5eed);
  }

  scriptRunCommand(script: RunCommandScript): void {
    this.runCommandScript = script;
  }

  failCustomizer(args: { customizerName: string; logLines: string[] }): void {
    this.customizerFailures.push({ customizerName: args.customizerName, logLines: [...args.logLines] });
  }

  /** VM creates (by VM name) that are accepted and whose operation then fails with this error, once each. */
  readonly vmCreateFailures: { vmName: string; code: string; message: string }[] = [];

  failVmCreate(args: { vmName: string; code: string; message: string }): void {
    this.vmCreateFailures.push({ ...args });
  }

  /** Set by startAzureSimulator: the Image Builder provider answers it. */
  runningImageBuildsProvider: (
    now: number,
  ) => { templateId: string; subscriptionId: string; location: string }[] = () => [];

  runningImageBuilds(): { templateId: string; subscriptionId: string; location: string }[] {
    this.tick();
    return this.runningImageBuildsProvider(this.clock.now());
  }

  inventory(): { id: string; type: string; tags: Record<string, string> }[] {
    this.tick();
    return [...this.resources.values()].map((r) => ({
      id: r.id,
      type: r.type.toLowerCase(),
      tags: { ...r.tags },
    }));
  }

  callCounts(): Record<string, number> {
    return { ...this.counts };
  }

  requests(): SimRequestRecord[] {
    return this.log.map((r) => ({ ...r }));
  }

  issuedCredentials(): IssuedCredential[] {
    return this.credentials.map((c) => ({ ...c }));
  }

  // ------------------------------------------------------------------ state helpers

  tenantOf(subscriptionId: string): string {
    const t = this.subscriptionTenant.get(subscriptionId.toLowerCase());
    if (!t) throw new Error(`unknown subscription ${subscriptionId}`);
    return t;
  }

  putResource(
    r: Omit<SimResource, 'internal' | 'createdAt'> & { internal?: Record<string, unknown> },
  ): SimResource {
    const existing = this.resources.get(r.id.toLowerCase());
    const res: SimResource = {
      ...r,
      internal: r.internal ?? existing?.internal ?? {},
      createdAt: existing?.createdAt ?? this.clock.now(),
    };
    this.resources.set(r.id.toLowerCase(), res);
    return res;
  }

  getResource(id: string): SimResource | undefined {
    return this.resources.get(id.replace(/\/+$/, '').toLowerCase());
  }

  deleteResource(id: string): void {
    const key = id.toLowerCase();
    for (const k of [...this.resources.keys()])
      if (k === key || k.startsWith(key + '/')) this.resources.delete(k);
    for (const [k, a] of [...this.roleAssignments])
      if (a.scope.toLowerCase() === key || a.scope.toLowerCase().startsWith(key + '/'))
        this.roleAssignments.delete(k);
  }

  resourceGroup(subscriptionId: string, name: string): SimResource | undefined {
    return this.getResource(`/subscriptions/${subscriptionId}/resourceGroups/${name}`);
  }

  resourcesIn(scopeId: string): SimResource[] {
    const prefix = scopeId.toLowerCase() + '/';
    return [...this.resources.values()].filter((r) => r.id.toLowerCase().startsWith(prefix));
  }

  /** Role assignments of a principal that apply at scope (assigned there or at a parent scope). */
  grantsFor(principalId: string, scope: string): { assignment: RoleAssignment; role: RoleDefinition }[] {
    const out: { assignment: RoleAssignment; role: RoleDefinition }[] = [];
    for (const a of this.roleAssignments.values()) {
      if (!eqi(a.principalId, principalId) || !scopeCovers(a.scope, scope)) continue;
      const role = this.roleDefinitions.get(a.roleDefinitionGuid.toLowerCase());
      if (role) out.push({ assignment: a, role });
    }
    return out;
  }

  can(principalId: string, action: string, scope: string, data = false): boolean {
    return this.grantsFor(principalId, scope).some((g) => roleAllows(g.role, action, data));
  }

  /** Throws the ARM 403 AuthorizationFailed unless the principal may perform action on scope. */
  authorize(claims: Claims, action: string, scope: string): void {
    if (!this.can(claims.oid, action, scope)) {
      throw new ArmError(
        403,
        'AuthorizationFailed',
        `The client '${claims.oid}' with object id '${claims.oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    }
  }

  /** The ARM 403 for a permission missing on a linked resource (identity assign, image source read…). */
  linkedAuthorizationFailed(
    claims: Claims,
    action: string,
    scope: string,
    linkedActions: string[],
    linkedScopes: string[],
  ): ArmError {
    return new ArmError(
      403,
      'LinkedAuthorizationFailed',
      `The client '${claims.oid}' with object id '${claims.oid}' has permission to perform action '${action}' on scope '${scope}'; however, it does not have permission to perform action(s) '${linkedActions.join(',')}' on the linked scope(s) '${linkedScopes.join(',')}' (respectively) or the linked scope(s) are invalid.`,
    );
  }

  /**
   * LinkedAuthorizationFailed when the linked scope is in a subscription of another tenant and no
   * token for that tenant came along (x-ms-authorization-auxiliary): the form public issues show
   * (Azure/azure-cli#30976, MicrosoftDocs/azure-docs#68563, Azure/OpenShift#41).
   */
  linkedSubscriptionNotAuthorized(
    claims: Claims,
    action: string,
    scope: string,
    linkedScope: string,
  ): ArmError {
    const linkedSubscription = linkedScope.split('/')[2] ?? '';
    return new ArmError(
      403,
      'LinkedAuthorizationFailed',
      `The client has permission to perform action '${action}' on scope '${scope}', however the current tenant '${claims.tid}' is not authorized to access linked subscription '${linkedSubscription}'.`,
    );
  }

  issueToken(args: {
    tid: string;
    oid: string;
    appid: string;
    aud: string;
    idtyp: 'app' | 'user';
    xmsMirid?: string;
  }): string {
    const now = this.clock.now();
    const iat = Math.floor(now / 1000);
    const token = signRs256(
      {
        aud: args.aud,
        iss: `https://sts.windows.net/${args.tid}/`,
        iat,
        nbf: iat,
        exp: Math.floor((now + this.tokenLifetimeMs) / 1000),
        appid: args.appid,
        appidacr: '1',
        idp: `https://sts.windows.net/${args.tid}/`,
        idtyp: args.idtyp,
        oid: args.oid,
        sub: args.oid,
        tid: args.tid,
        ver: '1.0',
        ...(args.xmsMirid ? { xms_mirid: args.xmsMirid } : {}),
      },
      this.signingKey.privateKey,
      this.signingKey.kid,
    );
    this.credentials.push({ kind: 'accessToken', value: token });
    return token;
  }

  /** Validates a token issued by this simulator; returns why not when invalid. */
  validateToken(
    token: string,
    audiences: string[],
  ): { claims: Claims } | { error: 'invalid' | 'expired' | 'audience'; exp?: number; aud?: string } {
    const jwt = decodeJwt(token);
    if (!jwt || !verifySignature(jwt, this.signingKey.publicKey)) return { error: 'invalid' };
    const p = jwt.payload;
    const claims: Claims = {
      tid: str(p.tid) ?? '',
      oid: str(p.oid) ?? '',
      appid: str(p.appid) ?? '',
      aud: str(p.aud) ?? '',
      exp: typeof p.exp === 'number' ? p.exp : 0,
      iss: str(p.iss) ?? '',
      sub: str(p.sub) ?? '',
    };
    if (claims.exp * 1000 <= this.clock.now()) return { error: 'expired', exp: claims.exp };
    if (
      !audiences.some(
        (a) => a.replace(/\/+$/, '').toLowerCase() === claims.aud.replace(/\/+$/, '').toLowerCase(),
      )
    )
      return { error: 'audience', aud: claims.aud };
    return { claims };
  }

  armAudiences(): string[] {
    return [...ARM_AUDIENCES, this.armEndpoint, `${this.armEndpoint}/`];
  }

  // ------------------------------------------------------------------ long-running operations

  /**
   * Starts an ARM async operation and returns the headers ARM sends with it. It turns terminal when
   * its kind's duration has passed on the simulator clock (or when `doneWhen` says so, or at
   * `endsAt`), whether or not anybody polls it; `Retry-After` is the kind's Azure value.
   */
  beginOperation(args: {
    subscriptionId: string;
    namespace: string;
    location: string;
    kind: LroKind;
    outcome?: { error?: { code: string; message: string }; result?: unknown; onDone?: () => void };
    location202?: boolean;
    apiVersion: string | undefined;
    /** Absolute clock time it ends (instead of the kind's duration). */
    endsAt?: number;
    doneWhen?: () => boolean;
  }): Record<string, string> {
    const name = this.newGuid();
    const timing = this.lroTimings[args.kind];
    const now = this.clock.now();
    const op: AsyncOperation = {
      id: `/subscriptions/${args.subscriptionId}/providers/${args.namespace}/locations/${args.location}/operations/${name}`,
      name,
      subscriptionId: args.subscriptionId,
      namespace: args.namespace,
      location: args.location,
      tenantId: this.tenantOf(args.subscriptionId),
      status: 'InProgress',
      kind: args.kind,
      endsAt: args.endsAt ?? now + timing.durationMs,
      ...(args.doneWhen ? { doneWhen: args.doneWhen } : {}),
      ...(timing.retryAfterSeconds !== undefined ? { retryAfterSeconds: timing.retryAfterSeconds } : {}),
      startTime: now,
      ...(args.outcome?.error ? { error: args.outcome.error } : {}),
      ...(args.outcome?.result !== undefined ? { result: args.outcome.result } : {}),
      ...(args.outcome?.onDone ? { onDone: args.outcome.onDone } : {}),
    };
    this.operations.set(name.toLowerCase(), op);
    const q = `?api-version=${args.apiVersion ?? ''}`;
    const headers: Record<string, string> = {
      'Azure-AsyncOperation': `${this.armEndpoint}${op.id}${q}`,
      ...this.retryAfter(op),
    };
    if (args.location202)
      headers.Location = `${this.armEndpoint}/subscriptions/${args.subscriptionId}/providers/${args.namespace}/locations/${args.location}/operationResults/${name}${q}`;
    return headers;
  }

  private retryAfter(op: AsyncOperation): Record<string, string> {
    return op.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(op.retryAfterSeconds) };
  }

  /** Ends every operation whose time has come (runs before each request and inventory()). */
  settleOperations(now: number = this.clock.now()): void {
    for (const op of this.operations.values()) {
      if (op.status !== 'InProgress') continue;
      const done = op.doneWhen ? op.doneWhen() : now >= op.endsAt;
      if (!done) continue;
      op.status = op.error ? 'Failed' : 'Succeeded';
      op.endTime = op.doneWhen ? now : Math.max(op.startTime, op.endsAt);
      op.onDone?.();
    }
  }

  private operationRequest(req: ArmRequest): ArmResponse | undefined {
    // /subscriptions/{s}/providers/{ns}/locations/{loc}/operations|operationResults|operationStatuses|asyncoperations/{id}
    const seg = req.segments;
    if (seg.length !== 8 || seg[2]?.toLowerCase() !== 'providers' || seg[4]?.toLowerCase() !== 'locations')
      return undefined;
    const kind = seg[6]?.toLowerCase();
    if (kind !== 'operations' && kind !== 'operationresults') return undefined;
    const op = this.operations.get((seg[7] ?? '').toLowerCase());
    if (!op) throw new ArmError(404, 'NotFound', `The operation '${seg[7] ?? ''}' could not be found.`);
    if (!eqi(op.tenantId, req.claims.tid))
      throw new ArmError(
        403,
        'AuthorizationFailed',
        `The client '${req.claims.oid}' with object id '${req.claims.oid}' does not have authorization to perform action '${op.namespace}/locations/operations/read' over scope '/subscriptions/${op.subscriptionId}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    this.settleOperations();
    this.onOperationPoll?.({ kind: op.kind, status: op.status, path: req.path });
    if (kind === 'operationresults') {
      if (op.status === 'InProgress')
        return {
          status: 202,
          headers: {
            Location: `${this.armEndpoint}${req.path}?api-version=${req.apiVersion ?? ''}`,
            ...this.retryAfter(op),
          },
        };
      if (op.status === 'Failed')
        throw new ArmError(
          400,
          op.error?.code ?? 'OperationFailed',
          op.error?.message ?? 'The operation failed.',
        );
      if (op.result !== undefined) return { status: 200, body: op.result };
      // ResourceGroups_Delete answers only 200 or 202 (REST spec; @azure/arm-resources refuses
      // anything else, a 204 included); the other deletes modelled here also allow 204.
      return { status: op.kind === 'resourceGroupDelete' ? 200 : 204 };
    }
    return {
      status: 200,
      headers: op.status === 'InProgress' ? this.retryAfter(op) : {},
      body: {
        id: op.id,
        name: op.name,
        status: op.status,
        startTime: new Date(op.startTime).toISOString(),
        ...(op.endTime !== undefined ? { endTime: new Date(op.endTime).toISOString() } : {}),
        ...(op.error && op.status === 'Failed' ? { error: op.error } : {}),
        ...(op.status === 'Succeeded' && op.result !== undefined
          ? { properties: { output: op.result } }
          : {}),
      },
    };
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = this.newGuid();
    res.setHeader('x-ms-request-id', requestId);
    res.setHeader('x-ms-correlation-request-id', requestId);
    try {
      const raw = await readBody(req);
      // ARM tolerates '//subscriptions/…' (SDKs join a leading-slash scope); never parse it as a host.
      const url = new URL(this.armEndpoint + '/' + (req.url ?? '/').replace(/^\/+/, ''));
      const segments = idSegments(url.pathname).map(decodeURIComponent);
      const first = segments[0]?.toLowerCase();
      if (
        segments[1]?.toLowerCase() === 'oauth2' ||
        segments[1]?.toLowerCase() === 'v2.0' ||
        segments[1]?.toLowerCase() === 'discovery'
      ) {
        return this.entraRequest(req, res, segments, raw);
      }
      if (this.dataPlanes.some((plane) => plane(this, req, res, segments, raw))) return;
      if (
        first !== 'subscriptions' &&
        first !== 'providers' &&
        first !== undefined &&
        this.isStorageAccount(first)
      ) {
        return this.blobRequest(req, res, url, segments);
      }
      await this.armRequest(req, res, url, segments, raw);
    } catch (e) {
      if (!res.headersSent)
        sendJson(res, 500, {
          error: {
            code: 'InternalServerError',
            message: `Simulator error: ${e instanceof Error ? e.message : String(e)}`,
          },
        });
    }
  }

  private isStorageAccount(name: string): boolean {
    return [...this.resources.values()].some(
      (r) => r.type === 'Microsoft.Storage/storageAccounts' && r.name.toLowerCase() === name,
    );
  }

  // ---- Entra

  private entraRequest(req: IncomingMessage, res: ServerResponse, seg: string[], raw: string): void {
    const tenantKey = (seg[0] ?? '').toLowerCase();
    const tenant = this.tenants.get(tenantKey);
    const path = seg.slice(1).join('/').toLowerCase();
    this.count(req.method === 'POST' ? 'POST oauth2/token' : `GET ${path}`);
    if (!tenant) {
      return aadError(
        res,
        400,
        'invalid_tenant',
        90002,
        `Tenant '${seg[0] ?? ''}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    const base = `${this.authorityHost}/${tenant.tenantId}`;
    if (req.method === 'GET' && path === 'v2.0/.well-known/openid-configuration') {
      return sendJson(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${base}/openid/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
      });
    }
    if (req.method === 'GET' && path === 'discovery/v2.0/keys') {
      const jwk = this.signingKey.publicKey.export({ format: 'jwk' });
      return sendJson(res, 200, {
        keys: [{ kty: 'RSA', use: 'sig', kid: this.signingKey.kid, n: jwk.n, e: jwk.e }],
      });
    }
    if (req.method === 'POST' && path === 'oauth2/v2.0/token') {
      return this.tokenRequest(res, tenant, new URLSearchParams(raw));
    }
    sendJson(res, 404, { error: 'not_found', error_description: 'Unknown Entra endpoint.' });
  }

  private tokenRequest(res: ServerResponse, tenant: Tenant, form: URLSearchParams): void {
    const tokenUrl = `${this.authorityHost}/${tenant.tenantId}/oauth2/v2.0/token`;
    const grant = form.get('grant_type');
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    if (grant !== 'client_credentials') {
      return aadError(
        res,
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant ?? ''}'.`,
      );
    }
    const app = this.apps.get(clientId.toLowerCase());
    const oid = this.servicePrincipals.get(tenant.tenantId.toLowerCase())?.get(clientId.toLowerCase());
    if (!app || !oid) {
      return aadError(
        res,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const scopes = scope.split(' ').filter((s) => s.length > 0);
    const resourceScope = scopes.find((s) => s.endsWith('/.default'));
    if (
      !resourceScope ||
      scopes.length !==
        scopes.filter((s) => s.endsWith('/.default') || ['openid', 'profile', 'offline_access'].includes(s))
          .length
    ) {
      return aadError(
        res,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!app.secrets.includes(secret)) {
        return aadError(
          res,
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
        );
      }
    } else if (assertion !== null) {
      this.credentials.push({ kind: 'clientAssertion', value: assertion });
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return aadError(
          res,
          400,
          'invalid_request',
          90014,
          `The request body must contain the following parameter: 'client_assertion_type'.`,
        );
      }
      const problem = this.checkClientAssertion(app, assertion, tokenUrl);
      if (problem) return aadError(res, problem.status, 'invalid_client', problem.code, problem.message);
    } else {
      return aadError(
        res,
        401,
        'invalid_client',
        7000218,
        `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`,
      );
    }
    const aud = resourceScope.slice(0, -'/.default'.length);
    const token = this.issueToken({ tid: tenant.tenantId, oid, appid: app.appId, aud, idtyp: 'app' });
    sendJson(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
  }

  private checkClientAssertion(
    app: AppRegistration,
    assertion: string,
    tokenUrl: string,
  ): { status: number; code: number; message: string } | undefined {
    const jwt = decodeJwt(assertion);
    if (!jwt) return { status: 401, code: 50027, message: 'JWT token is invalid or malformed.' };
    const p = jwt.payload;
    const x5tS256 = str(jwt.header['x5t#S256']);
    const x5t = str(jwt.header.x5t);
    if (x5tS256 !== undefined || x5t !== undefined) {
      // certificate credential
      const cert = app.certificates.find(
        (c) => (x5tS256 !== undefined && c.x5tS256 === x5tS256) || (x5t !== undefined && c.x5t === x5t),
      );
      if (!cert) {
        return {
          status: 401,
          code: 700027,
          message: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${x5tS256 ?? x5t ?? ''}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.]`,
        };
      }
      if (!verifySignature(jwt, cert.publicKey))
        return { status: 401, code: 700027, message: 'Client assertion failed signature validation.' };
      if (str(p.aud) !== tokenUrl)
        return {
          status: 401,
          code: 700212,
          message: `No matching federated identity record found for presented assertion audience '${str(p.aud) ?? ''}'.`,
        };
      if (str(p.iss) !== app.appId || str(p.sub) !== app.appId)
        return {
          status: 401,
          code: 700021,
          message: `Client assertion application identifier doesn't match 'client_id' parameter.`,
        };
      // Assertions are minted with the caller's real clock, so their window is checked against real time.
      const exp = typeof p.exp === 'number' ? p.exp * 1000 : 0;
      if (exp <= Date.now())
        return { status: 401, code: 700024, message: 'Client assertion is not within its valid time range.' };
      return undefined;
    }
    // federated credential: a token this simulator issued (e.g. from the managed identity endpoint)
    if (!verifySignature(jwt, this.signingKey.publicKey))
      return { status: 401, code: 700027, message: 'Client assertion failed signature validation.' };
    const iss = str(p.iss) ?? '';
    const sub = str(p.sub) ?? '';
    const match = app.federated.find((f) => f.issuer === iss && f.subject === sub);
    if (!match) {
      return {
        status: 400,
        code: 70021,
        message: `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${str(p.aud) ?? ''}'.`,
      };
    }
    if (str(p.aud) !== TOKEN_EXCHANGE_AUDIENCE)
      return {
        status: 400,
        code: 700212,
        message: `No matching federated identity record found for presented assertion audience '${str(p.aud) ?? ''}'.`,
      };
    const exp = typeof p.exp === 'number' ? p.exp * 1000 : 0;
    if (exp <= this.clock.now())
      return { status: 400, code: 700024, message: 'Client assertion is not within its valid time range.' };
    return undefined;
  }

  // ---- managed identity (App Service protocol, plain HTTP loopback)

  private managedIdentityRequest(req: IncomingMessage, res: ServerResponse): void {
    this.count('GET managedIdentity/token');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.headers['x-identity-header'] !== this.managedIdentityEndpoint.header) {
      return sendJson(res, 401, {
        statusCode: 401,
        message: 'Unauthorized: the X-IDENTITY-HEADER header is missing or does not match.',
      });
    }
    if (url.searchParams.get('api-version') !== '2019-08-01') {
      return sendJson(res, 400, {
        statusCode: 400,
        message: `Unsupported api-version '${url.searchParams.get('api-version') ?? ''}'. Supported: 2019-08-01.`,
      });
    }
    const resource = url.searchParams.get('resource');
    if (!resource)
      return sendJson(res, 400, {
        statusCode: 400,
        message: "Required query parameter 'resource' is missing.",
      });
    const clientId = url.searchParams.get('client_id');
    const principalId = url.searchParams.get('principal_id') ?? url.searchParams.get('object_id');
    const miResId = url.searchParams.get('mi_res_id');
    const attached = this.hostIdentities
      .map((h) => ({ h, mi: [...this.identities.values()].find((m) => eqi(m.clientId, h.clientId)) }))
      .filter(
        (x): x is { h: { clientId: string; isDefault: boolean }; mi: ManagedIdentity } => x.mi !== undefined,
      );
    const chosen = clientId
      ? attached.find((x) => eqi(x.mi.clientId, clientId))
      : principalId
        ? attached.find((x) => eqi(x.mi.principalId, principalId))
        : miResId
          ? attached.find((x) => eqi(x.mi.id, miResId))
          : attached.find((x) => x.h.isDefault);
    if (!chosen) {
      return sendJson(res, 400, {
        statusCode: 400,
        message:
          'Unable to load the proper Managed Identity. The requested identity is not assigned to this resource.',
        correlationId: this.newGuid(),
      });
    }
    const mi = chosen.mi;
    const aud = resource.replace(/\/\.default$/, '');
    const token =
      aud === TOKEN_EXCHANGE_AUDIENCE
        ? signRs256(
            {
              aud,
              iss: `${this.authorityHost}/${mi.tenantId}/v2.0`,
              sub: mi.principalId,
              oid: mi.principalId,
              tid: mi.tenantId,
              iat: Math.floor(this.clock.now() / 1000),
              nbf: Math.floor(this.clock.now() / 1000),
              exp: Math.floor((this.clock.now() + this.tokenLifetimeMs) / 1000),
              xms_mirid: mi.id,
            },
            this.signingKey.privateKey,
            this.signingKey.kid,
          )
        : this.issueToken({
            tid: mi.tenantId,
            oid: mi.principalId,
            appid: mi.clientId,
            aud,
            idtyp: 'app',
            xmsMirid: mi.id,
          });
    if (aud === TOKEN_EXCHANGE_AUDIENCE) this.credentials.push({ kind: 'accessToken', value: token });
    sendJson(res, 200, {
      access_token: token,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: 'Bearer',
      client_id: mi.clientId,
    });
  }

  // ---- Blob (path-style: /{account}/{container}/{blob})

  private blobRequest(req: IncomingMessage, res: ServerResponse, url: URL, seg: string[]): void {
    this.count(`${req.method ?? 'GET'} blob`);
    const [account = '', container = '', ...rest] = seg;
    const blobName = rest.join('/');
    const accountRes = [...this.resources.values()].find(
      (r) => r.type === 'Microsoft.Storage/storageAccounts' && eqi(r.name, account),
    );
    const storageError = (status: number, code: string, message: string, detail?: string): void => {
      // Storage puts the reason of an authentication failure in <AuthenticationErrorDetail>, not in
      // <Message> (Azure/azure-sdk-for-java#24926, microsoft/AzureStorageExplorer#3147).
      const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message>${detail === undefined ? '' : `<AuthenticationErrorDetail>${detail}</AuthenticationErrorDetail>`}</Error>`;
      res.writeHead(status, { 'Content-Type': 'application/xml', 'x-ms-error-code': code });
      res.end(xml);
    };
    if (!accountRes) return storageError(404, 'ResourceNotFound', 'The specified resource does not exist.');
    const sig = url.searchParams.get('sig');
    const auth = req.headers.authorization;
    let allowed = false;
    if (sig !== null) {
      const sas = accountRes.internal.sas as string[] | undefined;
      const se = url.searchParams.get('se');
      allowed = (sas ?? []).includes(sig) && (se === null || Date.parse(se) > this.clock.now());
      if (allowed && blobName === '' && url.searchParams.get('comp') === 'list')
        // the SAS this simulator issues is a read SAS for blobs (sr=b, sp=r): it cannot list a container
        return storageError(
          403,
          'AuthorizationResourceTypeMismatch',
          'This request is not authorized to perform this operation using this resource type.',
        );
      if (!allowed)
        return storageError(
          403,
          'AuthenticationFailed',
          'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
        );
    } else if (auth?.startsWith('Bearer ')) {
      const v = this.validateToken(auth.slice(7), [
        'https://storage.azure.com',
        `https://${account}.blob.core.windows.net`,
      ]);
      if (!('claims' in v))
        return storageError(
          401,
          'InvalidAuthenticationInfo',
          'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
        );
      if (!eqi(v.claims.tid, this.tenantOf(accountRes.subscriptionId)))
        return storageError(
          401,
          'InvalidAuthenticationInfo',
          'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
          'Issuer validation failed. Issuer did not match.',
        );
      if (
        !this.can(
          v.claims.oid,
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
          `${accountRes.id}/blobServices/default/containers/${container}`,
          true,
        )
      ) {
        return storageError(
          403,
          'AuthorizationPermissionMismatch',
          'This request is not authorized to perform this operation using this permission.',
        );
      }
      allowed = true;
    } else {
      return storageError(404, 'ResourceNotFound', 'The specified resource does not exist.');
    }
    if (blobName === '' && url.searchParams.get('comp') === 'list') {
      return this.listBlobs(res, account, container, url.searchParams.get('prefix') ?? '', storageError);
    }
    const content = this.blobs.get(`${account}/${container}/${blobName}`.toLowerCase());
    if (content === undefined) return storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
    const etag = `"0x${createHash('sha1').update(content).digest('hex').slice(0, 15).toUpperCase()}"`;
    const headers = {
      'Content-Length': Buffer.byteLength(content),
      'Content-Type': 'text/plain',
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-version': '2025-01-05',
      ETag: etag,
      'Last-Modified': new Date(this.clock.now()).toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      return void res.end();
    }
    const range = /bytes=(\d+)-(\d*)/.exec(String(req.headers['x-ms-range'] ?? req.headers.range ?? ''));
    if (range) {
      const buf = Buffer.from(content);
      const first = Number(range[1]);
      const last = range[2] ? Math.min(Number(range[2]), buf.length - 1) : buf.length - 1;
      const part = buf.subarray(first, last + 1);
      res.writeHead(206, {
        ...headers,
        'Content-Length': part.length,
        'Content-Range': `bytes ${first}-${last}/${buf.length}`,
      });
      return void res.end(part);
    }
    res.writeHead(200, headers);
    res.end(content);
  }

  /** List Blobs (GET /{account}/{container}?restype=container&comp=list[&prefix=]): flat listing, one page. */
  private listBlobs(
    res: ServerResponse,
    account: string,
    container: string,
    prefix: string,
    storageError: (status: number, code: string, message: string) => void,
  ): void {
    this.count('GET blob/list');
    const base = `${account}/${container}/`.toLowerCase();
    const keys = [...this.blobs.keys()].filter((k) => k.startsWith(base));
    if (keys.length === 0)
      return storageError(404, 'ContainerNotFound', 'The specified container does not exist.');
    const xml = (v: string): string =>
      v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const items = keys
      .map((k) => ({ key: k, name: k.slice(base.length) }))
      .filter((b) => b.name.startsWith(prefix.toLowerCase()))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((b) => {
        const content = this.blobs.get(b.key) ?? '';
        const modified = new Date(this.blobs.modified.get(b.key) ?? this.clock.now()).toUTCString();
        const etag = `0x${createHash('sha1').update(content).digest('hex').slice(0, 15).toUpperCase()}`;
        return (
          `<Blob><Name>${xml(b.name)}</Name><Properties>` +
          `<Creation-Time>${modified}</Creation-Time><Last-Modified>${modified}</Last-Modified>` +
          `<Etag>${etag}</Etag><Content-Length>${Buffer.byteLength(content)}</Content-Length>` +
          `<Content-Type>text/plain</Content-Type><BlobType>BlockBlob</BlobType>` +
          `<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>` +
          `<ServerEncrypted>true</ServerEncrypted></Properties></Blob>`
        );
      });
    const body =
      `<?xml version="1.0" encoding="utf-8"?>` +
      `<EnumerationResults ServiceEndpoint="${xml(this.armEndpoint)}/${xml(account)}/" ContainerName="${xml(container)}">` +
      (prefix === '' ? '' : `<Prefix>${xml(prefix)}</Prefix>`) +
      `<Blobs>${items.join('')}</Blobs><NextMarker /></EnumerationResults>`;
    res.writeHead(200, {
      'Content-Type': 'application/xml',
      'Content-Length': Buffer.byteLength(body),
      'x-ms-version': '2025-01-05',
    });
    res.end(body);
  }

  /** Creates a read SAS for a storage account; returns the query string (without '?'). */
  createSas(accountId: string, expiresAt: number): string {
    const account = this.getResource(accountId);
    if (!account) throw new Error(`createSas: unknown account ${accountId}`);
    const sig = randomBytes(24).toString('base64');
    account.internal.sas = [...((account.internal.sas as string[] | undefined) ?? []), sig];
    this.credentials.push({ kind: 'sasSignature', value: sig });
    return new URLSearchParams({
      sv: '2025-01-05',
      sr: 'b',
      sp: 'r',
      se: new Date(expiresAt).toISOString(),
      sig,
    }).toString();
  }

  // ---- ARM

  private count(operation: string): void {
    this.counts[operation] = (this.counts[operation] ?? 0) + 1;
  }

  operationKey(
    method: string,
    segments: string[],
  ): { key: string; type: string; verb: Route['verb']; namespace: string } {
    const lower = segments.map((s) => s.toLowerCase());
    const provIdx = lower.lastIndexOf('providers');
    // The providers API of a subscription: /subscriptions/{s}/providers/{ns}[/register|/unregister]
    if (
      provIdx === 2 &&
      lower[0] === 'subscriptions' &&
      (lower.length === 4 ||
        (lower.length === 5 && method === 'POST' && (lower[4] === 'register' || lower[4] === 'unregister')))
    ) {
      const action = lower[4];
      return {
        key:
          action === undefined
            ? `${method} Microsoft.Resources/providers`
            : `POST Microsoft.Resources/providers/${action}`,
        type: 'microsoft.resources/providers',
        verb: action === undefined ? (method.toLowerCase() as Route['verb']) : `action:${action}`,
        namespace: 'Microsoft.Resources',
      };
    }
    if (provIdx < 0) {
      // subscriptions/{s}[/resourceGroups[/{rg}[/resources]]]
      if (lower.length <= 2)
        return {
          key: `${method} Microsoft.Resources/subscriptions`,
          type: 'microsoft.resources/subscriptions',
          verb: 'get',
          namespace: 'Microsoft.Resources',
        };
      if (lower[4] === 'resources')
        return {
          key: `GET Microsoft.Resources/resources`,
          type: 'microsoft.resources/resources',
          verb: 'list',
          namespace: 'Microsoft.Resources',
        };
      const verb = lower.length === 3 ? 'list' : (method.toLowerCase() as Route['verb']);
      return {
        key: `${method} Microsoft.Resources/resourceGroups`,
        type: 'microsoft.resources/resourcegroups',
        verb,
        namespace: 'Microsoft.Resources',
      };
    }
    const ns = segments[provIdx + 1] ?? '';
    const rest = segments.slice(provIdx + 2);
    const types: string[] = [];
    for (let i = 0; i < rest.length; i += 2) types.push(rest[i] ?? '');
    let verb: Route['verb'];
    let typeParts = types;
    if (rest.length % 2 === 1) {
      if (method === 'POST') {
        const action = types[types.length - 1] ?? '';
        typeParts = types.slice(0, -1);
        verb = `action:${action.toLowerCase()}`;
        return {
          key: `POST ${ns}/${typeParts.join('/')}/${action}`,
          type: `${ns}/${typeParts.join('/')}`.toLowerCase(),
          verb,
          namespace: ns,
        };
      }
      verb = 'list';
    } else {
      verb = method.toLowerCase() as Route['verb'];
    }
    return {
      key: `${method} ${ns}/${typeParts.join('/')}`,
      type: `${ns}/${typeParts.join('/')}`.toLowerCase(),
      verb,
      namespace: ns,
    };
  }

  private async armRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    segments: string[],
    raw: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const apiVersion = url.searchParams.get('api-version') ?? undefined;
    const { key, type, verb, namespace } = this.operationKey(method, segments);
    let body: unknown = undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const record: SimRequestRecord = {
      method,
      path: url.pathname,
      apiVersion,
      operation: key,
      status: 0,
      body: redact(body),
      hadAuxiliaryHeader: req.headers['x-ms-authorization-auxiliary'] !== undefined,
    };
    this.count(key);
    this.log.push(record);
    this.onRequest?.({ method, path: url.pathname, operation: key });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      reportArmExchange({
        method,
        type,
        verb,
        path: url.pathname,
        apiVersion,
        requestBody: body,
        status,
        responseBody: payload,
      });
      for (const [k, v] of Object.entries({
        ...this.armHeaders(method, segments, status, payload),
        ...headers,
      }))
        res.setHeader(k, v);
      if (payload === undefined) {
        res.writeHead(status);
        res.end();
      } else sendJson(res, status, payload);
    };
    // faults
    const fault = this.pickFault(key);
    if (fault === 'reset') {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (fault === 'slow') await new Promise((r) => setTimeout(r, this.faultPlan?.slowMs ?? 50));
    if (fault === '429')
      return send(
        429,
        {
          error: {
            code: 'TooManyRequests',
            // ARM's body for a throttled request (Azure/migAz#57); the wait is in Retry-After.
            message: 'The request is being throttled.',
          },
        },
        { 'Retry-After': String(this.faultPlan?.retryAfterSeconds ?? 1) },
      );
    if (fault === '500')
      return send(500, {
        error: {
          code: 'InternalServerError',
          // ARM's text (openshift/openshift-azure#1506).
          message:
            `Encountered internal server error. Diagnostic information: timestamp '${new Date(this.clock.now()).toISOString().replace(/[-:]|\.\d+/g, '')}', ` +
            `subscription id '${/\/subscriptions\/([^/]+)/i.exec(url.pathname)?.[1] ?? ''}', tracking id '${this.newGuid()}', ` +
            `request correlation id '${this.newGuid()}'.`,
        },
      });
    if (fault === '503')
      return send(
        503,
        {
          error: {
            code: 'ServiceUnavailable',
            message: 'The service is currently unavailable. Please try again later.',
          },
        },
        { 'Retry-After': String(this.faultPlan?.retryAfterSeconds ?? 1) },
      );
    try {
      this.tick();
      const claims = this.authenticate(req);
      const auxiliary = this.auxiliaryClaims(req);
      const armReq: ArmRequest = {
        method,
        path: url.pathname,
        segments,
        query: url.searchParams,
        apiVersion,
        body,
        headers: req.headers,
        claims,
        auxiliary,
        operation: key,
      };
      // subscription + tenant
      const sub = segments[0]?.toLowerCase() === 'subscriptions' ? segments[1] : undefined;
      if (sub !== undefined) {
        const subTenant = this.subscriptionTenant.get(sub.toLowerCase());
        if (!subTenant)
          throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
        if (!eqi(subTenant, claims.tid)) {
          throw new ArmError(
            401,
            'InvalidAuthenticationTokenTenant',
            `The access token is from the wrong issuer 'https://sts.windows.net/${claims.tid}/'. It must match the tenant 'https://sts.windows.net/${subTenant}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${subTenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`,
            {
              'WWW-Authenticate': `Bearer authorization_uri="https://login.windows.net/${subTenant}", error="invalid_token", error_description="The access token is from the wrong issuer."`,
            },
          );
        }
      }
      const opResponse = this.operationRequest(armReq);
      if (opResponse) return send(opResponse.status, opResponse.body, opResponse.headers);
      // a namespace the subscription has not registered: 409 MissingSubscriptionRegistration
      if (sub !== undefined) this.providerRegistry.assertRegistered(sub, namespace);
      // api-version
      const supported = apiVersionsFor(type);
      if (apiVersion === undefined) {
        throw new ArmError(
          400,
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
        );
      }
      if (!supported.includes(apiVersion)) {
        throw new ArmError(
          400,
          'InvalidApiVersionParameter',
          `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(',')}'.`,
        );
      }
      const route = this.routes.find((r) => r.type === type && r.verb === verb);
      if (!route) {
        if (supported.length === 0 || verb.startsWith('action:'))
          throw new ArmError(
            404,
            'NoRegisteredProviderFound',
            // The ARM troubleshooting doc's text ("Resolve errors for resource provider registration")
            `No registered resource provider found for location '${str((body as Record<string, unknown> | undefined)?.location) ?? ''}' and API version '${apiVersion}' for type '${type.split('/').slice(1).join('/')}'.`,
          );
        throw new ArmError(
          405,
          'MethodNotAllowed',
          `The operation '${key}' is not supported by the simulator.`,
        );
      }
      const out = await route.handler(this, armReq);
      send(out.status, out.body, out.headers);
    } catch (e) {
      if (e instanceof ArmError) {
        send(
          e.status,
          { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } },
          e.headers,
        );
        return;
      }
      throw e;
    }
  }

  /**
   * Headers ARM adds to answers (recorded traffic, issue 13 item 8): `x-ms-ratelimit-remaining-
   * subscription-{reads|writes|deletes}` counting down per subscription and clock hour from ARM's
   * documented per-hour limits (12,000 reads, 1,200 writes, 15,000 deletes), and an `ETag` on a
   * resource body (its value here is a hash of the body: a shape, not Azure's value).
   */
  private armHeaders(
    method: string,
    segments: string[],
    status: number,
    payload: unknown,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    const sub = segments[0]?.toLowerCase() === 'subscriptions' ? segments[1]?.toLowerCase() : undefined;
    if (sub !== undefined) {
      const kind =
        method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
      const limit = kind === 'reads' ? 12_000 : kind === 'writes' ? 1_200 : 15_000;
      const key = `${sub}|${kind}|${Math.floor(this.clock.now() / 3_600_000)}`;
      const used = (this.rateLimitUse.get(key) ?? 0) + 1;
      this.rateLimitUse.set(key, used);
      out[`x-ms-ratelimit-remaining-subscription-${kind}`] = String(Math.max(0, limit - used));
    }
    if (status < 300 && isObject(payload) && typeof payload.id === 'string' && method !== 'DELETE')
      out.ETag = `"${createHash('sha1').update(JSON.stringify(payload)).digest('hex').slice(0, 16)}"`;
    return out;
  }

  private pickFault(operation: string): string | undefined {
    const plan = this.faultPlan;
    if (!plan || plan.rate <= 0 || plan.kinds.length === 0) return undefined;
    if (plan.operations && !plan.operations.includes(operation)) return undefined;
    const roll = this.faultRandom();
    const which = this.faultRandom();
    if (roll >= plan.rate) return undefined;
    return plan.kinds[Math.floor(which * plan.kinds.length)];
  }

  private authenticate(req: IncomingMessage): Claims {
    const auth = req.headers.authorization;
    if (!auth)
      throw new ArmError(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
        {
          'WWW-Authenticate':
            'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
        },
      );
    if (!auth.startsWith('Bearer '))
      // ARM's code for this case (Azure/azure-sdk-for-python#4124)
      throw new ArmError(
        401,
        'AuthenticationFailedInvalidHeader',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      );
    const v = this.validateToken(auth.slice(7), this.armAudiences());
    if ('claims' in v) return v.claims;
    if (v.error === 'expired') {
      throw new ArmError(
        401,
        'ExpiredAuthenticationToken',
        // ARM writes both times as .NET's invariant "M/d/yyyy h:mm:ss AM" (microsoft/foundry-dev-tools#461)
        `The access token expiry UTC time '${armUtcTime((v.exp ?? 0) * 1000)}' is earlier than current UTC time '${armUtcTime(this.clock.now())}'.`,
        {
          'WWW-Authenticate':
            'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The access token has expired."',
        },
      );
    }
    if (v.error === 'audience')
      // ARM's answer for a token of another resource (JetBrains/azure-tools-for-intellij#16,
      // hashicorp/go-azure-helpers#51)
      throw new ArmError(
        401,
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${v.aud ?? ''}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
      );
    throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
  }

  private auxiliaryClaims(req: IncomingMessage): Claims[] {
    const header = req.headers['x-ms-authorization-auxiliary'];
    if (header === undefined) return [];
    const values = (Array.isArray(header) ? header.join(',') : header)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (values.length > 3)
      throw new ArmError(400, 'InvalidAuxiliaryTokens', 'The request can have at most 3 auxiliary tokens.');
    return values.map((v) => {
      if (!v.startsWith('Bearer '))
        throw new ArmError(
          401,
          'InvalidAuthenticationToken',
          "The 'x-ms-authorization-auxiliary' header is provided in an invalid format.",
        );
      const r = this.validateToken(v.slice(7), this.armAudiences());
      if (!('claims' in r)) {
        throw new ArmError(
          401,
          r.error === 'expired' ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken',
          r.error === 'expired'
            ? 'The auxiliary access token has expired.'
            : 'The auxiliary access token is invalid.',
        );
      }
      return r.claims;
    });
  }

  /** Serves a resource the way ARM does (id, name, type, location, tags, properties). */
  view(r: SimResource, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: r.id,
      name: r.name,
      type: r.type,
      location: r.location,
      tags: { ...r.tags },
      ...extra,
      properties: structuredClone(r.properties),
    };
  }

  /** Common "not found" shapes. */
  notFound(segments: string[], typeLabel: string, name: string): ArmError {
    const rg = segments[3] ?? '';
    if (segments[2]?.toLowerCase() === 'resourcegroups' && !this.resourceGroup(segments[1] ?? '', rg)) {
      return new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    }
    return new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${typeLabel}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    );
  }

  parseBody(req: ArmRequest): Record<string, unknown> {
    if (!isObject(req.body))
      throw new ArmError(
        400,
        'InvalidRequestContent',
        'The request content was invalid and could not be deserialized.',
      );
    return req.body;
  }
}

/** The default rules Azure puts in every NSG (read-only, lowest precedence). */
function defaultSecurityRules(nsgId: string): Record<string, unknown>[] {
  const rule = (
    name: string,
    direction: 'Inbound' | 'Outbound',
    priority: number,
    access: 'Allow' | 'Deny',
    source: string,
    destination: string,
  ): Record<string, unknown> => ({
    id: `${nsgId}/defaultSecurityRules/${name}`,
    name,
    properties: {
      provisioningState: 'Succeeded',
      protocol: '*',
      sourcePortRange: '*',
      destinationPortRange: '*',
      sourceAddressPrefix: source,
      destinationAddressPrefix: destination,
      access,
      priority,
      direction,
    },
  });
  return [
    rule('AllowVnetInBound', 'Inbound', 65000, 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowAzureLoadBalancerInBound', 'Inbound', 65001, 'Allow', 'AzureLoadBalancer', '*'),
    rule('DenyAllInBound', 'Inbound', 65500, 'Deny', '*', '*'),
    rule('AllowVnetOutBound', 'Outbound', 65000, 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowInternetOutBound', 'Outbound', 65001, 'Allow', '*', 'Internet'),
    rule('DenyAllOutBound', 'Outbound', 65500, 'Deny', '*', '*'),
  ];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function aadError(
  res: ServerResponse,
  status: number,
  error: string,
  code: number,
  description: string,
): void {
  const traceId = randomBytes(16).toString('hex');
  const now = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${traceId} Timestamp: ${now}`,
    error_codes: [code],
    timestamp: now,
    trace_id: traceId,
    correlation_id: traceId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

/** A time as ARM writes it in token errors: .NET's invariant "M/d/yyyy h:mm:ss AM", in UTC. */
function armUtcTime(ms: number): string {
  const d = new Date(ms);
  const hours = d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${hours}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}
