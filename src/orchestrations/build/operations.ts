/**
 * The Azure operations several steps share, each "start it, then wait until Azure says it is done"
 * (the activity returns once ARM accepted the request; the wait reads the resource on durable timers
 * in a sub-orchestration): image template create/delete, image version update/delete, test VM
 * teardown, and waiting for a version's replication. Also the resource ids the steps compute.
 */
import type { Task } from 'durable-functions';
import { Activities, type BuildStatus, type TestVmTeardown } from '../../domain/pipeline/activities';
import type { PipelineStage } from '../../domain/pipeline/definition';
import type { GalleryImageVersionRef, ImageTemplateRef, TargetRegion, VmRef } from '../../ports/azure';
import type { PollTiming } from '../await-done';
import { BuildStopped, callAzure } from './activity-calls';
import { laterAnnouncements, type Announcements } from '../notify';
import type { BuildRun } from './run';
import { sinceVersion } from '../../shared/orchestration-version';
import {
  STEP_CALLS_BATCHED_SINCE,
  TEMPLATE_CREATED_BY_ITS_WAIT_SINCE,
  WAITS_START_OPERATIONS_SINCE,
} from './release-gates';
import {
  WAIT_FOR_REPLICATION_ORCHESTRATION,
  type ReplicationOutcome,
  type WaitForReplicationInput,
} from './waits';

/**
 * How the orchestration waits for Azure's long-running operations (started by an activity that
 * returns once ARM accepted them): the first read where the operation usually ends (never sooner
 * than Azure's Retry-After), then at the Retry-After pace, within `withinMs`. Durations and
 * Retry-After from recorded traffic (src/local/azure-sim/lro.ts).
 */
export const LRO_WAITS = {
  templateCreate: { firstPollMs: 30_000, pollMs: 15_000, withinMs: 30 * 60_000 }, // ~30 s
  templateDelete: { firstPollMs: 75_000, pollMs: 20_000, withinMs: 30 * 60_000 }, // ~77 s
  vmCreate: { firstPollMs: 2 * 60_000, pollMs: 15_000, withinMs: 30 * 60_000 }, // ~2 min, Retry-After 10–30 s
  vmDelete: { firstPollMs: 60_000, pollMs: 15_000, withinMs: 30 * 60_000 }, // VM ~1 min, then NIC (Retry-After 10 s) and disk
  versionUpdate: { firstPollMs: 3 * 60_000, pollMs: 60_000, withinMs: 60 * 60_000 }, // ~3 min, Retry-After 60 s
  versionDelete: { firstPollMs: 90_000, pollMs: 60_000, withinMs: 30 * 60_000 }, // ~1.5 min, Retry-After 60 s
  /** A test script runs up to its timeout (90 min allowed): 30 s growing to 5 min between reads. */
  runCommand: { pollMs: 30_000, backoff: 1.5, maxPollMs: 5 * 60_000, withinMs: 15 * 60_000 },
} as const satisfies Record<string, Omit<PollTiming, 'deadlineMs'> & { withinMs: number }>;

/** After a cancel, how often and how long the cleanup waits for the run to leave Canceling. */
const CANCEL_POLL_MS = 60_000;
const CANCEL_WAIT_MAX_MS = 60 * 60_000;
/** How long a version may take to replicate to every region of a stage. */
const REPLICATION_WITHIN_MS = 6 * 60 * 60 * 1000;

