/**
 * Step 2, build: Azure VM Image Builder makes the ENG version (a fresh image template per run,
 * created, admitted by a build slot, run, waited for in a sub-orchestration, then deleted), or a VHD
 * built elsewhere is imported as the ENG version. Either way the step ends when the ENG version has
 * replicated to every ENG region (from 0.7.0 the Image Builder wait's read after the run may have
 * seen that already; else a replication wait reads until it has). Every resource is recorded in `run.created` before it is created.
 */
import type { Task } from 'durable-functions';
import {
  Activities,
  BUILD_DURATION_TAG,
  type BuildInventoryInput,
  type BuildInventoryResult,
  type ClaimBuildSlotInput,
  type HistoryInput,
  type PreflightResult,
} from '../../domain/pipeline/activities';
import { BUILD_SLOT_TAG, buildSlotKey, type SlotDecision } from '../../domain/pipeline/build-slots';
import { stagingResourceGroupIdFor } from '../../domain/pipeline/recipe';
import type { BuildHistory } from '../../domain/polling';
import type { PipelineDefinition } from '../../domain/pipeline/definition';
import { inventoryCustomizer } from '../../domain/pipeline/build-inventory';
import { sinceVersion } from '../../shared/orchestration-version';
import type { GalleryImageVersionRef, ImageTemplateRef } from '../../ports/azure';
import { BuildStopped } from './activity-calls';
import {
  createTemplate,
  deleteTemplate,
  galleryImageId,
  targetRegions,
  updateVersion,
  versionRef,
  waitForReplication,
} from './operations';
import type { BuildRun } from './run';
import {
  ENG_VERSION_PATCHED_ONCE_SINCE,
  EVENTS_BY_WAITS_SINCE,
  RUN_STARTED_WITH_ITS_SLOT_SINCE,
  STEP_CALLS_BATCHED_SINCE,
  UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE,
  WAITS_REPORT_AT_END_SINCE,
} from './release-gates';
import type { BuildEventDraft } from '../notify';
import type { StageStatus } from '../../domain/build-status';
import {
  type BuildWaitOutcome,
  WAIT_FOR_BUILD_ORCHESTRATION,
  WAIT_FOR_BUILD_SLOT_ORCHESTRATION,
  type SlotWaitOutcome,
  type WaitForBuildInput,
  type WaitForBuildSlotInput,
} from './waits';

type PipelineSource = PipelineDefinition['source'];

/** What making the ENG version gave: its id, and its regions when a read found it replicated. */
type BuiltVersion = Omit<EngVersion, 'ref'> & { replicatedRegions?: StageStatus['regions'] };

/** The ENG version the build made: its gallery reference and resource id. */
export interface EngVersion {
  ref: GalleryImageVersionRef;
  versionId: string;
  /** Tags the version gets with its PATCH after the tests (0.6.0 on: the build duration). */
  tagsAfterTests?: Record<string, string>;
}

export function* buildImage(run: BuildRun, preflight: PreflightResult): Generator<Task, EngVersion, unknown> {
  const { definition, eng } = run;
  const ref = versionRef(eng, definition.image.definition, run.imageVersion);
  run.setStage(eng.name, { state: 'running', startedAt: run.now() });
  const source = definition.source;
  // From 0.7.0 'started' (preflight passed) comes from here: the template's wait announces it.
  const started = sinceVersion(run.context, EVENTS_BY_WAITS_SINCE) ? run.eventDraft('started') : undefined;
  if (started !== undefined && source.type === 'vhd') yield* run.event('started');
  const { replicatedRegions, ...built }: BuiltVersion =
    source.type === 'vhd'
      ? { versionId: yield* importVhd(run, ref, source) }
      : yield* runImageBuilder(run, preflight, ref, source, started);
  if (replicatedRegions === undefined) yield* waitForReplication(run, eng, ref);
  else {
    // From 0.7.0 the Image Builder wait read the version once the run succeeded: replicated already.
    run.setStage(eng.name, { regions: replicatedRegions });
    run.publish();
  }
  run.setStage(eng.name, { versionId: built.versionId });
  return { ref, ...built };
}

