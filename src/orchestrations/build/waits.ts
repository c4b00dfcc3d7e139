/**
 * The build's polling sub-orchestrations: each reads one thing on durable timers until it has
 * something to tell the build, continuing as new every few polls so its history (and so each replay)
 * stays short and the build's own history grows by one sub-orchestration per wait.
 * waitForImageBuild: the Image Builder run (adaptive delays, src/domain/polling; from 0.5.0 it also
 * loads the history those delays go by and reads the run's output, calls the build made itself
 * before; from 0.7.0 it also reads the output version once, so a version the run left replicated
 * needs no replication wait); waitForVersionReplication: a version's per-region replication; waitForBuildSlot: a build
 * slot of the subscription and region (build-slots.ts).
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import {
  Activities,
  type BuildOutputInput,
  type BuildStatus,
  type ClaimBuildSlotInput,
  type HistoryInput,
  type VersionInfo,
} from '../../domain/pipeline/activities';
import type { GalleryImageVersionRef, ImageTemplateRef } from '../../ports/azure';
import { BUILD_SLOT_POLL_MS, slotPollDelayMs, type SlotDecision } from '../../domain/pipeline/build-slots';
import {
  DEFAULT_BUILD_POLL_DEFAULTS,
  DEFAULT_REPLICATION_POLL_DEFAULTS,
  LEGACY_BUILD_READ_COST_MS,
  nextPollDelayMs,
  nextReplicationPollDelayMs,
  type BuildHistory,
} from '../../domain/polling';
import { sinceVersion } from '../../shared/orchestration-version';
import { callAzure, failureOf, poll } from './activity-calls';
import {
  SHORT_REPLICATION_GENERATIONS_SINCE,
  STEP_CALLS_BATCHED_SINCE,
  WAITS_REPORT_AT_END_SINCE,
} from './release-gates';
import { laterAnnouncements, notify, type Announcements } from '../notify';

export const WAIT_FOR_BUILD_ORCHESTRATION = 'waitForImageBuild';
export const WAIT_FOR_REPLICATION_ORCHESTRATION = 'waitForVersionReplication';
export const WAIT_FOR_BUILD_SLOT_ORCHESTRATION = 'waitForBuildSlot';
/**
 * Polls per generation of a waiting sub-orchestration before it continues as new (bounded history,
 * cheap replays), for builds started before factory 0.2.0.
 */
export const POLLS_PER_GENERATION = 8;
/**
 * From factory 0.2.0 on (issue 16, P1): every episode replays its generation's polls, and each
 * replayed poll costs a timer and a read again, so three polls per generation replay far less than
 * eight for the one more start episode every three polls. A change of the sequence of actions:
 * builds of older versions keep eight (docs/runbook.md, "Release").
 */
export const SHORT_GENERATIONS_SINCE = '0.2.0';
export const POLLS_PER_SHORT_GENERATION = 3;

/** Polls per generation for this instance's version (a sub-orchestration is stamped with the host's defaultVersion when created). */
export function pollsPerGeneration(context: OrchestrationContext): number {
  return sinceVersion(context, SHORT_GENERATIONS_SINCE) ? POLLS_PER_SHORT_GENERATION : POLLS_PER_GENERATION;
}

/**
 * From factory 0.4.0 on (issue 16, P1) a read of the Image Builder run is worth 6 s of detection lag
 * (DEFAULT_BUILD_POLL_DEFAULTS) instead of 1.5 s: about half the reads, timers at other times.
 * Builds of older versions keep their timers (docs/runbook.md, "Release").
 */
export const BUILD_READ_COST_SINCE = '0.4.0';

export interface WaitForBuildInput {
  credential: string;
  ref: ImageTemplateRef;
  runStartedMs: number;
  timeoutMs: number;
  expectedMs: number;
  /** Past runs' durations (null: too few); absent until loaded from `historyOf` (0.5.0 on). */
  history?: BuildHistory | null;
  /** Where the first generation loads the history from (0.5.0 on: the build no longer does). */
  historyOf?: HistoryInput;
  /** The run output whose artifact the wait reads once the run succeeded (0.5.0 on). */
  runOutputName?: string;
  /** The version the run outputs, read once after the output (0.7.0 on): replicated already? */
  outputVersion?: GalleryImageVersionRef;
  polls: number;
  subState?: { name: string; seenAtMs: number; notSeenAtMs?: number };
}

