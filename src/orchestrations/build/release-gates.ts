/**
 * Where a release changed the build's sequence of actions (docs/runbook.md, "Release"), the steps
 * branch on sinceVersion(context, <the release>) so that a build keeps the steps it started with.
 * Older gates live beside the code they guard (waits.ts, await-done.ts, test-vm.ts, build-image.ts).
 */

/**
 * Factory 0.5.0 (issue 16, P1): a step's calls that are one unit of work are one call or move to the
 * sub-orchestration that needs them, so the build orchestration (whose every episode replays its
 * whole, long history) has fewer episodes: the image definition is ensured in every gallery by one
 * activity (ensureImageDefinitions); the Image Builder wait loads the build history it polls by and
 * reads the run's output before it returns; the wait for the image template's delete (nothing
 * cancels it) starts the delete, and the wait for a test script's result starts the script (a cancel
 * that wins while one starts finds a VM the teardown deletes with its Run Commands); a replication
 * wait comes back after its first read and at the end only, its per-region progress shown by the API
 * from its own status (StageStatus.replicationWait).
 */
export const STEP_CALLS_BATCHED_SINCE = '0.5.0';

/**
 * Factory 0.6.0 (issue 16, P1): the waits for Azure operations start the operation themselves where
 * a cancel that wins the race cannot leave anything behind: an image version PATCH (it creates
 * nothing; compensation deletes the version whatever the PATCH did) and the test VM teardown (never
 * cancelled; its first read is the delete call, so Azure's "NIC reserved" refusal is waited out by
 * the wait as any later read's is). One call and its wait are one episode of the build instead of two.
 */
export const WAITS_START_OPERATIONS_SINCE = '0.6.0';

/**
 * Factory 0.6.0 (issue 16, P1): the ENG version is patched once, after its tests: the build-duration
 * tag past builds tune the polling with (BUILD_DURATION_TAG, read by loadBuildHistory) goes with the
 * audit tags and the latest flag. A version whose tests fail is deleted by compensation either way,
 * so the history still counts only tested versions; the build saves a ~3 min PATCH and its wait.
 */
export const ENG_VERSION_PATCHED_ONCE_SINCE = '0.6.0';

/**
 * Factory 0.6.0 (issue 16, P1): a replication wait continues as new every three polls, as the other
 * waits do since 0.2.0 (waits.ts, POLLS_PER_SHORT_GENERATION); it kept eight while a generation's end
 * was a return to the build (before 0.5.0). Every episode replays its generation's polls.
 */
export const SHORT_REPLICATION_GENERATIONS_SINCE = '0.6.0';

/**
 * Factory 0.7.0 (issue 16, P1): the build hears from a wait at its end only. A replication wait no
 * longer comes back after its first read (the API has shown its own status meanwhile since 0.5.0),
 * and the Image Builder wait reads the ENG version once the run has succeeded: Image Builder ends a
 * run after its distribution has replicated, so the build needs a replication wait for ENG only when
 * that read is not Completed.
 */
export const WAITS_REPORT_AT_END_SINCE = '0.7.0';

/**
 * Factory 0.7.0 (issue 16, P1): a build event that a wait's start or end makes true is published by
 * that wait (`announce`): 'started' by the image template's wait (after the image definitions are
 * ensured; a VHD import still publishes it itself), 'approved' by the replication wait that follows
 * a pre-staged stage's approval, 'promoted' by the wait that ends the promotion. Its occurredAt is
 * the wait's time; the build's own status follows within the next episode.
 */
export const EVENTS_BY_WAITS_SINCE = '0.7.0';

/**
 * Factory 0.7.0 (issue 16, P1): the image template's wait sends the template PUT itself and runs to
 * its end whatever a cancel says (so no template can appear after compensation looked); a cancel
 * that arrives meanwhile stops the build once the template is provisioned, ~30 s later.
 */
export const TEMPLATE_CREATED_BY_ITS_WAIT_SINCE = '0.7.0';

/**
 * Factory 0.7.0 (issue 16, P1): the build's first ask for a build slot starts the Image Builder run
 * when the slot is free, in one activity (startImageBuildInFreeSlot: reads, then the one side
 * effect); a build that has to queue still starts its run itself once its slot wait is granted.
 */
export const RUN_STARTED_WITH_ITS_SLOT_SINCE = '0.7.0';

/**
 * Factory 0.8.0: a wait that starts its operation (a test script's Run Command, an image version
 * PATCH, the image template PUT) gives the operation its whole time from the moment the start
 * returned, not from when the build asked for the wait. A start that returned late (the app was
 * down, redeployed or scaled in while it was in flight) no longer eats into the operation's time.
 * The deadline moves, and with it the last timer's fire time: a change of the sequence of actions.
 * (0.7.0 already did so for a start that returned after the deadline, where the older code ended
 * the wait.)
 */
export const OPERATION_TIME_FROM_ITS_START_SINCE = '0.8.0';

/**
 * Factory 0.9.0: a build inventory that cannot be read because storage stayed unreachable through
 * the host's retries (ConnectionFault after eight attempts, about four minutes) is unavailable, as a
 * refused read has been since 0.4.0: the security gate's list becomes the SBOM and the build goes
 * on. Older builds failed there, hours of building lost to a log read; their next actions were the
 * compensation's, so the new path is a change of the sequence of actions.
 */
export const UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE = '0.9.0';
