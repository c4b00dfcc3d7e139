/**
 * The activities of the build pipeline: names and JSON-safe inputs/outputs, shared by the
 * orchestration (which only sees these) and the activity implementations (which see the ports).
 */
import type { SecurityGateThresholds, SecuritySummary } from './security-gate';
import type { ApprovalDecision, ApprovalDecisionProof, ApprovalRequest } from '../../ports/approvals';
import type {
  Customizer,
  GalleryImageVersionRef,
  ImageDefinitionSpec,
  ImageTemplateRef,
  ImageTemplateSpec,
  ImageVersionInfo,
  ImageVersionSpec,
  RunState,
  TargetRegion,
  TestVmSpec,
  VmRef,
} from '../../ports/azure';
import type { PipelineDefinition } from './definition';

/** Tag on ENG versions recording how long the build ran: past builds tune the polling. */
export const BUILD_DURATION_TAG = 'imagefactory.buildDurationMs';
/** Tag on every version a build made: compensation deletes only its own build's versions. */
export const BUILD_ID_TAG = 'imagefactory.buildId';

export const Activities = {
  preflight: 'preflight',
  loadBuildHistory: 'loadBuildHistory',
  ensureImageDefinition: 'ensureImageDefinition',
  ensureImageDefinitions: 'ensureImageDefinitions',
  createImageTemplate: 'createImageTemplate',
  getImageTemplateProvisioning: 'getImageTemplateProvisioning',
  startImageBuild: 'startImageBuild',
  getImageBuildStatus: 'getImageBuildStatus',
  getImageBuildOutput: 'getImageBuildOutput',
  readBuildLog: 'readBuildLog',
  cancelImageBuild: 'cancelImageBuild',
  deleteImageTemplate: 'deleteImageTemplate',
  createTestVm: 'createTestVm',
  getTestVm: 'getTestVm',
  startTestScript: 'startTestScript',
  getTestScriptResult: 'getTestScriptResult',
  getSecurityGateResult: 'getSecurityGateResult',
  readBuildInventory: 'readBuildInventory',
  deleteTestVm: 'deleteTestVm',
  copyImageVersion: 'copyImageVersion',
  getImageVersion: 'getImageVersion',
  updateImageVersion: 'updateImageVersion',
  deleteImageVersion: 'deleteImageVersion',
  sendApprovalRequest: 'sendApprovalRequest',
  verifyApprovalDecision: 'verifyApprovalDecision',
  claimBuildSlot: 'claimBuildSlot',
  startImageBuildInFreeSlot: 'startImageBuildInFreeSlot',
} as const;

/** Every Azure call names the credential profile it runs as. */
export interface WithCredential {
  credential: string;
}

export interface PreflightInput {
  buildId: string;
  definition: PipelineDefinition;
  /** ISO time the build arrived (its start): orders template names, the build-slot tickets. */
  queuedAt?: string;
}

export interface PreflightProblem {
  /** Stable code, e.g. MissingRole, SubnetPolicy, WrongRegion, SourceUnavailable. */
  code: string;
  /** Which identity or resource it is about, in words. */
  subject: string;
  message: string;
  /** The exact grant or change that fixes it (e.g. an az command). */
  fix: string;
}

export interface PreflightResult {
  problems: PreflightProblem[];
  /** sha256 of the recipe (source, image, customizers, build VM): names templates, tags versions. */
  recipeHash: string;
  /** Deterministic per build and recipe: a retried activity finds its own template. */
  templateName: string;
  /** The platform image's exact version when the definition says 'latest'. */
  sourceVersion: string;
}

export type TemplateInput = WithCredential & { spec: ImageTemplateSpec };
export type TemplateRefInput = WithCredential & { ref: ImageTemplateRef };

export interface BuildStatus {
  exists: boolean;
  provisioningState?: string;
  provisioningError?: string;
  runState?: RunState;
  runSubState?: string;
  message?: string;
  /** Set by the waiting sub-orchestration when it could not read the status (a refusal). */
  error?: { code: string; message: string; hint?: string };
}

export type ImageDefinitionInput = WithCredential & { spec: ImageDefinitionSpec };
/** The image's definition in every stage's gallery: one unit of work, one call (factory 0.5.0). */
export interface ImageDefinitionsInput {
  definitions: ImageDefinitionInput[];
}
export type BuildOutputInput = TemplateRefInput & { runOutputName: string };
export type TestVmInput = WithCredential & { spec: TestVmSpec };
export type VmRefInput = WithCredential & { ref: VmRef };
export type TestScriptInput = WithCredential & {
  ref: VmRef;
  /** Name of the managed Run Command on the VM (deterministic per script: a retry finds it). */
  runCommandName: string;
  script: { name: string; shell: 'Shell' | 'PowerShell'; inline: string };
  timeoutSeconds: number;
};
export type TestScriptRefInput = WithCredential & { ref: VmRef; runCommandName: string; scriptName: string };
/** A test script's Run Command: still running (state), or ended with its result. */
export interface TestScriptProgress {
  state: string;
  result?: TestScriptResult;
}
/** What is left of a test VM being torn down (VM, then NIC and disk). */
export interface TestVmTeardown {
  remaining: string[];
}
/** The security gate's Run Command, read and judged against the pipeline's thresholds. */
export type SecurityGateRefInput = TestScriptRefInput & {
  thresholds: SecurityGateThresholds;
  subject: { buildId: string; imageVersion: string; pipeline: string; timestamp: string };
};
/** The build's full inventory, printed into customization.log by the inventory customizer. */
export type BuildInventoryInput = TemplateRefInput & {
  osType: 'Linux' | 'Windows';
  subject: SecurityGateRefInput['subject'];
};
/**
 * The full inventory as a CycloneDX SBOM (kept in this activity's recorded result, preferred by
 * GET /api/builds/{id}/sbom over the gate's truncated one), or why there is none (the gate's list is
 * then the SBOM). Never fails the build: the inventory is an addition to the gate.
 */
