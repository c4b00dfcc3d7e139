/**
 * The pipeline's activities: one side effect each, safe to run twice (deterministic names, look
 * before create), FactoryError with a stable code and `retryable` on failure. Built by a factory
 * that receives the ports, so src/functions only wires them.
 */
import type { ApprovalsPort } from '../ports/approvals';
import type { AzurePorts } from '../ports/azure';
import type { Clock } from '../shared/clock';
import { FactoryError, isFactoryError } from '../shared/errors';
import { cycloneDx } from '../domain/pipeline/sbom';
import { evaluateGate, parseGateOutput } from '../domain/pipeline/security-gate';
import { parseInventoryLog } from '../domain/pipeline/build-inventory';
import { summarizeHistory, type BuildHistory } from '../domain/polling';
import {
  Activities,
  type ActivityRefusal,
  type ApprovalRequestInput,
  type BuildInventoryInput,
  type BuildInventoryResult,
  type BuildOutputInput,
  type BuildStatus,
  type ClaimBuildSlotInput,
  type DecisionVerification,
  type CopyVersionInput,
  type DeleteVersionInput,
  type HistoryInput,
  type ImageDefinitionInput,
  type ImageDefinitionsInput,
  type PreflightInput,
  type PreflightResult,
  type TemplateInput,
  type TemplateRefInput,
  type SecurityGateProgress,
  type SecurityGateRefInput,
  type TestScriptInput,
  type TestScriptProgress,
  type TestScriptRefInput,
  type TestVmTeardown,
  type TestVmInput,
  type UpdateVersionInput,
  type VersionInfo,
  type VersionRefInput,
  type VerifyDecisionInput,
  type VmRefInput,
  BUILD_DURATION_TAG,
  BUILD_ID_TAG,
} from '../domain/pipeline/activities';
import { runPreflight } from './preflight';
import { describeMatch, matchSignature, type SigningKeys } from '../domain/approvals/signing';
import type { SlotDecision } from '../domain/pipeline/build-slots';
import { claimBuildSlot } from './build-slot-claim';

export interface PipelineDependencies {
  azure: AzurePorts;
  approvals: ApprovalsPort;
  clock: Clock;
  log: (line: string) => void;
  /**
   * The longest pause between an activity's quick retries of a read (preflight's), as the adapters'
   * quick retries pause: ARM_POLL_INTERVAL_MS, never more than PREFLIGHT_RETRY_PAUSE_MAX_MS.
   */
  quickRetryPauseMs: number;
  /** Image Builder runs at a time per subscription and region (BUILD_SLOTS_PER_SUBSCRIPTION_REGION). */
  buildSlotsPerSubscriptionRegion: number;
  /**
   * APPROVAL_SIGNING_KEY (and the previous key during a rotation): when set, only decisions carrying
   * a valid signature are acted on.
   */
  approvalSigningKey?: Buffer | SigningKeys;
}

const tail = (text: string, lines: number) => text.split('\n').slice(-lines).join('\n');

/**
 * A non-retryable FactoryError becomes an ActivityRefusal result instead of a failure, so the host's
 * retries (which retry anything thrown) are spent only on transient errors. See ActivityRefusal.
 */
export function refusingNonRetryable<I, O>(
  activity: (input: I) => Promise<O>,
): (input: I) => Promise<O | ActivityRefusal> {
  return async (input: I) => {
    try {
      return await activity(input);
    } catch (error) {
      if (!isFactoryError(error) || error.retryable) throw error;
      return {
        activityRefused: {
          code: error.code,
          message: error.message,
          ...(error.hint === undefined ? {} : { hint: error.hint }),
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        },
      };
    }
  };
}

export function createPipelineActivities(
  deps: PipelineDependencies,
): Record<string, (input: never) => Promise<unknown>> {
  const activities = pipelineActivityImplementations(deps);
  return Object.fromEntries(
    Object.entries(activities).map(([name, activity]) => [
      name,
      refusingNonRetryable(activity as (input: never) => Promise<unknown>),
    ]),
  );
}