/** A VHD built elsewhere becomes the ENG version (copied into the gallery, then replicated). */
function* importVhd(
  run: BuildRun,
  engRef: GalleryImageVersionRef,
  source: Extract<PipelineSource, { type: 'vhd' }>,
): Generator<Task, string, unknown> {
  const { definition, eng } = run;
  run.publish('build', 'importing the VHD built elsewhere as the ENG version', eng.name);
  run.created.versions.push({ stage: eng, ref: engRef });
  yield* run.call(Activities.copyImageVersion, {
    credential: eng.credential,
    spec: {
      ...engRef,
      location: definition.build.location,
      source: {
        kind: 'vhd',
        uri: source.uri,
        storageAccountId: source.storageAccountId,
      },
      targetRegions: targetRegions(eng),
      excludeFromLatest: true,
      tags: run.auditTags(),
    },
  });
  yield* waitForReplication(run, eng, engRef);
  return `${galleryImageId(eng, definition.image.definition)}/versions/${run.imageVersion}`;
}

/**
 * Template → build slot → run → wait → output → template deleted; returns the ENG version id, and
 * from 0.6.0 the build-duration tag its PATCH after the tests carries.
 */
function* runImageBuilder(
  run: BuildRun,
  preflight: PreflightResult,
  engRef: GalleryImageVersionRef,
  source: Exclude<PipelineSource, { type: 'vhd' }>,
  started: BuildEventDraft | undefined,
): Generator<Task, BuiltVersion, unknown> {
  const { context, definition, eng, input } = run;
  const templateRef: ImageTemplateRef = {
    subscriptionId: eng.subscriptionId,
    resourceGroup: definition.build.resourceGroup,
    name: preflight.templateName,
  };
  run.created.template = { ...templateRef, credential: eng.credential };
  run.created.versions.push({ stage: eng, ref: engRef });
  const slotKey = buildSlotKey(eng.subscriptionId, definition.build.location);
  // Issue 18: a gated pipeline's full inventory comes from customization.log (build-inventory.ts).
  // New actions (the read below), so only for builds started on 0.4.0 or later.
  const withInventory = definition.test.securityGate !== undefined && sinceVersion(context, '0.4.0');
  const stagingPrefix = definition.build.stagingResourceGroupPrefix;
  run.publish('build', `creating image template ${templateRef.name}`, eng.name);
  yield* createTemplate(
    run,
    {
      ...templateRef,
      location: definition.build.location,
      buildIdentityId: definition.build.identity.resourceId,
      // The template's own staging group, which Image Builder creates and deletes with it.
      ...(stagingPrefix
        ? {
            stagingResourceGroupId: stagingResourceGroupIdFor(
              eng.subscriptionId,
              stagingPrefix,
              templateRef.name,
            ),
          }
        : {}),
      vmSize: definition.build.vmSize,
      osDiskSizeGB: definition.build.osDiskSizeGB,
      buildTimeoutInMinutes: definition.build.timeoutMinutes,
      ...(definition.build.subnetId ? { subnetId: definition.build.subnetId } : {}),
      source:
        source.type === 'platformImage'
          ? {
              type: 'PlatformImage',
              publisher: source.publisher,
              offer: source.offer,
              sku: source.sku,
              version: preflight.sourceVersion || source.version,
            }
          : source.type === 'galleryImageVersion'
            ? { type: 'SharedImageVersion', imageVersionId: source.id }
            : { type: 'ManagedImage', imageId: source.id },
      customizers: withInventory
        ? [...definition.build.customizers, inventoryCustomizer(definition.image.osType)]
        : definition.build.customizers,
      distribute: {
        galleryImageVersionId: `${galleryImageId(eng, definition.image.definition)}/versions/${run.imageVersion}`,
        runOutputName: 'eng',
        targetRegions: targetRegions(eng),
        excludeFromLatest: true,
      },
      tags: {
        'imagefactory.buildId': input.buildId,
        'imagefactory.pipeline': definition.name,
        [BUILD_SLOT_TAG]: slotKey,
      },
    },
    templateRef,
    started === undefined ? undefined : { atStart: started },
  );
  // The template is this build's ticket for a build slot; it runs once the slot is granted (from
  // 0.7.0 a slot free at the first ask starts the run in the same call).
  const startedInSlot = yield* waitForBuildSlot(run, templateRef, slotKey);
  if (!startedInSlot) {
    run.publish('build', `starting Image Builder on ${templateRef.name}`, eng.name);
    yield* run.call(Activities.startImageBuild, { credential: eng.credential, ref: templateRef });
  }
  const historyInput: HistoryInput = {
    credential: eng.credential,
    image: {
      subscriptionId: eng.subscriptionId,
      resourceGroup: eng.gallery.resourceGroup,
      gallery: eng.gallery.name,
      image: definition.image.definition,
    },
  };
  // From 0.5.0 the wait loads the history it polls by and reads the run's output itself.
  const waitDoesMore = sinceVersion(context, STEP_CALLS_BATCHED_SINCE);
  const history = waitDoesMore
    ? undefined
    : yield* run.call<BuildHistory | null>(Activities.loadBuildHistory, historyInput);
  run.publish('build', 'Image Builder is building', eng.name);
  const runStarted = run.nowMs();
  const wait = context.df.callSubOrchestrator(
    WAIT_FOR_BUILD_ORCHESTRATION,
    {
      credential: eng.credential,
      ref: templateRef,
      runStartedMs: runStarted,
      timeoutMs: (definition.build.timeoutMinutes + 30) * 60_000,
      expectedMs: definition.build.expectedMinutes * 60_000,
      ...(history === undefined ? { historyOf: historyInput } : { history }),
      polls: 0,
      ...(waitDoesMore ? { runOutputName: 'eng' } : {}),
      ...(sinceVersion(context, WAITS_REPORT_AT_END_SINCE) ? { outputVersion: engRef } : {}),
    } satisfies WaitForBuildInput,
    `${input.buildId}:build`,
  );
  const winner = yield context.df.Task.any([wait, run.cancel]);
  if (winner === run.cancel) {
    // The run itself is cancelled here; compensation waits for it to end before deleting the template.
    yield* run.call(Activities.cancelImageBuild, { credential: eng.credential, ref: templateRef });
    throw run.cancelled();
  }
  const outcome = wait.result as BuildWaitOutcome;
  if (outcome.error)
    throw new BuildStopped('failed', {
      code: outcome.error.code,
      message: `${outcome.error.activity ?? Activities.getImageBuildStatus}: ${outcome.error.message}`,
      step: 'build',
      stage: eng.name,
      ...(outcome.error.hint ? { hint: outcome.error.hint } : {}),
    });
  const buildDurationMs = run.nowMs() - runStarted;
  if (outcome.runState !== 'Succeeded') {
    const log = yield* readLogExcerpt(run, eng.credential, templateRef);
    throw new BuildStopped('failed', {
      code: outcome.exists ? 'BuildFailed' : 'TemplateMissing',
      message: `Image Builder run ${outcome.runState ?? 'did not finish'}${outcome.runSubState ? ` at ${outcome.runSubState}` : ''}: ${outcome.message ?? outcome.provisioningError ?? 'no message'}`,
      step: 'build',
      stage: eng.name,
      ...(outcome.runSubState ? { runSubState: outcome.runSubState } : {}),
      ...('excerpt' in log ? { logExcerpt: log.excerpt } : {}),
      ...('unreadable' in log ? { hint: `customization.log could not be read (${log.unreadable})` } : {}),
    });
  }
  const engVersionId =
    outcome.outputVersionId ??
    (yield* run.call<string>(Activities.getImageBuildOutput, {
      credential: eng.credential,
      ref: templateRef,
      runOutputName: 'eng',
    }));
  if (withInventory) {
    // Before the template goes: its staging group (with the log) is deleted with it.
    const inventory = yield* readInventory(run, {
      credential: eng.credential,
      ref: templateRef,
      osType: definition.image.osType,
      subject: {
        buildId: input.buildId,
        imageVersion: run.imageVersion,
        pipeline: definition.name,
        timestamp: run.now(),
      },
    });
    // Only the count in the status: the SBOM stays in the activity's recorded result.
    run.publish(
      'build',
      'unavailable' in inventory
        ? `software inventory not in customization.log (${inventory.unavailable}); the security gate's list will be the SBOM`
        : `software inventory read from customization.log: ${inventory.packages} packages`,
      eng.name,
    );
  }
  run.publish('build', `Image Builder finished; deleting image template ${templateRef.name}`, eng.name);
  yield* deleteTemplate(run, eng.credential, templateRef);
  run.created.template = undefined;
  const durationTag = { [BUILD_DURATION_TAG]: String(buildDurationMs) };
  // From 0.6.0 the tag goes with the version's one PATCH after its tests (release-gates.ts).
  if (sinceVersion(context, ENG_VERSION_PATCHED_ONCE_SINCE))
    return {
      versionId: engVersionId,
      tagsAfterTests: durationTag,
      ...(outcome.outputRegions === undefined ? {} : { replicatedRegions: outcome.outputRegions }),
    };
  yield* updateVersion(run, eng.credential, engRef, { tags: durationTag });
  return { versionId: engVersionId };
}

