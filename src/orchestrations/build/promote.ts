/**
 * Step 5, promote (per stage after ENG): the version is copied gallery to gallery from the previous
 * stage (across tenants with the auxiliary-tenant token the copy activity asks for), replicated to
 * the stage's regions and tagged with the audit trail. A `preStage` stage gets its copy while the
 * approval is pending (excluded from latest), so that approval only flips the flag; a `retest`
 * stage tests its own copy before it becomes latest there.
 */
import type { Task } from 'durable-functions';
import { Activities } from '../../domain/pipeline/activities';
import type { PipelineStage } from '../../domain/pipeline/definition';
import type { ApprovalDecision } from '../../ports/approvals';
import type { GalleryImageVersionRef } from '../../ports/azure';
import { galleryImageId, targetRegions, updateVersion, versionRef, waitForReplication } from './operations';
import type { BuildRun } from './run';
import { runTests } from './test-vm';
import { announcedByPromotion, approvedFields } from './approve';
import { EVENTS_BY_WAITS_SINCE } from './release-gates';
import { sinceVersion } from '../../shared/orchestration-version';
import type { Announcements } from '../notify';

/** A stage the version is latest in: where the next stage copies from. */
export interface Promoted {
  stage: PipelineStage;
  versionId: string;
}

/** The promotion of the version into one stage, from the stage before it. */
export interface Promotion {
  stage: PipelineStage;
  from: Promoted;
  ref: GalleryImageVersionRef;
  versionId: string;
}

/** Marks the stage as started; what the stage's promotion will create. */
export function beginPromotion(run: BuildRun, stage: PipelineStage, from: Promoted): Promotion {
  const { definition, imageVersion } = run;
  const ref = versionRef(stage, definition.image.definition, imageVersion);
  const versionId = `${galleryImageId(stage, definition.image.definition)}/versions/${imageVersion}`;
  run.setStage(stage.name, { startedAt: run.now(), state: 'pending' });
  return { stage, from, ref, versionId };
}

/** Copies the version into the stage's gallery while its approval is pending, excluded from latest. */
export function* preStage(run: BuildRun, promotion: Promotion): Generator<Task, void, unknown> {
  const { stage } = promotion;
  run.publish(
    'promote',
    `pre-staging ${run.imageVersion} in ${stage.name} (excluded from latest until approved)`,
    stage.name,
  );
  run.setStage(stage.name, { state: 'promoting' });
  yield* copy(run, promotion, true, {});
}

/** Makes the version latest in the stage (flip a pre-staged copy, or copy now), retesting if asked. */
export function* promote(
  run: BuildRun,
  promotion: Promotion,
  decision: ApprovalDecision | undefined,
): Generator<Task, Promoted, unknown> {
  const { stage, ref, versionId } = promotion;
  const approvalTags: Record<string, string> = decision
    ? { 'imagefactory.approver': decision.approver, 'imagefactory.changeTicket': decision.changeTicket }
    : {};
  run.setStage(stage.name, { state: 'promoting' });
  // From 0.7.0 the waits publish what their start or end makes true (EVENTS_BY_WAITS_SINCE): the
  // approval of a pre-staged stage, and the promotion when no retest follows the last wait.
  const byWaits = sinceVersion(run.context, EVENTS_BY_WAITS_SINCE);
  const promoted = run.eventDraft('promoted', { stage: stage.name, versionId });
  const whenDone: Announcements | undefined = byWaits && !stage.retest ? { whenDone: promoted } : undefined;
  if (stage.preStage) {
    run.publish('promote', `making the pre-staged ${run.imageVersion} latest in ${stage.name}`, stage.name);
    const approved: Announcements | undefined =
      decision !== undefined && announcedByPromotion(run, stage)
        ? { atStart: run.eventDraft('approved', approvedFields(stage, decision)) }
        : undefined;
    yield* waitForReplication(run, stage, ref, approved);
    // Approval only flips the flag: one call.
    yield* updateVersion(
      run,
      stage.credential,
      ref,
      { excludeFromLatest: false, tags: run.auditTags(approvalTags) },
      whenDone,
    );
  } else {
    run.publish('promote', `copying ${run.imageVersion} into ${stage.name}`, stage.name);
    yield* copy(run, promotion, stage.retest, approvalTags);
    yield* waitForReplication(run, stage, ref, whenDone);
  }
  if (stage.retest && stage.testResourceGroup && stage.testSubnetId) {
    run.setStage(stage.name, { state: 'testing' });
    run.publish('test', `re-testing in ${stage.name}`, stage.name);
    yield* runTests(
      run,
      stage,
      { resourceGroup: stage.testResourceGroup, subnetId: stage.testSubnetId },
      versionId,
    );
    if (!stage.preStage) yield* updateVersion(run, stage.credential, ref, { excludeFromLatest: false });
  }
  run.setStage(stage.name, { state: 'done', endedAt: run.now(), versionId });
  run.result.versions.push({ stage: stage.name, id: versionId });
  if (whenDone === undefined) yield* run.event('promoted', { stage: stage.name, versionId });
  return { stage, versionId };
}

function* copy(
  run: BuildRun,
  { stage, from, ref }: Promotion,
  excludeFromLatest: boolean,
  extraTags: Record<string, string>,
): Generator<Task, void, unknown> {
  run.created.versions.push({ stage, ref });
  yield* run.call(Activities.copyImageVersion, {
    credential: stage.credential,
    ...(from.stage.tenantId !== stage.tenantId ? { sourceTenantId: from.stage.tenantId } : {}),
    spec: {
      ...ref,
      location: stage.regions[0]?.name ?? run.definition.build.location,
      source: { kind: 'galleryImageVersion', id: from.versionId },
      targetRegions: targetRegions(stage),
      excludeFromLatest,
      tags: run.auditTags(extraTags),
    },
  });
}
