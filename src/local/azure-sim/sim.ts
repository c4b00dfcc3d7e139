/**
 * The simulated Azure's state and its public face (AzureSimulator): tenants, subscriptions, apps,
 * identities, roles and resources; the seeding, scripting and inspection calls tests use; the RBAC
 * checks providers share; the servers' lifecycle. The behaviour lives beside it, one concern per
 * file: router.ts (routing, ARM dispatch), arm-auth.ts, arm-errors.ts, api-versions.ts,
 * operations.ts (async operations), entra.ts, tokens.ts, managed-identity.ts, blob.ts, eventgrid.ts,
 * seed.ts (seeding resources), providers/*.ts (one file per resource type or provider).
 * Slightly over 600 lines: the AzureSimulator face is one class, and each seeding call is a one-line
 * delegation to seed.ts.
 */
import type { SecurityFindings } from './providers/security-gate-vm';
import { generateKeyPairSync, randomBytes, createPublicKey, type KeyObject } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
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
import {
  authorizationFailed,
  invalidRequestContent,
  linkedAuthorizationFailed,
  linkedSubscriptionNotAuthorized,
  notFound,
} from './arm-errors';
import { BlobStore, createSas } from './blob';
import { type AppRegistration, type Tenant } from './entra';
import { certInfo } from './jwt';
import { managedIdentityRequest } from './managed-identity';
import { beginOperation, settleOperations, type AsyncOperation, type BeginOperationArgs } from './operations';
import { BUILT_IN_ROLES, roleAllows, scopeCovers, type RoleAssignment, type RoleDefinition } from './rbac';
import { dispatch, transportFault, type DataPlane, type Route } from './router';
import {
  addGallery,
  addImageConsumer,
  addManagedImage,
  addResourceGroup,
  addStorageBlob,
  addUserAssignedIdentity,
  addVirtualNetwork,
  ensureStorageAccount,
  type VirtualNetworkSeed,
} from './seed';
import { issueToken, validateToken } from './tokens';
import { ArmError, type ArmRequest, type Claims, type SimResource } from './types';
import { ProviderRegistry, type RegistrationState } from './providers/registration';
import { eqi, guidFrom, isObject, seededRandom } from './util';
import { DEFAULT_LRO_TIMINGS, resolveLroTimings, type LroKind, type LroTiming } from './lro';

// Kept importable from here for the code that always imported them from sim.ts.
export { API_VERSIONS, apiVersionsFor } from './api-versions';
export { BlobStore } from './blob';
export { sendJson, type DataPlane, type Handler, type Route } from './router';

