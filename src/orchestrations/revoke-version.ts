/**
 * Revokes a bad image version everywhere it went: in every stage's gallery where it exists, it is
 * excluded from latest, its end of life set to now, and tagged with the reason and the requester.
 * Idempotent: running it again changes nothing that is already revoked.
 * Like a build, it acts only on a definition the factory serves: its input names the pipeline and
 * the digest of its definition, and its first step is the admission activity (issue 14: whoever
 * can start an orchestration through the Durable API must not bring galleries of their own).
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import { Activities, type VersionInfo } from '../domain/pipeline/activities';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import { ADMIT_BUILD_ACTIVITY } from '../domain/pipeline/admission';
import { callAzure } from './build/activity-calls';
import { LRO_WAITS } from './build/operations';
import { awaitDone, JUDGES, timingForRelease } from './await-done';
import { notify } from './notify';

export interface RevokeInput {
  /** The served pipeline's name and the sha256 of its definition (domain/pipeline/admission.ts). */
  pipeline: string;
  definitionDigest: string;
  version: string;
  reason: string;
  requestedBy: string;
}

export interface RevokeResult {
  version: string;
  stages: { stage: string; result: 'revoked' | 'not present' }[];
}

export function* revokeImageVersion(context: OrchestrationContext): Generator<Task, RevokeResult, unknown> {
  const input = context.df.getInput<RevokeInput>();
  const now = context.df.currentUtcDateTime.toISOString();
  const result: RevokeResult = { version: input.version, stages: [] };
  // A refusal (unknown pipeline, digest mismatch, inline definition) comes back as ActivityRefused
  // and fails the revocation before any gallery call.
  const pipeline = yield* callAzure<PipelineDefinition>(context, ADMIT_BUILD_ACTIVITY, {
    buildId: context.df.instanceId,
    pipeline: input.pipeline,
    definitionDigest: input.definitionDigest,
  });
  for (const stage of pipeline.stages) {
    const ref = {
      subscriptionId: stage.subscriptionId,
      resourceGroup: stage.gallery.resourceGroup,
      gallery: stage.gallery.name,
      image: pipeline.image.definition,
      version: input.version,
    };
    const info = yield* callAzure<VersionInfo>(context, Activities.getImageVersion, {
      credential: stage.credential,
      ref,
    });
    if (info === null) {
      result.stages.push({ stage: stage.name, result: 'not present' });
    } else {
      yield* callAzure(context, Activities.updateImageVersion, {
        credential: stage.credential,
        ref,
        patch: {
          excludeFromLatest: true,
          // Now, unless it already ended earlier: a revoke never extends a version's life.
          endOfLifeDate:
            info.endOfLifeDate !== undefined && Date.parse(info.endOfLifeDate) < Date.parse(now)
              ? info.endOfLifeDate
              : now,
          tags: {
            'imagefactory.revoked': input.reason.slice(0, 256),
            'imagefactory.revokedBy': input.requestedBy.slice(0, 256),
          },
        },
      });
      // The PATCH was only accepted (~3 min in Azure): read the version until it is no longer Updating.
      const what = `revoke ${input.version} in ${stage.name}`;
      yield* awaitDone({
        ...timingForRelease(context, LRO_WAITS.versionUpdate),
        deadlineMs: context.df.currentUtcDateTime.getTime() + LRO_WAITS.versionUpdate.withinMs,
        read: () =>
          callAzure<VersionInfo>(context, Activities.getImageVersion, { credential: stage.credential, ref }),
        judge: JUDGES.versionUpdated,
        now: () => context.df.currentUtcDateTime.getTime(),
        sleep: function* (ms: number) {
          yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + ms));
        },
        failed: (why) => new Error(`${what}: ${why}`),
        timedOut: (last) => new Error(`${what}: still ${last} after the PATCH`),
      });
      result.stages.push({ stage: stage.name, result: 'revoked' });
      // docs/notifications.md: the revoke's instance id stands for the build id (one event per stage).
      yield* notify(context, {
        kind: 'revoked',
        buildId: context.df.instanceId,
        pipeline: pipeline.name,
        imageVersion: input.version,
        stage: stage.name,
        message: `${input.reason} (by ${input.requestedBy})`,
      });
    }
    context.df.setCustomStatus(result);
  }
  return result;
}