/** What the wait ends with: the run's last status, its output on success, or what it could not read. */
export type BuildWaitOutcome = Omit<BuildStatus, 'error'> & {
  /** The run output's artifact id (the ENG version), when `runOutputName` was given and the run succeeded. */
  outputVersionId?: string;
  /**
   * The output version's regions, when the read after the output (`outputVersion`) found it
   * replicated to every one of them; absent otherwise (the build then waits for replication).
   */
  outputRegions?: ReplicationOutcome['regions'];
  error?: NonNullable<BuildStatus['error']> & {
    /** The activity that failed, when not getImageBuildStatus. */
    activity?: string;
  };
};

/** Polls the run on durable timers; continues as new every few polls so history stays bounded. */
export function* waitForImageBuild(
  context: OrchestrationContext,
): Generator<Task, BuildWaitOutcome, unknown> {
  const input = context.df.getInput<WaitForBuildInput>();
  const perGeneration = pollsPerGeneration(context);
  let subState = input.subState;
  let history = input.history;
  if (history === undefined && input.historyOf !== undefined) {
    try {
      history = yield* callAzure<BuildHistory | null>(context, Activities.loadBuildHistory, input.historyOf);
    } catch (error) {
      return { exists: true, error: { ...failureOf(error), activity: Activities.loadBuildHistory } };
    }
  }
  for (let polls = input.polls; ; polls++) {
    const elapsedMs = context.df.currentUtcDateTime.getTime() - input.runStartedMs;
    if (polls - input.polls >= perGeneration) {
      context.df.continueAsNew({
        ...input,
        polls,
        ...(history === undefined ? {} : { history }),
        ...(subState ? { subState } : {}),
      });
      return { exists: true };
    }
    const delay = nextPollDelayMs({
      elapsedMs,
      ...(subState
        ? {
            runSubState: subState.name,
            subStateSeenAtMs: subState.seenAtMs,
            ...(subState.notSeenAtMs !== undefined ? { subStateNotSeenAtMs: subState.notSeenAtMs } : {}),
          }
        : {}),
      history: history ?? undefined,
      defaults: {
        ...DEFAULT_BUILD_POLL_DEFAULTS,
        ...(sinceVersion(context, BUILD_READ_COST_SINCE) ? {} : { readCostMs: LEGACY_BUILD_READ_COST_MS }),
        priorP50Ms: input.expectedMs,
        priorP90Ms: input.expectedMs * 2,
      },
    });
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay));
    const polled = yield* poll<BuildStatus>(context, Activities.getImageBuildStatus, {
      credential: input.credential,
      ref: input.ref,
    });
    if (polled === undefined) continue;
    if ('refused' in polled) return { exists: true, error: polled.refused };
    const status = polled.value;
    const now = context.df.currentUtcDateTime.getTime() - input.runStartedMs;
    if (!status.exists) return status;
    if (status.provisioningState === 'Failed') return status;
    // Canceling is not an end: the run is still tearing down (and its template cannot be deleted yet).
    if (status.runState && !['Running', 'NotStarted', 'Canceling'].includes(status.runState)) {
      if (status.runState !== 'Succeeded' || input.runOutputName === undefined) return status;
      try {
        const outputVersionId = yield* callAzure<string>(context, Activities.getImageBuildOutput, {
          credential: input.credential,
          ref: input.ref,
          runOutputName: input.runOutputName,
        } satisfies BuildOutputInput);
        const outputRegions =
          input.outputVersion === undefined
            ? undefined
            : yield* replicatedRegions(context, input.credential, input.outputVersion);
        return { ...status, outputVersionId, ...(outputRegions === undefined ? {} : { outputRegions }) };
      } catch (error) {
        return { ...status, error: { ...failureOf(error), activity: Activities.getImageBuildOutput } };
      }
    }
    if (now > input.timeoutMs)
      return {
        ...status,
        runState: 'Failed',
        message: `no result ${Math.round(input.timeoutMs / 60000)} minutes after the run started`,
      };
    if (status.runSubState && status.runSubState !== subState?.name) {
      subState = { name: status.runSubState, seenAtMs: now, ...(subState ? { notSeenAtMs: elapsedMs } : {}) };
    }
  }
}

