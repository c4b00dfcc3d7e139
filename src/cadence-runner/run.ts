/**
 * What the patch-cadence timer does on each fire: for every pipeline with a cadence, find the
 * current slot; start its build under the slot's instance id unless that build exists already
 * (double or past-due fire) or nothing changed since the last successful build (onlyWhenChanged).
 */
import type { BuildsClient } from '../api/builds-api';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../domain/build-status';
import { instanceIdForSlot, shouldBuild, slotFor } from '../domain/cadence';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import { recipeHash } from '../domain/pipeline/recipe';

export interface CadenceDecision {
  pipeline: string;
  slot: string;
  instanceId: string;
  action: 'started' | 'skipped';
  reason: string;
}

export async function runCadence(args: {
  now: Date;
  pipelines: Iterable<PipelineDefinition>;
  client: BuildsClient;
  /** The exact source version a build would use now (e.g. the newest platform image version). */
  currentSourceVersion: (pipeline: PipelineDefinition) => Promise<string>;
  log: (line: string) => void;
}): Promise<CadenceDecision[]> {
  const decisions: CadenceDecision[] = [];
  const finished = (await args.client.list(['Completed'])).filter((i) => i.name === BUILD_ORCHESTRATION);
  for (const pipeline of args.pipelines) {
    if (!pipeline.cadence) continue;
    const slot = slotFor(pipeline.cadence, args.now);
    const instanceId = instanceIdForSlot(pipeline.name, slot);
    const decide = (action: CadenceDecision['action'], reason: string) => {
      decisions.push({ pipeline: pipeline.name, slot, instanceId, action, reason });
      args.log(`cadence ${pipeline.name} slot ${slot}: ${action} (${reason})`);
    };
    if (await args.client.getStatus(instanceId)) {
      decide('skipped', 'the build for this slot exists already');
      continue;
    }
    const last = finished
      .map((i) => i.customStatus as BuildCustomStatus | null)
      .filter((s): s is BuildCustomStatus => s?.pipeline === pipeline.name && s.outcome === 'succeeded')
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
    const current = {
      sourceVersion: await args.currentSourceVersion(pipeline),
      recipeHash: recipeHash(pipeline),
    };
    const verdict = shouldBuild({
      onlyWhenChanged: pipeline.cadence.onlyWhenChanged,
      ...(last
        ? {
            lastSuccessful: {
              sourceVersion: last.sourceImageVersion ?? '',
              recipeHash: last.recipeHash ?? '',
            },
          }
        : {}),
      currentSourceVersion: current.sourceVersion,
      currentRecipeHash: current.recipeHash,
    });
    if (!verdict.build) {
      decide('skipped', verdict.reason);
      continue;
    }
    await args.client.startNew(BUILD_ORCHESTRATION, instanceId, {
      buildId: instanceId,
      pipeline,
      reason: `patch cadence: ${verdict.reason}`,
      requestedBy: 'patch-cadence',
    });
    decide('started', verdict.reason);
  }
  return decisions;
}
