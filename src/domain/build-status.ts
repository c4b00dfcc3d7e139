/**
 * The shape of a build as everyone outside the orchestration sees it: the orchestration's custom
 * status (read by the HTTP API, the status page, the approvals trigger and any Durable monitor)
 * and its names. Written by src/orchestrations; read elsewhere. JSON-safe, never a secret.
 */
import type { SecuritySummary } from './pipeline/security-gate';
import type { ApprovalRequest } from '../ports/approvals';

export const BUILD_ORCHESTRATION = 'buildImagePipeline';
export const REVOKE_ORCHESTRATION = 'revokeImageVersion';
/** External event that cancels a build; data: { reason: string, requestedBy?: string }. */
export const CANCEL_EVENT = 'cancel';

export type BuildStep =
  | 'queued'
  /** The served definition, the digest and the environments' gates are checked (admission.ts). */
  | 'admission'
  | 'preflight'
  | 'waitingForBuildSlot'
  | 'build'
  | 'test'
  | 'approve'
  | 'promote'
  | 'compensate'
  | 'done';

export type StageState =
  | 'pending'
  | 'running'
  | 'awaitingApproval'
  | 'promoting'
  | 'testing'
  | 'done'
  | 'failed'
  | 'rejected'
  | 'timedOut'
  | 'canceled'
  | 'skipped';

export interface StageStatus {
  name: string;
  tenantId: string;
  state: StageState;
  startedAt?: string;
  endedAt?: string;
  /** Gallery image version id in this stage's tenant, once it exists. */
  versionId?: string;
  regions?: { name: string; state: string; progress: number }[];
  /**
   * While the stage's version replicates (factory 0.5.0 on): the instance of the wait that reads it.
   * The wait publishes every read's per-region progress in its own status, the build only the end's
   * (and the first read's, before 0.7.0); GET /api/builds/{id} shows the wait's (and never this pointer).
   */
  replicationWait?: string;
  approval?: {
    requestId: string;
    requestedAt: string;
    deadline: string;
    decision?: 'approved' | 'rejected' | 'timedOut';
    decidedAt?: string;
    approver?: string;
    changeTicket?: string;
    comment?: string;
  };
}

export interface BuildFailure {
  code: string;
  message: string;
  step: BuildStep;
  stage?: string;
  hint?: string;
  /** AIB run sub-state and the tail of customization.log, when the build itself failed. */
  runSubState?: string;
  logExcerpt?: string;
}

export type BuildOutcome = 'running' | 'succeeded' | 'failed' | 'rejected' | 'timedOut' | 'canceled';

export interface BuildCustomStatus {
  buildId: string;
  pipeline: string;
  /**
   * The factory release (host.json durableTask.defaultVersion, context.df.version) the build started
   * under and runs on to the end; absent for builds from before versioning.
   */
  factoryVersion?: string;
  outcome: BuildOutcome;
  step: BuildStep;
  currentStage?: string;
  message?: string;
  imageVersion?: string;
  recipeHash?: string;
  sourceImageVersion?: string;
  stages: StageStatus[];
  /** The exact request an approval decision must match; absent when none is pending. */
  pendingApproval?: ApprovalRequest;
  failure?: BuildFailure;
  /** Each step as it went (what it did, from when to when), for the build page's timeline. */
  timeline?: TimelineEntry[];
  /** The audit tags every gallery version of this build carries (each stage adds its approval). */
  ledger?: Record<string, string>;
  /** Each test script run: where, its exit code and the tail of its output. */
  tests?: { stage: string; name: string; exitCode: number; outputTail: string }[];
  /** The security gate's summary (issue 18) and where its SBOM is served; the SBOM itself is not here. */
  securityGate?: SecurityGateStatus;
  /** What compensation deleted (a stopped build). */
  cleanedUp?: string[];
  updatedAt: string;
}

export interface TimelineEntry {
  step: BuildStep;
  stage?: string;
  what: string;
  startedAt: string;
  /** Absent while it runs. */
  endedAt?: string;
}

export type SecurityGateStatus = SecuritySummary & { sbomPath: string };