/**
 * One read of a version: its regions when it has replicated to every one, else undefined (not yet,
 * or the read failed: the build's replication wait then reads again on its own timers).
 */
function* replicatedRegions(
  context: OrchestrationContext,
  credential: string,
  ref: GalleryImageVersionRef,
): Generator<Task, ReplicationOutcome['regions'] | undefined, unknown> {
  const polled = yield* poll<VersionInfo>(context, Activities.getImageVersion, { credential, ref });
  if (polled === undefined || 'refused' in polled || polled.value === null) return undefined;
  const info = polled.value;
  if (!isReplicated(info)) return undefined;
  return info.regions.map((r) => ({ name: r.name, state: r.state, progress: r.progress }));
}

const isReplicated = (info: NonNullable<VersionInfo>): boolean =>
  info.provisioningState === 'Succeeded' && info.regions.every((r) => r.state === 'Completed');

export interface WaitForReplicationInput {
  credential: string;
  ref: GalleryImageVersionRef;
  stageName: string;
  startedMs: number;
  deadlineMs: number;
  polls: number;
  /** Regions as the parent last saw them; absent on the first call (then the first poll reports). */
  regions?: ReplicationOutcome['regions'];
  /** Build events the wait publishes itself (0.7.0 on): at its start, and once replicated. */
  announce?: Announcements;
}

export interface ReplicationOutcome {
  /** InProgress: a region changed state, or a generation of polls ended; the parent calls again. */
  state: 'InProgress' | 'Completed' | 'Failed' | 'Missing' | 'TimedOut';
  message: string;
  regions: { name: string; state: string; progress: number }[];
  polls: number;
}

const regionStates = (regions: ReplicationOutcome['regions']) =>
  regions.map((r) => `${r.name}:${r.state}`).join(',');

/**
 * Polls a version's per-region replication on durable timers, each read's regions in its own custom
 * status. From 0.5.0 it returns to the parent after the first read and at the end only, continuing
 * as new every few polls (the API shows this wait's status in the stage meanwhile, and the build's
 * long history is replayed less); before, it also returned whenever a region changed state and at
 * the end of each generation. From 0.7.0 it returns at the end only, and publishes the build events
 * it is given (`announce`) itself.
 */