/**
 * Waits for a build slot of the ENG subscription and build region (see build-slots.ts). True when
 * the first ask found the slot free and started the run with it (0.7.0 on).
 */
function* waitForBuildSlot(
  run: BuildRun,
  templateRef: ImageTemplateRef,
  slotKey: string,
): Generator<Task, boolean, unknown> {
  const { context, definition, eng } = run;
  const claim: ClaimBuildSlotInput = {
    credential: eng.credential,
    scope: { subscriptionId: templateRef.subscriptionId, resourceGroup: templateRef.resourceGroup },
    slotKey,
    templateName: templateRef.name,
  };
  const startsRun = sinceVersion(context, RUN_STARTED_WITH_ITS_SLOT_SINCE);
  if (startsRun)
    run.publish('build', `starting Image Builder on ${templateRef.name} when a build slot is free`, eng.name);
  const slot = yield* run.call<SlotDecision>(
    startsRun ? Activities.startImageBuildInFreeSlot : Activities.claimBuildSlot,
    claim,
  );
  if (slot.granted) return startsRun;
  run.publish(
    'waitingForBuildSlot',
    `waiting for a build slot in ${definition.build.location} (subscription ${eng.subscriptionId}): ${slot.running + slot.ahead} build(s) ahead for ${slot.limit} slot(s)`,
    eng.name,
  );
  const id = run.nextWaitId('slot');
  const began = run.nowMs();
  const wait = context.df.callSubOrchestrator(
    WAIT_FOR_BUILD_SLOT_ORCHESTRATION,
    { claim, startedMs: began, polls: 0 } satisfies WaitForBuildSlotInput,
    id,
  );
  yield* run.raceCancel(wait);
  const outcome = wait.result as SlotWaitOutcome;
  if (outcome.error)
    throw new BuildStopped('failed', {
      code: outcome.error.code,
      message: `${Activities.claimBuildSlot}: ${outcome.error.message}`,
      step: 'waitingForBuildSlot',
      stage: eng.name,
      ...(outcome.error.hint ? { hint: outcome.error.hint } : {}),
    });
  if (!outcome.granted)
    throw new BuildStopped('failed', {
      code: 'TemplateMissing',
      message: `image template ${templateRef.name} disappeared while waiting for a build slot`,
      step: 'waitingForBuildSlot',
      stage: eng.name,
    });
  return false;
}

