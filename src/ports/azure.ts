/**
 * Ports: what the pipeline needs from Azure, in the pipeline's own words.
 * Activities call these; orchestrations never see them (they see activity results only).
 * One adapter per port lives in src/adapters/ and is the only place an SDK type appears.
 *
 * Every method throws FactoryError (src/shared/errors.ts) with a stable `code`
 * (see AzureErrorCode) and `retryable` classified from the HTTP status or fault.
 * Every create is safe to run twice: it looks before it creates and treats
 * "already exists with the same content" as success.
 */

/** Name of a credential profile in config (e.g. "eng", "test", "prod", "build"). */
export type CredentialName = string;

export type AzureErrorCode =
  | 'AuthorizationFailed' // 403 from ARM: the principal lacks a role on a scope
  | 'AuthenticationFailed' // 401 or token endpoint refused (AADSTS…)
  | 'NotFound' // 404
  | 'Conflict' // 409, e.g. "Update/Upgrade of image templates is currently not supported"
  | 'BadRequest' // 400
  | 'Throttled' // 429 (retryable, retryAfterMs set)
  | 'ServerError' // 5xx (retryable)
  | 'ConnectionFault' // reset, refused, timeout (retryable)
  | 'CrossTenantTokenMissing' // copy from another tenant without a valid auxiliary token
  | 'StagingGroupUnauthorized' // AIB: identity lacks Contributor on the custom staging RG
  | 'ProviderNotRegistered' // 409 MissingSubscriptionRegistration: the namespace is not registered
  | 'NicReservedForAnotherVm' // a failed VM create holds its NIC; retry after retryAfterMs
  | 'OperationFailed'; // LRO ended Failed

export interface ResourceGroupRef {
  subscriptionId: string;
  resourceGroup: string;
}

export interface ImageTemplateRef extends ResourceGroupRef {
  name: string;
}

export interface GalleryImageRef extends ResourceGroupRef {
  gallery: string;
  image: string;
}

export interface GalleryImageVersionRef extends GalleryImageRef {
  version: string; // Major.Minor.Patch
}

export interface VmRef extends ResourceGroupRef {
  name: string;
}

export interface TargetRegion {
  name: string;
  replicaCount: number;
  storageAccountType: 'Standard_LRS' | 'Standard_ZRS' | 'Premium_LRS';
}

// ---------------------------------------------------------------- Image Builder

export type BuildSource =
  | { type: 'PlatformImage'; publisher: string; offer: string; sku: string; version: string }
  | { type: 'SharedImageVersion'; imageVersionId: string }
  | { type: 'ManagedImage'; imageId: string };

export type Customizer =
  | { type: 'Shell'; name: string; inline?: string[]; scriptUri?: string; sha256Checksum?: string }
  | {
      type: 'PowerShell';
      name: string;
      inline?: string[];
      scriptUri?: string;
      sha256Checksum?: string;
      runElevated?: boolean;
    }
  | { type: 'File'; name: string; sourceUri: string; destination: string; sha256Checksum: string }
  | { type: 'WindowsUpdate'; name: string; searchCriteria?: string; filters?: string[]; updateLimit?: number }
  | { type: 'WindowsRestart'; name: string; restartTimeout?: string };

export interface ImageTemplateSpec extends ImageTemplateRef {
  location: string;
  /** Resource id of the user-assigned identity the build runs as. */
  buildIdentityId: string;
  /**
   * Resource id of the template's own staging resource group. It should not exist yet: Image Builder
   * then creates it, gives the identity Contributor and deletes it with the template.
   */
  stagingResourceGroupId?: string;
  vmSize: string;
  osDiskSizeGB: number;
  buildTimeoutInMinutes: number;
  /** Existing-VNET build: subnet resource id. */
  subnetId?: string;
  source: BuildSource;
  customizers: Customizer[];
  /** The ENG gallery image version the build distributes to. */
  distribute: {
    galleryImageVersionId: string; // .../images/{image}/versions/{version}
    runOutputName: string;
    targetRegions: TargetRegion[];
    excludeFromLatest: boolean;
  };
  tags: Record<string, string>;
}

export type RunState =
  'NotStarted' | 'Running' | 'Canceling' | 'Succeeded' | 'PartiallySucceeded' | 'Failed' | 'Canceled';

export interface ImageTemplateStatus {
  provisioningState: 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting' | 'Canceled';
  provisioningError?: { code: string; message: string };
  lastRun?: {
    runState: RunState;
    runSubState?: string; // Queued, Building, Customizing, Validating, Distributing, …
    message?: string;
    startTime?: string;
    endTime?: string;
  };
}

