/**
 * What the patch-cadence timer does on each fire: for every pipeline with a cadence, find the
 * current slot; start its build under the slot's instance id unless that build exists already
 * (double or past-due fire, restart) or nothing changed since the last successful build
 * (onlyWhenChanged). One pipeline's trouble (an unreadable source, a refused start) is recorded
 * and the others are still handled. Every decision is logged with its reason and returned.
 */
import type { BuildsClient } from '../api/builds-api';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../domain/build-status';
import { definitionDigest } from '../domain/pipeline/admission';
import { instanceIdForSlot, shouldBuild, slotFor } from '../domain/cadence';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import { recipeHash } from '../domain/pipeline/recipe';
import { toError } from '../shared/errors';

export interface CadenceDecision {
  pipeline: string;
  slot: string;
  instanceId: string;
  action: 'started' | 'skipped' | 'failed';
  reason: string;
}

export const EXISTS_REASON = 'the build for this slot exists already';
export const CONCURRENT_REASON = 'the build for this slot was started by a concurrent fire';

export async function runCadence(args: {
  now: Date;
  pipelines: Iterable<PipelineDefinition>;
  client: BuildsClient;
  /** The exact source version a build would use now (src/cadence-runner/source-version.ts). */
  currentSourceVersion: (pipeline: PipelineDefinition) => Promise<string>;
  log: (line: string) => void;
}): Promise<CadenceDecision[]> {
  const decisions: CadenceDecision[] = [];
  const withCadence = [...args.pipelines].filter((p) => p.cadence !== undefined);
  if (withCadence.length === 0) {
    args.log('cadence: no pipeline has a cadence');
    return decisions;
  }
  const finished = (await args.client.list(['Completed'])).filter((i) => i.name === BUILD_ORCHESTRATION);
  for (const pipeline of withCadence) {
    const cadence = pipeline.cadence!;
    let slot = '';
    let instanceId = '';
    const decide = (action: CadenceDecision['action'], reason: string) => {
      decisions.push({ pipeline: pipeline.name, slot, instanceId, action, reason });
      args.log(`cadence ${pipeline.name} slot ${slot || '?'}: ${action} (${reason})`);
    };
    try {
      slot = slotFor(cadence, args.now);
      instanceId = instanceIdForSlot(pipeline.name, slot);
      if (await args.client.getStatus(instanceId)) {
        decide('skipped', EXISTS_REASON);
        continue;
      }
      const last = finished
        .map((i) => i.customStatus as BuildCustomStatus | null)
        .filter((s): s is BuildCustomStatus => s?.pipeline === pipeline.name && s.outcome === 'succeeded')
        .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
      const verdict = shouldBuild({
        onlyWhenChanged: cadence.onlyWhenChanged,
        ...(last
          ? {
              lastSuccessful: {
                sourceVersion: last.sourceImageVersion ?? '',
                recipeHash: last.recipeHash ?? '',
              },
            }
          : {}),
        currentSourceVersion: cadence.onlyWhenChanged ? await args.currentSourceVersion(pipeline) : '',
        currentRecipeHash: recipeHash(pipeline),
      });
      if (!verdict.build) {
        decide('skipped', verdict.reason);
        continue;
      }
      try {
        await args.client.startNew(BUILD_ORCHESTRATION, instanceId, {
          buildId: instanceId,
          pipeline: pipeline.name,
          definitionDigest: definitionDigest(pipeline),
          reason: `patch cadence slot ${slot}: ${verdict.reason}`,
          requestedBy: 'patch-cadence',
        });
      } catch (error) {
        // Another fire for the same slot got there between our look and our start.
        if (await args.client.getStatus(instanceId)) {
          decide('skipped', CONCURRENT_REASON);
          continue;
        }
        throw error;
      }
      decide('started', verdict.reason);
    } catch (error) {
      decide('failed', toError(error).message.split('\n')[0]?.slice(0, 300) ?? 'unknown error');
    }
  }
  const count = (action: CadenceDecision['action']) => decisions.filter((d) => d.action === action).length;
  args.log(
    `cadence at ${args.now.toISOString()}: ${count('started')} started, ${count('skipped')} skipped, ${count('failed')} failed`,
  );
  return decisions;
}
