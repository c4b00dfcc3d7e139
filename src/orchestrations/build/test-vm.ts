/**
 * Step 3, test: a short-lived VM from the new version runs the pipeline's test scripts through
 * managed Run Command (started, then read on durable timers up to the script's timeout), and is
 * always torn down (VM, NIC, disk) whatever happened. In ENG a passed test makes the version latest
 * there; a stage with `retest` runs the same on its own copy (promote.ts).
 */
import type { Task } from 'durable-functions';
import {
  Activities,
  type SecurityGateProgress,
  type TestScriptInput,
  type TestScriptResult,
} from '../../domain/pipeline/activities';
import { STEP_CALLS_BATCHED_SINCE } from './release-gates';
import type { PipelineStage } from '../../domain/pipeline/definition';
import { shortHash } from '../../domain/pipeline/versioning';
import type { VmRef } from '../../ports/azure';
import { BuildStopped } from './activity-calls';
import type { EngVersion } from './build-image';
import { deleteTestVm, LRO_WAITS, updateVersion } from './operations';
import type { BuildRun } from './run';
import { sinceVersion } from '../../shared/orchestration-version';
import {
  GATE_RUN_COMMAND_NAME,
  securityGateScript,
  type SecurityGateThresholds,
} from '../../domain/pipeline/security-gate';

/** Tests the ENG version; a failed test stops everything before any promotion. */
export function* testInEng(run: BuildRun, eng: EngVersion): Generator<Task, void, unknown> {
  const { definition } = run;
  run.publish('test', 'testing the new version on a short-lived VM', run.eng.name);
  run.setStage(run.eng.name, { state: 'testing' });
  yield* runTests(
    run,
    run.eng,
    { resourceGroup: definition.test.resourceGroup, subnetId: definition.test.subnetId },
    eng.versionId,
  );
  // The version's one PATCH after its tests from 0.6.0 (with the build duration, build-image.ts).
  yield* updateVersion(run, run.eng.credential, eng.ref, {
    excludeFromLatest: false,
    tags: run.auditTags(eng.tagsAfterTests),
  });
  run.setStage(run.eng.name, { state: 'done', endedAt: run.now() });
  run.result.versions.push({ stage: run.eng.name, id: eng.versionId });
}

export function* runTests(
  run: BuildRun,
  stage: PipelineStage,
  where: { resourceGroup: string; subnetId: string },
  imageVersionId: string,
): Generator<Task, void, unknown> {
  const { definition, input, result } = run;
  const vm: VmRef & { credential: string } = {
    credential: stage.credential,
    subscriptionId: stage.subscriptionId,
    resourceGroup: where.resourceGroup,
    // Windows computer names are at most 15 characters.
    name: `vmt${shortHash(input.buildId)}${stage.name.toLowerCase()}`.slice(0, 15),
  };
  run.created.vms.push(vm);
  const location = definition.build.location;
  const vmSpec = {
    subscriptionId: vm.subscriptionId,
    resourceGroup: vm.resourceGroup,
    name: vm.name,
    location,
    imageVersionId,
    subnetId: where.subnetId,
    vmSize: definition.test.vmSize,
    osType: definition.image.osType,
    securityType: definition.image.securityType === 'TrustedLaunch' ? 'TrustedLaunch' : 'Standard',
    tags: { 'imagefactory.buildId': input.buildId, 'imagefactory.purpose': 'test' },
  };
  try {
    yield* run.call(Activities.createTestVm, { credential: stage.credential, spec: vmSpec });
    // Run Command needs a running VM: the create was only accepted; read it on durable timers.
    const vmRef = { subscriptionId: vm.subscriptionId, resourceGroup: vm.resourceGroup, name: vm.name };
    yield* run.untilDone(
      `test VM ${vm.name} in ${stage.name}`,
      Activities.getTestVm,
      { credential: stage.credential, ref: vmRef },
      'vmReady',
      LRO_WAITS.vmCreate,
      { failedCode: 'TestVmNotReady', timedOutCode: 'TestVmNotReady' },
    );
    // Once it is Succeeded, the same (idempotent) activity tags its OS disk.
    yield* run.call(Activities.createTestVm, { credential: stage.credential, spec: vmSpec });
    for (const [index, script] of definition.test.scripts.entries()) {
      const runCommandName = `imagefactory-test-${index + 1}`;
      const timeoutSeconds = definition.test.timeoutMinutes * 60;
      const outcome = yield* runScript<TestScriptResult>(
        run,
        { credential: stage.credential, ref: vmRef, runCommandName, script, timeoutSeconds },
        {
          what: `test '${script.name}' in ${stage.name} (timeout ${definition.test.timeoutMinutes} minutes)`,
          activity: Activities.getTestScriptResult,
          input: () => ({
            credential: stage.credential,
            ref: vmRef,
            runCommandName,
            scriptName: script.name,
          }),
          failedCode: 'TestFailed',
        },
      );
      result.tests.push(outcome);
      // Also in the status, so a build page shows test output while it runs and after a failure.
      (run.status.tests ??= []).push({
        stage: stage.name,
        ...outcome,
        outputTail: outcome.outputTail.slice(-300),
      });
      if (outcome.exitCode !== 0) {
        throw new BuildStopped('failed', {
          code: 'TestFailed',
          message: `test '${script.name}' failed in ${stage.name} with exit code ${outcome.exitCode}`,
          step: 'test',
          stage: stage.name,
          logExcerpt: outcome.outputTail,
        });
      }
    }
    // Issue 18: the gate is one more activity call, a new sequence of actions: only for builds
    // started on 0.3.0 or later (docs/runbook.md, "Release"), and only when the pipeline sets it.
    const gate = definition.test.securityGate;
    if (gate !== undefined && sinceVersion(run.context, '0.3.0'))
      yield* securityGate(run, stage, vmRef, gate, definition.test.timeoutMinutes * 60);
  } finally {
    // Always torn down: success, test failure, activity failure or cancel.
    yield* deleteTestVm(run, vm);
    run.created.vms = run.created.vms.filter((v) => v !== vm);
  }
}