export interface ImageBuilderPort {
  /** undefined when the template does not exist. */
  getTemplate(ref: ImageTemplateRef): Promise<ImageTemplateStatus | undefined>;
  /**
   * Starts creating the template and returns once ARM accepted it (provisioning takes ~30 s; read it
   * with templateProvisioning). No-op when it exists; throws when it exists and failed.
   */
  createTemplate(spec: ImageTemplateSpec): Promise<ImageTemplateStatus>;
  /**
   * The template's provisioning as ARM reports it; undefined when it does not exist. A template that
   * failed to provision throws its classified error (e.g. StagingGroupBusy, StagingGroupUnauthorized).
   */
  templateProvisioning(ref: ImageTemplateRef): Promise<ImageTemplateStatus | undefined>;
  /** Starts a run and returns once ARM accepted it; progress is read with getTemplate. */
  startRun(ref: ImageTemplateRef): Promise<void>;
  cancelRun(ref: ImageTemplateRef): Promise<void>;
  /** The artifact produced by a successful run (e.g. the gallery image version id). */
  getRunOutput(ref: ImageTemplateRef, runOutputName: string): Promise<{ artifactId: string } | undefined>;
  /** Starts deleting the template (~77 s; gone when getTemplate says undefined); no-op when gone or deleting. */
  deleteTemplate(ref: ImageTemplateRef): Promise<void>;
  /** Last lines of customization.log from the staging storage account, if it can be read. */
  readCustomizationLog(ref: ImageTemplateRef, tailLines: number): Promise<string | undefined>;
  /** A staging resource group's region and tags (Image Builder's usage tags); undefined when absent. */
  getStagingGroup(resourceGroupId: string): Promise<StagingGroupInfo | undefined>;
}

export interface StagingGroupInfo {
  location: string;
  tags: Record<string, string>;
}

// ---------------------------------------------------------------- Galleries

export interface ImageDefinitionSpec extends GalleryImageRef {
  location: string;
  osType: 'Linux' | 'Windows';
  osState: 'Generalized' | 'Specialized';
  hyperVGeneration: 'V1' | 'V2';
  securityType?: 'Standard' | 'TrustedLaunch' | 'ConfidentialVM' | 'TrustedLaunchSupported';
  identifier: { publisher: string; offer: string; sku: string };
  features?: Record<string, string>; // e.g. { IsAcceleratedNetworkSupported: 'True' }
}

export type ImageVersionSource =
  | { kind: 'galleryImageVersion'; id: string } // same or other tenant (auxiliary token needed cross-tenant)
  | { kind: 'managedImage'; id: string }
  | { kind: 'vhd'; uri: string; storageAccountId: string };

export interface ImageVersionSpec extends GalleryImageVersionRef {
  location: string;
  source: ImageVersionSource;
  targetRegions: TargetRegion[];
  excludeFromLatest: boolean;
  endOfLifeDate?: string; // ISO
  tags: Record<string, string>;
}

export type RegionReplicationState = 'Unknown' | 'Replicating' | 'Completed' | 'Failed';

export interface ImageVersionInfo {
  id: string;
  provisioningState: 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting' | 'Migrating';
  excludeFromLatest: boolean;
  endOfLifeDate?: string;
  tags: Record<string, string>;
  regions: { name: string; state: RegionReplicationState; progress: number; details?: string }[];
}

export interface GalleryPort {
  getImageDefinition(ref: GalleryImageRef): Promise<ImageDefinitionSpec | undefined>;
  /** Creates when missing; throws Conflict when it exists with incompatible properties. */
  ensureImageDefinition(spec: ImageDefinitionSpec): Promise<void>;
  getVersion(ref: GalleryImageVersionRef): Promise<ImageVersionInfo | undefined>;
  listVersions(ref: GalleryImageRef): Promise<ImageVersionInfo[]>;
  /**
   * Starts creating a version (copy/replication continues in the background; read progress with
   * getVersion). No-op when the version exists already with the same source.
   */
  beginCreateVersion(spec: ImageVersionSpec): Promise<void>;
  /**
   * One PATCH: excludeFromLatest / endOfLifeDate / tags (merged) / targetRegions. Returns once ARM
   * accepted it (the version is Updating for ~3 min); no PATCH when the version already has the values.
   */
  updateVersion(
    ref: GalleryImageVersionRef,
    patch: {
      excludeFromLatest?: boolean;
      endOfLifeDate?: string;
      tags?: Record<string, string>;
      targetRegions?: TargetRegion[];
    },
  ): Promise<void>;
  /** Starts deleting (~1.5 min; gone when getVersion says undefined); no-op when gone or deleting. */
  deleteVersion(ref: GalleryImageVersionRef): Promise<void>;
}

export interface PlatformImagePort {
  /** Versions of a marketplace image in a region, oldest first. */
  listVersions(args: {
    subscriptionId: string;
    location: string;
    publisher: string;
    offer: string;
    sku: string;
  }): Promise<string[]>;
}

// ---------------------------------------------------------------- Test VMs

export interface TestVmSpec extends VmRef {
  location: string;
  imageVersionId: string;
  subnetId: string;
  vmSize: string;
  osType: 'Linux' | 'Windows';
  securityType?: 'Standard' | 'TrustedLaunch';
  tags: Record<string, string>;
}