const rgId = (subscriptionId: string, resourceGroup: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
export const galleryImageId = (stage: PipelineStage, image: string) =>
  `${rgId(stage.subscriptionId, stage.gallery.resourceGroup)}/providers/Microsoft.Compute/galleries/${stage.gallery.name}/images/${image}`;
export const targetRegions = (stage: PipelineStage): TargetRegion[] =>
  stage.regions.map((r) => ({
    name: r.name,
    replicaCount: r.replicas,
    storageAccountType: r.storageAccountType,
  }));
export const versionRef = (stage: PipelineStage, image: string, version: string): GalleryImageVersionRef => ({
  subscriptionId: stage.subscriptionId,
  resourceGroup: stage.gallery.resourceGroup,
  gallery: stage.gallery.name,
  image,
  version,
});

/** Creates the template (the activity returns once ARM accepted it) and waits until it is provisioned. */
export function* createTemplate(
  run: BuildRun,
  spec: unknown,
  ref: ImageTemplateRef,
  announce?: Announcements,
): Generator<Task, void, unknown> {
  const start = { activity: Activities.createImageTemplate, input: { credential: run.eng.credential, spec } };
  // From 0.7.0 the wait sends the PUT and a cancel does not cut it short (release-gates.ts).
  const byWait = sinceVersion(run.context, TEMPLATE_CREATED_BY_ITS_WAIT_SINCE);
  if (!byWait) yield* run.call(start.activity, start.input);
  yield* run.untilDone(
    `provision image template ${ref.name}`,
    Activities.getImageTemplateProvisioning,
    { credential: run.eng.credential, ref },
    'templateProvisioned',
    LRO_WAITS.templateCreate,
    byWait ? { cancellable: false, start, ...(announce === undefined ? {} : { announce }) } : {},
  );
  if (byWait) run.stopIfCancelled();
}

export function* deleteTemplate(
  run: BuildRun,
  credential: string,
  ref: ImageTemplateRef,
): Generator<Task, void, unknown> {
  const start = { activity: Activities.deleteImageTemplate, input: { credential, ref } };
  // From 0.5.0 the wait starts the delete itself: nothing cancels it, so nothing can come between.
  const startedByWait = sinceVersion(run.context, STEP_CALLS_BATCHED_SINCE);
  if (!startedByWait) yield* run.call(start.activity, start.input);
  yield* run.untilDone(
    `delete image template ${ref.name}`,
    Activities.getImageBuildStatus,
    { credential, ref },
    'templateGone',
    LRO_WAITS.templateDelete,
    { cancellable: false, ...(startedByWait ? { start } : {}) },
  );
}

export function* updateVersion(
  run: BuildRun,
  credential: string,
  ref: GalleryImageVersionRef,
  patch: Record<string, unknown>,
  announce?: Announcements,
): Generator<Task, void, unknown> {
  const start = { activity: Activities.updateImageVersion, input: { credential, ref, patch } };
  // From 0.6.0 the wait sends the PATCH itself: a PATCH creates nothing a cancel could leave behind.
  const startedByWait = sinceVersion(run.context, WAITS_START_OPERATIONS_SINCE);
  if (!startedByWait) yield* run.call(start.activity, start.input);
  yield* run.untilDone(
    `update image version ${ref.version}`,
    Activities.getImageVersion,
    { credential, ref },
    'versionUpdated',
    LRO_WAITS.versionUpdate,
    { ...(startedByWait ? { start } : {}), ...(announce === undefined ? {} : { announce }) },
  );
}

export function* deleteVersion(
  run: BuildRun,
  credential: string,
  ref: GalleryImageVersionRef,
  onlyIfBuildId: string,
): Generator<Task, void, unknown> {
  const deleting = yield* run.call<boolean>(Activities.deleteImageVersion, {
    credential,
    ref,
    onlyIfBuildId,
  });
  if (!deleting) return;
  yield* run.untilDone(
    `delete image version ${ref.version}`,
    Activities.getImageVersion,
    { credential, ref },
    'versionGone',
    LRO_WAITS.versionDelete,
    { cancellable: false },
  );
}

/** Tears a test VM down (VM, then NIC and disk), waiting until nothing is left. */
export function* deleteTestVm(
  run: BuildRun,
  vm: VmRef & { credential: string },
): Generator<Task, void, unknown> {
  const teardown = {
    credential: vm.credential,
    ref: { subscriptionId: vm.subscriptionId, resourceGroup: vm.resourceGroup, name: vm.name },
  };
  // The teardown activity starts only deletes not yet running, so it is also the read. From 0.6.0 the
  // wait makes the first call too, at once (readFirst); before, the build made it and waited only
  // when something remained. Either way a failed VM create's NIC that Azure still reserves
  // (NicReservedForAnotherVm, with the time to wait) is waited out: by run.call, or by the wait.
  const whollyInWait = sinceVersion(run.context, WAITS_START_OPERATIONS_SINCE);
  if (!whollyInWait) {
    const first = yield* run.call<TestVmTeardown>(Activities.deleteTestVm, teardown);
    if (first.remaining.length === 0) return;
  }
  yield* run.untilDone(
    `delete test VM ${vm.name}`,
    Activities.deleteTestVm,
    teardown,
    'testVmGone',
    LRO_WAITS.vmDelete,
    { cancellable: false, ...(whollyInWait ? { readFirst: true } : {}) },
  );
}

/**
 * Image Builder refuses to delete a template whose run is Running or Canceling ("…delete is not
 * allowed in provisioning state: provisioned or run state: canceling": danielsollondon/azvmimagebuilder
 * #48, #79): after a cancel, the cleanup polls on durable timers until the run has ended (bounded;
 * a read failure or the bound lets the delete try anyway and report what it could not do).
 */
export function* waitForRunToEnd(
  run: BuildRun,
  ref: ImageTemplateRef,
  credential: string,
): Generator<Task, void, unknown> {
  const until = run.nowMs() + CANCEL_WAIT_MAX_MS;
  for (;;) {
    let state: string | undefined;
    try {
      state = (yield* callAzure<BuildStatus>(run.context, Activities.getImageBuildStatus, {
        credential,
        ref,
      })).runState;
    } catch {
      return;
    }
    if (state !== 'Running' && state !== 'Canceling') return;
    if (run.nowMs() >= until) return;
    run.publish(
      run.status.step,
      `waiting for Image Builder to finish canceling ${ref.name} before deleting it`,
    );
    yield run.context.df.createTimer(new Date(run.nowMs() + CANCEL_POLL_MS));
  }
}

/** Waits in a sub-orchestration, so this history stays small however long replication takes. */
export function* waitForReplication(
  run: BuildRun,
  stage: PipelineStage,
  ref: GalleryImageVersionRef,
  announce?: Announcements,
): Generator<Task, void, unknown> {
  const began = run.nowMs();
  // From 0.5.0 the wait comes back after its first read and at the end only; the API shows its own
  // status (every read's per-region progress) meanwhile, through the pointer in the stage.
  const live = sinceVersion(run.context, STEP_CALLS_BATCHED_SINCE);
  let progress: Pick<WaitForReplicationInput, 'polls' | 'regions'> = { polls: 0 };
  for (;;) {
    const waitId = run.nextWaitId('replication');
    const wait = run.context.df.callSubOrchestrator(
      WAIT_FOR_REPLICATION_ORCHESTRATION,
      {
        credential: stage.credential,
        ref,
        stageName: stage.name,
        startedMs: began,
        deadlineMs: began + REPLICATION_WITHIN_MS,
        ...progress,
        // The start's event with the first wait only; the end's with each (one of them ends it).
        ...(progress.regions !== undefined
          ? laterAnnouncements(announce)
          : announce === undefined
            ? {}
            : { announce }),
      } satisfies WaitForReplicationInput,
      waitId,
    );
    if (live) {
      run.setStage(stage.name, { replicationWait: waitId });
      run.publish();
    }
    try {
      yield* run.raceCancel(wait);
    } finally {
      delete run.stage(stage.name).replicationWait;
    }
    const outcome = wait.result as ReplicationOutcome;
    // Per-region progress in the build's own status, as the wait reports it.
    run.setStage(stage.name, { regions: outcome.regions });
    run.publish();
    if (outcome.state === 'InProgress') {
      progress = { polls: outcome.polls, regions: outcome.regions };
      continue;
    }
    if (outcome.state === 'Completed') return;
    throw new BuildStopped('failed', {
      code:
        outcome.state === 'Missing'
          ? 'VersionMissing'
          : outcome.state === 'TimedOut'
            ? 'ReplicationTimedOut'
            : 'ReplicationFailed',
      message: `replication of ${ref.version} to ${stage.name}: ${outcome.message}`,
      step: 'promote',
      stage: stage.name,
    });
  }
}
