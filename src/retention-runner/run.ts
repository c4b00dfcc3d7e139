/**
 * The retention job (issue 18 item 2; docs/retention.md): per pipeline and stage, read the image
 * definition's versions, ask Resource Graph which of the deletable ones VMs or scale sets still use,
 * plan (src/domain/retention/plan.ts) and, unless it is a dry run, carry the plan out through the
 * gallery adapter: PATCH endOfLifeDate, DELETE after the grace period. One log line per action.
 * Idempotent: a second run on the same state changes nothing (end of life already set, deletes
 * already started are skipped as Deleting).
 */
import type { PipelineDefinition } from '../domain/pipeline/definition';
import {
  checkRetentionPolicy,
  planRetention,
  type RetentionAction,
  type RetentionPolicy,
} from '../domain/retention/plan';
import type { AzurePorts, GalleryImageRef } from '../ports/azure';
import { isFactoryError, toError } from '../shared/errors';

/** Used when a pipeline names no `retention` (documented in docs/retention.md and the schema). */
export const DEFAULT_RETENTION: RetentionPolicy = { keepNewest: 5, graceDays: 30 };

export interface StageRetention {
  pipeline: string;
  stage: string;
  definitionId: string;
  policy: RetentionPolicy;
  actions: RetentionAction[];
  /** Set when the stage could not be read or planned; nothing was changed there. */
  error?: { code: string; message: string };
  /** Per action id that failed to apply (the others were applied). */
  failed?: { id: string; code: string; message: string }[];
}

export interface RetentionReport {
  now: string;
  dryRun: boolean;
  stages: StageRetention[];
}

export function retentionPolicyOf(pipeline: PipelineDefinition): RetentionPolicy {
  return checkRetentionPolicy({ ...DEFAULT_RETENTION, ...(pipeline.retention ?? {}) });
}

const versionOf = (id: string) => id.split('/').pop() ?? '';

export async function runRetention(args: {
  pipelines: Iterable<PipelineDefinition>;
  azure: AzurePorts;
  /** ISO time of the run (the timer's fire time). */
  now: string;
  dryRun: boolean;
  log: (line: string) => void;
}): Promise<RetentionReport> {
  const report: RetentionReport = { now: args.now, dryRun: args.dryRun, stages: [] };
  for (const pipeline of args.pipelines) {
    const policy = retentionPolicyOf(pipeline);
    for (const stage of pipeline.stages) {
      const ref: GalleryImageRef = {
        subscriptionId: stage.subscriptionId,
        resourceGroup: stage.gallery.resourceGroup,
        gallery: stage.gallery.name,
        image: pipeline.image.definition,
      };
      const definitionId = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Compute/galleries/${ref.gallery}/images/${ref.image}`;
      const entry: StageRetention = {
        pipeline: pipeline.name,
        stage: stage.name,
        definitionId,
        policy,
        actions: [],
      };
      report.stages.push(entry);
      const prefix = `retention ${pipeline.name}/${stage.name}`;
      try {
        const galleries = args.azure.galleries(stage.credential);
        // A version already being deleted is gone for retention's purposes.
        let listed;
        try {
          listed = await galleries.listVersions(ref);
        } catch (error) {
          // A stage the image was never promoted into has no definition yet: nothing to retain.
          if (!isFactoryError(error, 'NotFound')) throw error;
          args.log(`${prefix}: no image definition ${definitionId}; nothing to do`);
          continue;
        }
        const versions = listed.filter((v) => v.provisioningState !== 'Deleting');
        const plan = (inUse: Map<string, string[]>) =>
          planRetention({
            versions: versions.map((v) => ({
              id: v.id,
              excludeFromLatest: v.excludeFromLatest,
              ...(v.endOfLifeDate === undefined ? {} : { endOfLifeDate: v.endOfLifeDate }),
              tags: v.tags,
            })),
            policy,
            now: args.now,
            inUse,
          });
        // Only the versions the plan would delete need Resource Graph's answer.
        const deletable = plan(new Map())
          .filter((a) => a.kind === 'delete')
          .map((a) => a.id);
        const inUse =
          deletable.length === 0
            ? new Map<string, string[]>()
            : await args.azure
                .imageUsage(stage.credential)
                .usersOf({ subscriptionIds: [stage.subscriptionId], versionIds: deletable });
        entry.actions = plan(inUse);
      } catch (error) {
        const e = toError(error);
        entry.error = { code: isFactoryError(error) ? error.code : 'Unexpected', message: e.message };
        args.log(`${prefix}: not planned (${entry.error.code}): ${e.message}`);
        continue;
      }
      for (const action of entry.actions) {
        const version = versionOf(action.id);
        const line = describe(action);
        if (action.kind === 'keep' || action.kind === 'skipInUse' || args.dryRun) {
          args.log(`${prefix} ${version}: ${args.dryRun && isChange(action) ? 'would ' : ''}${line}`);
          continue;
        }
        try {
          const galleries = args.azure.galleries(stage.credential);
          if (action.kind === 'setEndOfLife')
            await galleries.updateVersion({ ...ref, version }, { endOfLifeDate: action.endOfLifeDate });
          else await galleries.deleteVersion({ ...ref, version });
          args.log(`${prefix} ${version}: ${line}`);
        } catch (error) {
          const e = toError(error);
          const code = isFactoryError(error) ? error.code : 'Unexpected';
          (entry.failed ??= []).push({ id: action.id, code, message: e.message });
          args.log(`${prefix} ${version}: failed to ${line} (${code}): ${e.message}`);
        }
      }
    }
  }
  return report;
}

const isChange = (a: RetentionAction) => a.kind === 'setEndOfLife' || a.kind === 'delete';

function describe(action: RetentionAction): string {
  switch (action.kind) {
    case 'keep':
      return `kept (${action.why})`;
    case 'setEndOfLife':
      return `set endOfLifeDate ${action.endOfLifeDate}`;
    case 'delete':
      return `delete (end of life ${action.endOfLifeDate}, grace over)`;
    case 'skipInUse':
      return `not deleted, in use by ${action.usedBy.join(', ')}`;
  }
}