/**
 * The security gate (issue 18): one managed Run Command after the tests reports pending security
 * updates and the software inventory (security-gate.ts); the summary goes into the status and the
 * result, the SBOM stays in the activity's recorded result (served by GET /api/builds/{id}/sbom).
 * Above a threshold the build stops at step test, and compensation runs as for a failed test.
 */
function* securityGate(
  run: BuildRun,
  stage: PipelineStage,
  vmRef: VmRef,
  thresholds: SecurityGateThresholds,
  timeoutSeconds: number,
): Generator<Task, void, unknown> {
  const script = securityGateScript(run.definition.image.osType === 'Windows' ? 'PowerShell' : 'Shell');
  const runCommandName = GATE_RUN_COMMAND_NAME;
  run.publish('test', `security gate: pending security updates and software inventory`, stage.name);
  const outcome = yield* runScript<NonNullable<SecurityGateProgress['result']>>(
    run,
    { credential: stage.credential, ref: vmRef, runCommandName, script, timeoutSeconds },
    {
      what: `security gate in ${stage.name}`,
      activity: Activities.getSecurityGateResult,
      // Built once the script has started (older builds start it in the build): the subject's time.
      input: () => ({
        credential: stage.credential,
        ref: vmRef,
        runCommandName,
        scriptName: script.name,
        thresholds,
        subject: {
          buildId: run.input.buildId,
          imageVersion: run.imageVersion,
          pipeline: run.definition.name,
          timestamp: run.now(),
        },
      }),
      failedCode: 'SecurityGateFailed',
    },
  );
  if (outcome.summary === undefined) {
    throw new BuildStopped('failed', {
      code: 'SecurityGateUnreadable',
      message: `security gate in ${stage.name}: ${outcome.unreadable ?? 'no report'}`,
      step: 'test',
      stage: stage.name,
      logExcerpt: outcome.outputTail,
    });
  }
  const { summary } = outcome;
  run.status.securityGate = { ...summary, sbomPath: `/api/builds/${run.input.buildId}/sbom` };
  run.result.securityGate = run.status.securityGate;
  const p = summary.pending;
  const counts = `critical ${p.critical}, important ${p.important}, moderate ${p.moderate}, low ${p.low}, unspecified ${p.unspecified} (total ${p.total})`;
  if (!summary.passed) {
    throw new BuildStopped('failed', {
      code: 'SecurityGateFailed',
      message: `security gate failed in ${stage.name}: ${summary.exceeded.join(', ')}; pending security updates: ${counts}`,
      step: 'test',
      stage: stage.name,
    });
  }
  run.publish(
    'test',
    `security gate passed: ${counts}; ${summary.packages} packages in the SBOM`,
    stage.name,
  );
}

/**
 * Runs a script on the test VM with managed Run Command and waits for its end, up to its timeout
 * plus Azure's Run Command allowance (LRO_WAITS.runCommand). From 0.5.0 the wait for its result
 * starts it (a cancel that wins the race while it starts finds a VM the teardown deletes with its
 * Run Commands); older builds start it in the build. A failed or timed-out wait stops the build
 * with `failedCode`.
 */
function* runScript<T>(
  run: BuildRun,
  start: TestScriptInput,
  wait: { what: string; activity: string; input: () => unknown; failedCode: string },
): Generator<Task, T, unknown> {
  const activity = Activities.startTestScript;
  const inBuild = !sinceVersion(run.context, STEP_CALLS_BATCHED_SINCE);
  if (inBuild) yield* run.call(activity, start);
  const ended = yield* run.untilDone(
    wait.what,
    wait.activity,
    wait.input(),
    'scriptEnded',
    { ...LRO_WAITS.runCommand, withinMs: start.timeoutSeconds * 1000 + LRO_WAITS.runCommand.withinMs },
    {
      failedCode: wait.failedCode,
      timedOutCode: wait.failedCode,
      ...(inBuild ? {} : { start: { activity, input: start } }),
    },
  );
  return (ended as { value: T }).value;
}