function pipelineActivityImplementations(deps: PipelineDependencies) {
  const { azure } = deps;
  const slots = { perSubscriptionRegion: deps.buildSlotsPerSubscriptionRegion, log: deps.log };
  const activities = {
    [Activities.preflight]: (input: PreflightInput): Promise<PreflightResult> =>
      runPreflight(azure, input, { maxPauseMs: deps.quickRetryPauseMs }),

    [Activities.loadBuildHistory]: async (input: HistoryInput): Promise<BuildHistory | null> => {
      const versions = await azure.galleries(input.credential).listVersions(input.image);
      const durations = versions
        .map((version) => Number(version.tags[BUILD_DURATION_TAG]))
        .filter((duration) => Number.isFinite(duration) && duration > 0);
      return summarizeHistory(durations) ?? null;
    },

    [Activities.ensureImageDefinition]: async (input: ImageDefinitionInput): Promise<void> => {
      await azure.galleries(input.credential).ensureImageDefinition(input.spec);
    },

    // All galleries at once; each ensure is idempotent, so a retry after one failed redoes none of
    // the others' work. The first failure (in stage order) is the activity's, with its own code.
    [Activities.ensureImageDefinitions]: async (input: ImageDefinitionsInput): Promise<void> => {
      if (!Array.isArray(input?.definitions) || input.definitions.length === 0)
        throw new FactoryError(
          'InvalidActivityInput',
          'ensureImageDefinitions needs `definitions`: one { credential, spec } per gallery.',
        );
      const settled = await Promise.allSettled(
        input.definitions.map((one) => azure.galleries(one.credential).ensureImageDefinition(one.spec)),
      );
      const failed = settled.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined)
        throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    },

    // Returns once ARM accepted the template; getImageTemplateProvisioning reads it until done.
    [Activities.createImageTemplate]: async (input: TemplateInput): Promise<void> => {
      await azure.imageBuilder(input.credential).createTemplate(input.spec);
    },

    /** null when the template does not exist; a failed provisioning throws its classified error. */
    [Activities.getImageTemplateProvisioning]: async (
      input: TemplateRefInput,
    ): Promise<{ provisioningState: string } | null> => {
      const status = await azure.imageBuilder(input.credential).templateProvisioning(input.ref);
      return status === undefined ? null : { provisioningState: status.provisioningState };
    },

    [Activities.startImageBuild]: async (input: TemplateRefInput): Promise<void> => {
      const builder = azure.imageBuilder(input.credential);
      const status = await builder.getTemplate(input.ref);
      // Safe to run twice: a run that already started (or finished) is not started again.
      if (status?.lastRun !== undefined && status.lastRun.runState !== 'NotStarted') return;
      await builder.startRun(input.ref);
    },

    [Activities.getImageBuildStatus]: async (input: TemplateRefInput): Promise<BuildStatus> => {
      const status = await azure.imageBuilder(input.credential).getTemplate(input.ref);
      if (status === undefined) return { exists: false };
      return {
        exists: true,
        provisioningState: status.provisioningState,
        ...(status.provisioningError ? { provisioningError: status.provisioningError.message } : {}),
        ...(status.lastRun
          ? {
              runState: status.lastRun.runState,
              ...(status.lastRun.runSubState ? { runSubState: status.lastRun.runSubState } : {}),
              ...(status.lastRun.message ? { message: status.lastRun.message } : {}),
            }
          : {}),
      };
    },

    [Activities.getImageBuildOutput]: async (input: BuildOutputInput): Promise<string> => {
      const output = await azure.imageBuilder(input.credential).getRunOutput(input.ref, input.runOutputName);
      if (output === undefined)
        throw new FactoryError(
          'RunOutputMissing',
          `Image template ${input.ref.name} has no run output '${input.runOutputName}'.`,
        );
      return output.artifactId;
    },

    [Activities.readBuildLog]: async (input: TemplateRefInput): Promise<string | null> =>
      (await azure.imageBuilder(input.credential).readCustomizationLog(input.ref, 40)) ?? null,

    // The whole customization.log (the inventory customizer's lines are near its end, before
    // Image Builder's own closing lines): the SBOM from it is complete, unlike the gate's. Pure
    // reading: safe to call again. A log that cannot be read or parsed gives `unavailable`.
    [Activities.readBuildInventory]: async (input: BuildInventoryInput): Promise<BuildInventoryResult> => {
      let log: string | undefined;
      try {
        log = await azure
          .imageBuilder(input.credential)
          .readCustomizationLog(input.ref, Number.MAX_SAFE_INTEGER);
      } catch (error) {
        // Transient errors go to the host's retries; anything else leaves the gate's list.
        if (!isFactoryError(error) || error.retryable) throw error;
        return { unavailable: `customization.log could not be read: ${error.code}` };
      }
      if (log === undefined) return { unavailable: 'customization.log not found' };
      const report = parseInventoryLog(log, input.osType);
      if ('error' in report) return { unavailable: report.error };
      return { packages: report.packageCount, sbom: cycloneDx(report, input.subject) };
    },

    [Activities.cancelImageBuild]: async (input: TemplateRefInput): Promise<void> => {
      const builder = azure.imageBuilder(input.credential);
      const status = await builder.getTemplate(input.ref);
      if (status?.lastRun?.runState === 'Running') await builder.cancelRun(input.ref);
    },

    [Activities.deleteImageTemplate]: async (input: TemplateRefInput): Promise<void> => {
      await azure.imageBuilder(input.credential).deleteTemplate(input.ref);
    },

    [Activities.createTestVm]: async (input: TestVmInput): Promise<void> => {
      await azure.testVms(input.credential).createVm(input.spec);
    },

    [Activities.getTestVm]: async (
      input: VmRefInput,
    ): Promise<{ provisioningState: string; failure?: { code: string; message: string } } | null> => {
      const vm = await azure.testVms(input.credential).getVm(input.ref);
      if (vm === undefined) return null;
      return { provisioningState: vm.provisioningState, ...(vm.failure ? { failure: vm.failure } : {}) };
    },

    // Starts the script (managed Run Command, asyncExecution): returns in seconds however long it runs.
    [Activities.startTestScript]: async (input: TestScriptInput): Promise<void> => {
      await azure.testVms(input.credential).startRunCommand(input.ref, {
        name: input.runCommandName,
        shell: input.script.shell,
        script: input.script.inline,
        timeoutSeconds: input.timeoutSeconds,
      });
    },

    [Activities.getTestScriptResult]: async (input: TestScriptRefInput): Promise<TestScriptProgress> => {
      const progress = await azure.testVms(input.credential).getRunCommand(input.ref, input.runCommandName);
      if (progress === undefined)
        throw new FactoryError(
          'NotFound',
          `Run command ${input.runCommandName} of test '${input.scriptName}' does not exist on ${input.ref.name}`,
          { retryable: false },
        );
      if (progress.result === undefined) return { state: progress.state };
      const { result } = progress;
      return {
        state: progress.state,
        result: {
          name: input.scriptName,
          exitCode: result.exitCode,
          outputTail: tail([result.stdout, result.stderr].filter(Boolean).join('\n'), 20).slice(-2000),
        },
      };
    },

    // Reads the security gate's report once its Run Command ended: summary against the thresholds
    // and the inventory as a CycloneDX SBOM (sbom.ts). Pure reading: safe to call again.
    [Activities.getSecurityGateResult]: async (
      input: SecurityGateRefInput,
    ): Promise<SecurityGateProgress> => {
      const progress = await azure.testVms(input.credential).getRunCommand(input.ref, input.runCommandName);
      if (progress === undefined)
        throw new FactoryError(
          'NotFound',
          `Run command ${input.runCommandName} of the security gate does not exist on ${input.ref.name}`,
          { retryable: false },
        );
      if (progress.result === undefined) return { state: progress.state };
      const { result } = progress;
      const base = {
        name: input.scriptName,
        exitCode: result.exitCode,
        outputTail: tail([result.stdout, result.stderr].filter(Boolean).join('\n'), 20).slice(-2000),
      };
      const report =
        result.exitCode === 0
          ? parseGateOutput(result.stdout)
          : { error: `the security gate script exited with ${result.exitCode}` };
      if ('error' in report) return { state: progress.state, result: { ...base, unreadable: report.error } };
      return {
        state: progress.state,
        result: {
          ...base,
          // The JSON report is in the SBOM and summary; the tail keeps only the last lines' gist.
          outputTail: `security gate: ${report.packageCount} packages, report read`,
          summary: evaluateGate(report, input.thresholds),
          sbom: cycloneDx(report, input.subject),
        },
      };
    },

    // Starts what can be deleted now; called until nothing remains (see TestVmPort.deleteVm).
    [Activities.deleteTestVm]: async (input: VmRefInput): Promise<TestVmTeardown> =>
      azure.testVms(input.credential).deleteVm(input.ref),

    [Activities.copyImageVersion]: async (input: CopyVersionInput): Promise<void> => {
      const galleries = azure.galleries(
        input.credential,
        input.sourceTenantId === undefined ? undefined : { auxiliaryTenantIds: [input.sourceTenantId] },
      );
      await galleries.beginCreateVersion(input.spec);
    },

    [Activities.getImageVersion]: async (input: VersionRefInput): Promise<VersionInfo> =>
      (await azure.galleries(input.credential).getVersion(input.ref)) ?? null,

    [Activities.updateImageVersion]: async (input: UpdateVersionInput): Promise<void> => {
      await azure.galleries(input.credential).updateVersion(input.ref, input.patch);
    },

    /** true when the version is being deleted (read it until gone); false when nothing was to delete. */
    [Activities.deleteImageVersion]: async (input: DeleteVersionInput): Promise<boolean> => {
      const galleries = azure.galleries(input.credential);
      const version = await galleries.getVersion(input.ref);
      if (version === undefined) return false;
      if (input.onlyIfBuildId !== undefined) {
        const owner = version.tags[BUILD_ID_TAG];
        if (owner !== input.onlyIfBuildId) {
          deps.log(
            `not deleting version ${input.ref.version}: it belongs to build ${owner ?? '(untagged)'}, not ${input.onlyIfBuildId}`,
          );
          return false;
        }
      }
      await galleries.deleteVersion(input.ref);
      return true;
    },

    [Activities.claimBuildSlot]: (input: ClaimBuildSlotInput): Promise<SlotDecision> =>
      claimBuildSlot(azure, slots, input),

    // One side effect, the run's start, when the claim (reads) grants the slot: the build's first
    // ask costs it one activity, not two (factory 0.7.0). Safe to run twice: a run that started is
    // not started again and keeps its slot, whatever the queue looks like by then.
    [Activities.startImageBuildInFreeSlot]: async (input: ClaimBuildSlotInput): Promise<SlotDecision> => {
      const builder = azure.imageBuilder(input.credential);
      const ref = { ...input.scope, name: input.templateName };
      const started = (await builder.getTemplate(ref))?.lastRun;
      if (started !== undefined && started.runState !== 'NotStarted')
        return {
          granted: true,
          ticketExists: true,
          running: 0,
          ahead: 0,
          limit: slots.perSubscriptionRegion,
        };
      const slot = await claimBuildSlot(azure, slots, input);
      if (slot.granted) await builder.startRun(ref);
      return slot;
    },

    [Activities.sendApprovalRequest]: async (input: ApprovalRequestInput): Promise<void> => {
      await deps.approvals.sendRequest(input);
      deps.log(
        `approval requested: build ${input.buildId} stage ${input.stage} version ${input.imageVersion} (request ${input.requestId}, deadline ${input.deadline})`,
      );
    },

    [Activities.verifyApprovalDecision]: (input: VerifyDecisionInput): Promise<DecisionVerification> => {
      const key = deps.approvalSigningKey;
      if (key === undefined)
        return Promise.resolve({ verified: true, detail: 'no APPROVAL_SIGNING_KEY configured' });
      if (input.proof === undefined)
        return Promise.resolve({
          verified: false,
          detail: 'unsigned: the decision did not come signed through the decisions queue',
        });
      // The trigger's rule (matchSignature), at this activity's time: the previous key counts only
      // until the overlap end, so a decision the trigger accepted just before the end can be refused
      // here if the build picks it up after it (docs/approvals-integration.md, "Rotating the key").
      const match = matchSignature(
        key,
        input.proof.eventId,
        input.decision,
        input.proof.signature,
        new Date(deps.clock.now()).toISOString(),
      );
      return Promise.resolve({
        verified: match.accepted,
        keyGeneration: match.generation,
        detail: match.accepted
          ? `signature of event ${input.proof.eventId} verified (${describeMatch(match)})`
          : `bad-signature: the signature of event ${input.proof.eventId} ${match.generation === 'none' ? '' : 'was '}${describeMatch(match)}`,
      });
    },
  };
  return activities;
}
