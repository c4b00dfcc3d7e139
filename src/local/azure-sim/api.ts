/**
 * Test-, bench- and `npm start`-facing handle of the simulated Azure (ARM + Entra over HTTPS on
 * 127.0.0.1). Production code never imports this; adapters only see `armEndpoint`,
 * `authorityHost` and `ca` through settings.
 */
import type { SecurityFindings } from './providers/security-gate-vm';
import type { Clock } from '../../shared/clock';
import type { LroKind, LroTiming } from './lro';

/**
 * `reset`: the socket is destroyed before an answer; `slow`: the answer is held back `slowMs`;
 * `stall`: the status, headers and half the body go out, then nothing until the client gives up.
 */
export type FaultKind = '429' | '500' | '503' | 'reset' | 'slow' | 'stall';

export interface FaultPlan {
  /** Probability 0..1 that a matching ARM call fails. */
  rate: number;
  kinds: FaultKind[];
  /**
   * Operation keys (see AzureSimulator.callCounts) to restrict faults to; all ARM calls when absent.
   * `POST oauth2/token`, `GET managedIdentity/token` and `GET blob` take only `slow`, `reset` and
   * `stall`, and only when listed here.
   */
  operations?: string[];
  retryAfterSeconds?: number;
  slowMs?: number;
}

export interface SimulatorOptions {
  /** Defaults to the system clock. Tests pass the host's VirtualClock. */
  clock?: Clock;
  /** Seed for faults and generated ids: the same seed gives the same run. */
  seed?: number;
  /** Simulated durations (clock ms). */
  durations?: {
    /** How long an image template run takes from Queued to Succeeded (default 60 min). */
    buildMs?: number;
    /** Per-region replication of a gallery image version (default 20 min). */
    replicationPerRegionMs?: number;
    /** Creation of a VM (default 2 min). */
    vmCreateMs?: number;
    /** How long a resource provider registration stays Registering (default 2 min; see FIDELITY.md). */
    providerRegistrationMs?: number;
  };
  faults?: FaultPlan;
  /** Fixed port; 0 / absent = ephemeral. */
  port?: number;
  /** Lifetime of issued access tokens in simulator-clock ms (default 24 h so virtual-time runs keep working; see FIDELITY.md). */
  tokenLifetimeMs?: number;
  /**
   * Duration and Retry-After per long-running operation kind (defaults: Azure's, in lro.ts).
   * Operations end by clock time, never after a number of polls.
   */
  operationTimings?: Partial<Record<LroKind, Partial<LroTiming>>>;
  /**
   * Told of each ARM request as it arrives, before it is handled: the crash suite kills the
   * factory's host there, so Azure acts on a call whose answer the caller never gets.
   */
  onRequest?: (request: { method: string; path: string; operation: string }) => void;
  /**
   * Told of each poll of a long-running operation's status URL, with the operation's state then:
   * a poll that finds it InProgress means a caller (an activity) is awaiting it.
   */
  onOperationPoll?: (poll: { kind: LroKind; status: string; path: string }) => void;
}

export interface RunCommandScript {
  (call: { vmId: string; imageVersionId: string; shell: 'Shell' | 'PowerShell'; script: string }): {
    exitCode: number;
    stdout: string;
    stderr: string;
    /** How long the script runs on the simulator clock (default DEFAULT_SCRIPT_DURATION_MS). */
    durationMs?: number;
  };
}

export interface SimRequestRecord {
  method: string;
  path: string;
  apiVersion: string | undefined;
  operation: string; // operation key, e.g. "PUT Microsoft.VirtualMachineImages/imageTemplates"
  status: number;
  body: unknown; // parsed JSON body as received (never contains tokens)
  hadAuxiliaryHeader: boolean;
}

/** A credential the simulator handed out or was handed: what a secrets scan must never find. */
export interface IssuedCredential {
  /** accessToken: a JWT it issued (Entra or managed identity); clientAssertion: a signed JWT a client authenticated with; sasSignature: the sig of a SAS it created. */
  kind: 'accessToken' | 'clientAssertion' | 'sasSignature';
  value: string;
}

export interface AzureSimulator {
  readonly armEndpoint: string; // https://127.0.0.1:PORT
  readonly authorityHost: string; // https://127.0.0.1:PORT (token + discovery endpoints)
  /** PEM of the self-signed certificate generated at start; clients trust it via tlsOptions.ca. */
  readonly ca: string;
  /** Plain-HTTP loopback endpoint for ManagedIdentityCredential (IDENTITY_ENDPOINT / IDENTITY_HEADER). */
  readonly managedIdentityEndpoint: { url: string; header: string };
  /** Additive: a client certificate generated at start (for an app registration's certificate credential). */
  readonly spareClientCertificate: { certificatePem: string; privateKeyPem: string };

