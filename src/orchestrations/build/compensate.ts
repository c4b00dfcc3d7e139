/**
 * Compensation, after a failure, rejection, missed deadline or cancel: the build's outcome goes into
 * its status and result, then what the build created is removed, newest first: test VMs, the image
 * template (its run cancelled and waited out first), and every version it made, only if tagged with
 * this build's id. Each removal is attempted even when another fails; what could not be removed is
 * listed in the failure message. A failed build ends failed (the orchestration throws); a rejected,
 * timed-out or cancelled one returns its result.
 *
 * Compensation DELETES this build's versions (ENG included, also after a later stage's rejection)
 * rather than excluding them from latest with an end-of-life date, because:
 * - none of them was released: TEST and PROD copies stay excluded from latest until their gate
 *   passed, the ENG version is latest only in the engineering tenant (for engineering use), and a
 *   build that stops short of its last stage is not a release anywhere;
 * - a version left behind (even excluded) can still be pinned by id, keeps its replicas (storage
 *   cost, per-gallery version limits) and would make the gallery disagree with the build record;
 * - a partial copy (replication failed or cancelled) is not a usable image at all.
 * It deletes only versions tagged with its own build id (a version-number collision never removes
 * another build's version). Released versions are withdrawn with revokeImageVersion instead, which
 * does exclude + end-of-life (they may be in use).
 */
import type { Task } from 'durable-functions';
import { Activities } from '../../domain/pipeline/activities';
import { BuildStopped, errorInfo } from './activity-calls';
import { deleteTemplate, deleteTestVm, deleteVersion, waitForRunToEnd } from './operations';
import type { BuildResult, BuildRun } from './run';

export function* compensate(run: BuildRun, error: unknown): Generator<Task, BuildResult, unknown> {
  run.compensating = true;
  const { status, result, created, input } = run;
  const stopped =
    error instanceof BuildStopped
      ? error
      : new BuildStopped('failed', {
          code: errorInfo(error).code,
          message: errorInfo(error).message,
          step: status.step,
          ...(status.currentStage ? { stage: status.currentStage } : {}),
        });
  status.outcome = stopped.outcome;
  status.failure = stopped.failure;
  result.outcome = stopped.outcome;
  result.failure = stopped.failure;
  for (const stage of status.stages) {
    if (
      stage.state === 'pending' ||
      stage.state === 'running' ||
      stage.state === 'promoting' ||
      stage.state === 'testing' ||
      stage.state === 'awaitingApproval' ||
      stage.state === 'done'
    ) {
      if (stage.name === stopped.failure.stage || stage.state !== 'done') {
        stage.state =
          stopped.outcome === 'canceled'
            ? 'canceled'
            : stage.name === stopped.failure.stage
              ? stopped.outcome === 'failed'
                ? 'failed'
                : stage.state
              : 'skipped';
      }
    }
  }
  run.publish('compensate', `${stopped.outcome}: cleaning up what this build created`);
  const compensationErrors: string[] = [];
  const attempt = function* (what: string, step: () => Generator<Task, unknown, unknown>) {
    try {
      yield* step();
      return true;
    } catch (compensationError) {
      compensationErrors.push(`${what}: ${errorInfo(compensationError).message}`);
      return false;
    }
  };
  // What compensation removed, for the build page (what it could not remove is in the failure).
  for (const vm of created.vms) {
    if (yield* attempt(`delete test VM ${vm.name}`, () => deleteTestVm(run, vm)))
      (status.cleanedUp ??= []).push(`deleted test VM ${vm.name}`);
  }
  if (created.template) {
    const { credential, ...ref } = created.template;
    yield* attempt(`cancel build ${ref.name}`, () =>
      run.call(Activities.cancelImageBuild, { credential, ref }),
    );
    yield* waitForRunToEnd(run, ref, credential);
    if (yield* attempt(`delete template ${ref.name}`, () => deleteTemplate(run, credential, ref)))
      (status.cleanedUp ??= []).push(`deleted image template ${ref.name}`);
  }
  for (const { stage, ref } of [...created.versions].reverse()) {
    const removed = yield* attempt(`delete version ${ref.version} in ${stage.name}`, () =>
      // A version number collision must never delete another build's version.
      deleteVersion(run, stage.credential, ref, input.buildId),
    );
    if (removed) {
      (status.cleanedUp ??= []).push(`deleted version ${ref.version} in ${stage.name}`);
      // The record shows no version that no longer exists.
      delete run.stage(stage.name).versionId;
      run.result.versions = run.result.versions.filter((v) => v.stage !== stage.name);
    }
  }
  if (compensationErrors.length > 0)
    status.failure = {
      ...stopped.failure,
      message: `${stopped.failure.message}\ncleanup left work to do:\n${compensationErrors.join('\n')}`,
    };
  run.publish('done', stopped.failure.message);
  if (stopped.outcome === 'failed')
    yield* run.event('failed', {
      code: stopped.failure.code,
      message: stopped.failure.message,
      ...(stopped.failure.stage ? { stage: stopped.failure.stage } : {}),
    });
  if (stopped.outcome === 'failed')
    throw new Error(`${stopped.failure.code}: ${status.failure?.message ?? stopped.failure.message}`);
  return result;
}