export interface ManagedIdentity {
  id: string;
  name: string;
  principalId: string;
  clientId: string;
  tenantId: string;
}

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
  /** What a test VM reports to the security gate script (providers/security-gate-vm.ts); unset: nothing pending. */
  securityFindings: ((shell: 'Shell' | 'PowerShell') => SecurityFindings) | undefined;
  readonly customizerFailures: { customizerName: string; logLines: string[] }[] = [];
  /** Identities a workload on this "host" may get tokens for from the managed identity endpoint. */
  readonly hostIdentities: { clientId: string; isDefault: boolean }[] = [];

  // Internal state the modules of this folder (router.ts, entra.ts, tokens.ts…) share; not part of
  // AzureSimulator.
  readonly routes: Route[] = [];
  readonly dataPlanes: DataPlane[] = [];
  readonly idRandom: () => number;
  faultRandom: () => number;
  faultPlan: FaultPlan | undefined;
  readonly seed: number;
  readonly counts: Record<string, number> = {};
  readonly log: SimRequestRecord[] = [];
  readonly credentials: IssuedCredential[] = [];
  readonly signingKey: { privateKey: string; publicKey: KeyObject; kid: string };
  readonly tokenLifetimeMs: number;
  readonly lroTimings: Record<LroKind, LroTiming>;
  https: HttpsServer | undefined;
  http: HttpServer | undefined;
  readonly tickers: ((now: number) => void)[] = [];
  readonly onRequest: SimulatorOptions['onRequest'];
  readonly onOperationPoll: SimulatorOptions['onOperationPoll'];
  readonly rateLimitUse = new Map<string, number>();

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
      (req, res) => void dispatch(this, req, res),
    );
    await new Promise<void>((resolve) => this.https?.listen(port ?? 0, '127.0.0.1', resolve));
    const addr = this.https.address() as AddressInfo;
    this.armEndpoint = `https://127.0.0.1:${addr.port}`;
    this.authorityHost = this.armEndpoint;
    this.http = createHttpServer((req, res) => {
      void transportFault(this, req, res, 'GET managedIdentity/token').then((reset) => {
        if (!reset) managedIdentityRequest(this, req, res);
      });
    });
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
    return addResourceGroup(this, subscriptionId, name, location, tags);
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

  addUserAssignedIdentity(args: Parameters<typeof addUserAssignedIdentity>[1]): ManagedIdentity {
    return addUserAssignedIdentity(this, args);
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

  addGallery(args: Parameters<typeof addGallery>[1]): string {
    return addGallery(this, args);
  }

  addVirtualNetwork(args: VirtualNetworkSeed): string {
    return addVirtualNetwork(this, args);
  }

  addManagedImage(args: Parameters<typeof addManagedImage>[1]): string {
    return addManagedImage(this, args);
  }

  addImageConsumer(args: Parameters<typeof addImageConsumer>[1]): string {
    return addImageConsumer(this, args);
  }

  addStorageBlob(args: Parameters<typeof addStorageBlob>[1]): string {
    return addStorageBlob(this, args);
  }

  ensureStorageAccount(
    subscriptionId: string,
    resourceGroup: string,
    account: string,
    location: string,
  ): string {
    return ensureStorageAccount(this, subscriptionId, resourceGroup, account, location);
  }

  // ------------------------------------------------------------------ behaviour scripting and inspection

  setFaults(plan: FaultPlan | undefined): void {
    this.faultPlan = plan;
    this.faultRandom = seededRandom(this.seed ^ 0x5eed);
  }

  scriptRunCommand(script: RunCommandScript): void {
    this.runCommandScript = script;
  }

  /** World setting: what test VMs report to the security gate from now on (per test). */
  setSecurityFindings(
    findings: SecurityFindings | ((shell: 'Shell' | 'PowerShell') => SecurityFindings) | undefined,
  ): void {
    this.securityFindings = typeof findings === 'object' ? () => findings : findings;
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
    if (!this.can(claims.oid, action, scope)) throw authorizationFailed(claims, action, scope);
  }

  /** The ARM 403 for a permission missing on a linked resource (identity assign, image source read…). */
  linkedAuthorizationFailed(
    claims: Claims,
    action: string,
    scope: string,
    linkedActions: string[],
    linkedScopes: string[],
  ): ArmError {
    return linkedAuthorizationFailed(claims, action, scope, linkedActions, linkedScopes);
  }

  /** LinkedAuthorizationFailed for a linked scope in another tenant's subscription (arm-errors.ts). */
  linkedSubscriptionNotAuthorized(
    claims: Claims,
    action: string,
    scope: string,
    linkedScope: string,
  ): ArmError {
    return linkedSubscriptionNotAuthorized(claims, action, scope, linkedScope);
  }

  issueToken(args: Parameters<typeof issueToken>[1]): string {
    return issueToken(this, args);
  }

  /** Validates a token issued by this simulator; returns why not when invalid. */
  validateToken(token: string, audiences: string[]): ReturnType<typeof validateToken> {
    return validateToken(this, token, audiences);
  }

  // ------------------------------------------------------------------ long-running operations (operations.ts)

  beginOperation(args: BeginOperationArgs): Record<string, string> {
    return beginOperation(this, args);
  }

  /** Ends every operation whose time has come (runs before each request and inventory()). */
  settleOperations(now: number = this.clock.now()): void {
    settleOperations(this.operations, now);
  }

  /** Creates a read SAS for a storage account; returns the query string (without '?'). */
  createSas(accountId: string, expiresAt: number): string {
    return createSas(this, accountId, expiresAt);
  }

  /** Counts a call per operation key (callCounts()). */
  count(operation: string): void {
    this.counts[operation] = (this.counts[operation] ?? 0) + 1;
  }

  // ------------------------------------------------------------------ helpers providers share

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
    const rgMissing =
      segments[2]?.toLowerCase() === 'resourcegroups' && !this.resourceGroup(segments[1] ?? '', rg);
    return notFound(rgMissing, rg, typeLabel, name);
  }

  parseBody(req: ArmRequest): Record<string, unknown> {
    if (!isObject(req.body)) throw invalidRequestContent();
    return req.body;
  }
}