  // ---- seeding (in-process, synchronous)
  addTenant(tenantId: string, displayName: string): void;
  addSubscription(tenantId: string, subscriptionId: string): void;
  /**
   * Registers a resource provider namespace in a subscription, as `az provider register` does
   * (a new subscription has only Azure's default providers). `completed` (default true) is the state
   * `--wait` returns in: Registered; false leaves it Registering for durations.providerRegistrationMs.
   */
  registerProvider(subscriptionId: string, namespace: string, options?: { completed?: boolean }): void;
  unregisterProvider(subscriptionId: string, namespace: string): void;
  providerRegistrationState(
    subscriptionId: string,
    namespace: string,
  ): 'NotRegistered' | 'Registering' | 'Registered' | 'Unregistered';
  addResourceGroup(subscriptionId: string, name: string, location: string): string; // returns id
  /** Multi-tenant apps get a service principal in each tenant via addServicePrincipal. */
  addAppRegistration(app: {
    appId: string;
    displayName: string;
    homeTenantId: string;
    secrets?: string[];
    /** PEM certificate (public part) whose private key signs client assertions. */
    certificates?: string[];
    /** Federated credentials: assertions with this issuer/subject (e.g. a managed identity token) are accepted. */
    federated?: { issuer: string; subject: string }[];
  }): void;
  /** Returns the service principal's object id in that tenant. */
  addServicePrincipal(tenantId: string, appId: string): string;
  addUserAssignedIdentity(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
  }): {
    id: string;
    principalId: string;
    clientId: string;
    tenantId: string;
  };
  /** roleName is a built-in name ("Contributor", "Reader", "Owner", "Network Contributor", …) or a role definition id. */
  assignRole(args: { principalId: string; role: string; scope: string }): string; // returns assignment id
  removeRoleAssignment(assignmentId: string): void;
  /** Additive: deletes a custom role definition (its assignments then grant nothing). */
  removeRoleDefinition(roleDefinitionId: string): void;
  addPlatformImageVersion(args: {
    location: string;
    publisher: string;
    offer: string;
    sku: string;
    version: string;
  }): void;
  addGallery(args: { subscriptionId: string; resourceGroup: string; name: string; location: string }): string;
  addVirtualNetwork(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    subnets: {
      name: string;
      addressPrefix: string;
      privateLinkServiceNetworkPolicies: 'Enabled' | 'Disabled';
      /** Inbound NSG allows, e.g. { sourceAddressPrefix: 'AzureLoadBalancer', destinationPortRanges: ['60001'] } */
      nsgInboundAllows?: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
      /**
       * Additive: inbound Deny rules (priority 4000, 4010, …, after the allows), e.g. a custom
       * "deny all inbound" { sourceAddressPrefix: '*', destinationPortRanges: ['*'] }. Every NSG also
       * carries Azure's default rules (AllowVnetInBound, AllowAzureLoadBalancerInBound, DenyAllInBound).
       */
      nsgInboundDenies?: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
    }[];
  }): string; // vnet id
  addManagedImage(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    osType: 'Linux' | 'Windows';
  }): string;
  /** Additive: a VM or scale set (someone's workload) whose image is this gallery image version. */
  addImageConsumer(args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    imageVersionId: string;
    kind: 'vm' | 'scaleSet';
  }): string;
  addStorageBlob(args: {
    subscriptionId: string;
    resourceGroup: string;
    account: string;
    container: string;
    blob: string;
  }): string; // https uri

  /** Additive: lets workloads on the simulated host get tokens for this identity from the managed identity endpoint. */
  attachHostIdentity(clientId: string, isDefault?: boolean): void;
  /** Additive: a custom role definition; returns its GUID (usable as `role` in assignRole). */
  addRoleDefinition(def: {
    roleName: string;
    description?: string;
    actions: string[];
    notActions?: string[];
    dataActions?: string[];
    assignableScopes: string[];
  }): string;

  // ---- behaviour scripting
  setFaults(plan: FaultPlan | undefined): void;
  scriptRunCommand(script: RunCommandScript): void;
  /**
   * World setting: what test VMs report to Image Factory's security gate script (pending security
   * updates with severity, installed packages) from now on; undefined: nothing pending and a small
   * default inventory (providers/security-gate-vm.ts, FIDELITY.md).
   */
  setSecurityFindings(
    findings: SecurityFindings | ((shell: 'Shell' | 'PowerShell') => SecurityFindings) | undefined,
  ): void;
  /** Image template runs whose customizer names match fail at Customizing with this log excerpt. */
  failCustomizer(args: { customizerName: string; logLines: string[] }): void;
  /**
   * The next create of this VM is accepted and its operation fails with this error (e.g.
   * AllocationFailed); its network interfaces stay reserved for it for 180 s (NicReservedForAnotherVm).
   */
  failVmCreate(args: { vmName: string; code: string; message: string }): void;

  // ---- inspection
  /** Live resources (ids, lower-cased types). */
  inventory(): { id: string; type: string; tags: Record<string, string> }[];
  /** Image Builder runs in progress now (runState Running), with where they run. */
  runningImageBuilds(): { templateId: string; subscriptionId: string; location: string }[];
  /** Calls per operation key since start (faulted calls included). */
  callCounts(): Record<string, number>;
  requests(): SimRequestRecord[];
  /** Additive: every token, client assertion and SAS signature since start, in order. */
  issuedCredentials(): IssuedCredential[];
  stop(): Promise<void>;
}