export type BuildInventoryResult =
  { packages: number; sbom: Record<string, unknown> } | { unavailable: string };
export interface SecurityGateProgress {
  state: string;
  result?: TestScriptResult & {
    /** Set when the report was read; `unreadable` otherwise. */
    summary?: SecuritySummary;
    unreadable?: string;
    /** CycloneDX 1.6 JSON (sbom.ts); kept in the build's history, served by GET /api/builds/{id}/sbom. */
    sbom?: Record<string, unknown>;
  };
}
export interface TestScriptResult {
  name: string;
  exitCode: number;
  /** Last lines of stdout/stderr, for the build record. */
  outputTail: string;
}
export type CopyVersionInput = WithCredential & { spec: ImageVersionSpec; sourceTenantId?: string };
export type VersionRefInput = WithCredential & { ref: GalleryImageVersionRef };
/** Compensation deletes only versions tagged with its own build id. */
export type DeleteVersionInput = VersionRefInput & { onlyIfBuildId?: string };
export type UpdateVersionInput = VersionRefInput & {
  patch: {
    excludeFromLatest?: boolean;
    endOfLifeDate?: string;
    tags?: Record<string, string>;
    targetRegions?: TargetRegion[];
  };
};
export type VersionInfo = ImageVersionInfo | null;
export type HistoryInput = WithCredential & {
  image: { subscriptionId: string; resourceGroup: string; gallery: string; image: string };
};
export type ApprovalRequestInput = ApprovalRequest;

export interface VerifyDecisionInput {
  decision: ApprovalDecision;
  proof?: ApprovalDecisionProof;
}

/** `verified: false` when a signing key is configured and the proof is missing or wrong. */
export interface DecisionVerification {
  verified: boolean;
  detail: string;
  /** Which key generation the signature matched: current, previous, previous-expired, none. */
  keyGeneration?: 'current' | 'previous' | 'previous-expired' | 'none';
}
export type { Customizer };

/** Asks whether this build may start its Image Builder run now (see build-slots.ts). */
export type ClaimBuildSlotInput = WithCredential & {
  /** The template resource group, where the tickets (templates) are counted. */
  scope: { subscriptionId: string; resourceGroup: string };
  slotKey: string;
  templateName: string;
};
export type { SlotDecision } from './build-slots';

/**
 * How an activity fails, and why it is not always by throwing.
 *
 * The orchestrations call activities with callActivityWithRetry and AZURE_CALL_RETRY. The Durable
 * host retries EVERY failed attempt, whatever the error (DurableTask.Core's RetryInterceptor knows
 * nothing of our codes), so a thrown "identity lacks Contributor" or a 400 would be retried for
 * minutes before the user sees the fix. Therefore:
 * - a FactoryError with `retryable: false` is returned as an ActivityRefusal (the activity factory
 *   wraps every activity, src/activities/pipeline.ts): recorded once, seen by the orchestration at
 *   once, turned into the build's failure with its code and hint;
 * - a retryable FactoryError (429, 5xx, connection faults) and any unexpected error are thrown and
 *   retried by the host under the policy; after the last attempt the orchestration sees the error.
 * Retry-After cannot steer host retries; the policy's intervals (5 s doubling to 60 s, 8 attempts,
 * about 4 minutes in all) outlast the Retry-After values ARM sends (seconds to a minute).
 */
export interface ActivityRefusal {
  /** retryAfterMs: Azure said when the same call may succeed (the orchestration waits on a durable timer). */
  activityRefused: { code: string; message: string; hint?: string; retryAfterMs?: number };
}

/** The refusal in an activity's result, if it is one. */
export function refusalOf(result: unknown): ActivityRefusal['activityRefused'] | undefined {
  if (typeof result !== 'object' || result === null || !('activityRefused' in result)) return undefined;
  const refusal = (result as ActivityRefusal).activityRefused;
  return typeof refusal?.code === 'string' ? refusal : undefined;
}

/** The named retry policy for every activity call (values for df.RetryOptions). */
export const AZURE_CALL_RETRY = {
  firstRetryIntervalInMilliseconds: 5_000,
  maxNumberOfAttempts: 8,
  backoffCoefficient: 2,
  maxRetryIntervalInMilliseconds: 60_000,
} as const;