export function* waitForVersionReplication(
  context: OrchestrationContext,
): Generator<Task, ReplicationOutcome, unknown> {
  const input = context.df.getInput<WaitForReplicationInput>();
  // From 0.5.0 a region's change is in this wait's status (the API shows it), not a return.
  const returnsOnChange = !sinceVersion(context, STEP_CALLS_BATCHED_SINCE);
  // From 0.7.0 not after the first read either: the build hears the end only.
  const returnsAfterFirstRead = !sinceVersion(context, WAITS_REPORT_AT_END_SINCE);
  const { announce, ...waiting } = input;
  if (announce?.atStart !== undefined) yield* notify(context, announce.atStart);
  const perGeneration = sinceVersion(context, SHORT_REPLICATION_GENERATIONS_SINCE)
    ? POLLS_PER_SHORT_GENERATION
    : POLLS_PER_GENERATION;
  let regions: ReplicationOutcome['regions'] = input.regions ?? [];
  // A generation begins with no custom status (continue-as-new clears it, as Durable's backends
  // do), and its first read comes only after a timer: until then the API would show the stage
  // without its progress. The last read's regions stand until the next read.
  if (regions.length > 0) context.df.setCustomStatus({ stage: input.stageName, regions });
  for (let polls = input.polls; ; polls++) {
    const outcome = (state: ReplicationOutcome['state'], message: string): ReplicationOutcome => ({
      state,
      message,
      regions,
      polls,
    });
    // Before 0.5.0 a generation ends in the build itself (an episode of its long history, which then
    // shows the regions); from 0.5.0 the API shows this wait's status, so a generation continues as
    // new here and the build hears of the end only; from 0.6.0 a generation is three polls, as in
    // the other waits (eight before: sized for returns to the build).
    if (polls - input.polls >= perGeneration) {
      if (returnsOnChange) return outcome('InProgress', 'still replicating');
      context.df.continueAsNew({
        ...waiting,
        ...laterAnnouncements(announce),
        polls,
        regions,
      } satisfies WaitForReplicationInput);
      return outcome('InProgress', 'continued as new');
    }
    if (input.regions !== undefined || polls > input.polls) {
      const now = context.df.currentUtcDateTime.getTime();
      const delay = nextReplicationPollDelayMs({
        elapsedMs: now - input.startedMs,
        regions,
        defaults: DEFAULT_REPLICATION_POLL_DEFAULTS,
      });
      yield context.df.createTimer(new Date(now + delay));
    }
    const polled = yield* poll<VersionInfo>(context, Activities.getImageVersion, {
      credential: input.credential,
      ref: input.ref,
    });
    if (polled === undefined) continue; // transient: the next poll is the retry
    if ('refused' in polled) return outcome('Failed', polled.refused.message);
    const info = polled.value;
    if (info === null) return outcome('Missing', `version ${input.ref.version} does not exist`);
    const before = regionStates(regions);
    regions = info.regions.map((r) => ({ name: r.name, state: r.state, progress: r.progress }));
    context.df.setCustomStatus({ stage: input.stageName, regions });
    const failedRegion = info.regions.find((r) => r.state === 'Failed');
    if (info.provisioningState === 'Failed' || failedRegion)
      return outcome(
        'Failed',
        `${failedRegion?.name ?? 'the version'} failed: ${failedRegion?.details ?? info.provisioningState}`,
      );
    if (isReplicated(info)) {
      if (announce?.whenDone !== undefined) yield* notify(context, announce.whenDone);
      return outcome('Completed', 'replicated to every region');
    }
    if (context.df.currentUtcDateTime.getTime() > input.deadlineMs)
      return outcome('TimedOut', 'not replicated within 6 hours');
    if (
      (input.regions === undefined && returnsAfterFirstRead) ||
      (returnsOnChange && regionStates(regions) !== before)
    )
      return outcome('InProgress', 'a region changed state');
  }
}

export type SlotWaitOutcome = SlotDecision & { error?: { code: string; message: string; hint?: string } };

export interface WaitForBuildSlotInput {
  claim: ClaimBuildSlotInput;
  startedMs: number;
  polls: number;
  /** Before the next ask (slotPollDelayMs of the last answer); absent at first: one minute. */
  nextPollMs?: number;
}

/**
 * Asks for a build slot until granted, or until the build's ticket is gone (its build was cancelled
 * and compensated): every minute when next in line, less often the further back it is. Continues as new every few polls: a queue of hours stays cheap.
 * Its custom status shows the queue position.
 */
export function* waitForBuildSlot(context: OrchestrationContext): Generator<Task, SlotWaitOutcome, unknown> {
  const input = context.df.getInput<WaitForBuildSlotInput>();
  const perGeneration = pollsPerGeneration(context);
  let nextPollMs = input.nextPollMs ?? BUILD_SLOT_POLL_MS;
  for (let polls = input.polls; ; polls++) {
    if (polls - input.polls >= perGeneration) {
      context.df.continueAsNew({ ...input, polls, nextPollMs });
      return { granted: false, ticketExists: true, running: 0, ahead: 0, limit: 0 };
    }
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + nextPollMs));
    const polled = yield* poll<SlotDecision>(context, Activities.claimBuildSlot, input.claim);
    if (polled === undefined) continue;
    if ('refused' in polled)
      return { granted: false, ticketExists: true, running: 0, ahead: 0, limit: 0, error: polled.refused };
    const slot = polled.value;
    if (slot.granted || !slot.ticketExists) return slot;
    nextPollMs = slotPollDelayMs(slot);
    context.df.setCustomStatus({
      waitingSinceMs: input.startedMs,
      running: slot.running,
      ahead: slot.ahead,
      limit: slot.limit,
    });
  }
}