export interface RunCommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A managed Run Command's execution as its instance view reports it; `result` once it ended. */
export interface RunCommandProgress {
  state: 'Unknown' | 'Pending' | 'Running' | 'Failed' | 'Succeeded' | 'TimedOut' | 'Canceled';
  result?: RunCommandResult;
  message?: string;
}

export interface TestVmState {
  provisioningState: string;
  nicIds: string[];
  osDiskId?: string;
  /** Why a create failed (its instance view's ProvisioningState/failed/<code> status). */
  failure?: { code: string; message: string };
}

export interface TestVmPort {
  /**
   * Creates NIC + VM (OS disk implicit) with a throwaway admin credential generated inside the
   * adapter and never returned or logged; returns once ARM accepted the VM (it takes ~2 min: read
   * it with getVm). When the VM exists and is Succeeded, tags its OS disk; otherwise a no-op.
   */
  createVm(spec: TestVmSpec): Promise<void>;
  getVm(ref: VmRef): Promise<TestVmState | undefined>;
  /** Starts a script as a managed Run Command named `name`; no-op when one of that name exists. */
  startRunCommand(
    ref: VmRef,
    command: { name: string; shell: 'Shell' | 'PowerShell'; script: string; timeoutSeconds: number },
  ): Promise<void>;
  /** undefined when no run command of that name exists. */
  getRunCommand(ref: VmRef, name: string): Promise<RunCommandProgress | undefined>;
  /**
   * Starts deleting the VM, then its NICs and OS disk once it is gone; returns the ids still there
   * (call again until none is left). Never starts a delete that is already running.
   */
  deleteVm(ref: VmRef): Promise<{ remaining: string[] }>;
  /** Everything with the given tag key/value still present (VMs, NICs, disks): for leak checks and cleanup. */
  listTaggedResources(scope: ResourceGroupRef, tagName: string, tagValue: string): Promise<string[]>;
}

// ---------------------------------------------------------------- Access checks and network

export interface RoleGrant {
  roleDefinitionId: string; // full id
  roleName: string; // e.g. "Contributor"
  scope: string; // where it is assigned (may be a parent of the scope asked about)
}

export interface AccessCheckPort {
  /** The role assignments that apply to principalId at scope (assigned there or inherited). */
  listRoleGrants(principalId: string, scope: string): Promise<RoleGrant[]>;
  /**
   * The actions (e.g. 'Microsoft.Compute/galleries/images/versions/write') that principalId may NOT
   * perform at scope, judged from the role definitions of every grant that applies there.
   */
  missingActions(principalId: string, scope: string, actions: string[]): Promise<string[]>;
  /** Whether the resource (resource group, gallery, subnet…) exists and its location. */
  getResource(resourceId: string): Promise<{ id: string; location: string } | undefined>;
}

/** A subscription's registration of a resource provider namespace (Microsoft.Resources providers API). */
export interface ResourceProviderPort {
  /** registrationState as ARM reports it: Registered, Registering, NotRegistered, Unregistered, … */
  registrationState(subscriptionId: string, namespace: string): Promise<string>;
}

export interface SubnetInfo {
  id: string;
  location: string; // the VNET's region
  privateLinkServiceNetworkPolicies: 'Enabled' | 'Disabled';
  networkSecurityGroupId?: string;
  /** Inbound allow rules relevant to AIB: source service tag/prefix and destination port ranges. */
  nsgInboundAllows: { sourceAddressPrefix: string; destinationPortRanges: string[] }[];
}

export interface NetworkPort {
  getSubnet(subnetId: string): Promise<SubnetInfo | undefined>;
}

/** What a credential profile resolves to: used by preflight to name the identity in messages. */
export interface PrincipalInfo {
  credential: CredentialName;
  tenantId: string;
  principalId: string; // object id of the service principal / managed identity
  displayName: string;
}

/**
 * Which VMs and scale sets use a gallery image version (Azure Resource Graph). Answers only with what
 * the credential can read (Reader on the subscriptions it must see: infra/access.json), so a missing
 * grant looks like "not in use": callers must hold that grant before trusting an empty answer.
 */
export interface ImageUsagePort {
  /** Version id (lower case) → ids of the VMs / scale sets referencing it; unused versions absent. */
  usersOf(args: { subscriptionIds: string[]; versionIds: string[] }): Promise<Map<string, string[]>>;
}

/**
 * Builds ports bound to one credential profile. Cross-tenant gallery copies pass the source
 * tenant(s) so the adapter adds `x-ms-authorization-auxiliary` tokens.
 */
export interface AzurePorts {
  imageBuilder(credential: CredentialName): ImageBuilderPort;
  galleries(credential: CredentialName, options?: { auxiliaryTenantIds?: string[] }): GalleryPort;
  platformImages(credential: CredentialName): PlatformImagePort;
  testVms(credential: CredentialName): TestVmPort;
  access(credential: CredentialName): AccessCheckPort;
  network(credential: CredentialName): NetworkPort;
  resourceProviders(credential: CredentialName): ResourceProviderPort;
  imageUsage(credential: CredentialName): ImageUsagePort;
  principal(credential: CredentialName): PrincipalInfo;
}