/**
 * The tail of customization.log for a run that did not succeed. A log that cannot be read (no
 * access to the staging account, storage unreachable after the retries) does not hide why the run
 * failed: the build still fails BuildFailed, saying why the excerpt is missing. A cancel still stops.
 */
function* readLogExcerpt(
  run: BuildRun,
  credential: string,
  ref: ImageTemplateRef,
): Generator<Task, { excerpt: string } | { unreadable: string } | { none: true }, unknown> {
  const read = yield* run.callOrFailure<string | null>(Activities.readBuildLog, { credential, ref });
  if ('failure' in read) return { unreadable: `${read.failure.code}: ${read.failure.message}` };
  return read.value ? { excerpt: read.value } : { none: true };
}

/**
 * The build inventory from customization.log. From 0.9.0 a log that stays unreachable through the
 * host's retries makes the inventory unavailable, as a refused read does (the activity returns that
 * itself), instead of failing the build (UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE).
 */
function* readInventory(
  run: BuildRun,
  activityInput: BuildInventoryInput,
): Generator<Task, BuildInventoryResult, unknown> {
  if (!sinceVersion(run.context, UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE))
    return yield* run.call<BuildInventoryResult>(Activities.readBuildInventory, activityInput);
  const read = yield* run.callOrFailure<BuildInventoryResult>(Activities.readBuildInventory, activityInput);
  if ('failure' in read) return { unavailable: `customization.log could not be read: ${read.failure.code}` };
  return read.value;
}
