import { eventTypes, startSampleHost } from './helpers';
import type { LocalHost } from '../../src/local/host';
import { sampleControl } from '../fixtures/sample-app';
import { EventType } from '../../src/local/host/history';
import type { RecordedEpisode } from '../../src/local/host/engine';
import { InvocationContext } from '@azure/functions';

describe('local durable host: replay through the real durable-functions library', () => {
  let host: LocalHost;
  afterEach(async () => {
    await host.stop();
  });

  it('runs activities in sequence with the golden history of the real host', async () => {
    let log: string[];
    ({ host, log } = await startSampleHost());
    const id = await host.startNew('helloSequence', { input: ['A', 'B'] });
    const status = await host.waitFor(id);
    expect(status.runtimeStatus).toBe('Completed');
    // A string input reaches the activity JSON-encoded once more, as with the real host
    // (platform-facts: "String inputs reach activities pre-stringified").
    expect(status.output).toEqual(['Hello "A"', 'Hello "B"']);
    const history = (await host.getStatus(id, { showHistory: true }))?.history;
    expect(eventTypes(history)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    const scheduled = history?.filter((e) => e.EventType === 'TaskScheduled').map((e) => [e.EventId, e.Name]);
    expect(scheduled).toEqual([
      [0, 'hello'],
      [1, 'hello'],
    ]);
    // One readable line per episode and per activity.
    expect(log.filter((line) => line.includes(id) && /episode|activity/.test(line))).toEqual([
      `[host] episode helloSequence ${id} [ExecutionStarted] → waiting (1 actions)`,
      `[host] activity hello (${id}#0) succeeded`,
      `[host] episode helloSequence ${id} [TaskCompleted] → waiting (2 actions)`,
      `[host] activity hello (${id}#1) succeeded`,
      `[host] episode helloSequence ${id} [TaskCompleted] → Completed`,
    ]);
  });

  it('retries host-side and succeeds on the 3rd attempt, with a timer after each failure', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('retrying', { input: { key: 'third-time', failTimes: 2, attempts: 3 } });
    const status = await host.waitFor(id);
    expect(status.output).toBe('ok third-time');
    const history = (await host.getStatus(id, { showHistory: true }))?.history ?? [];
    const ids = history
      .filter((e) => e.EventType === 'TaskScheduled' || e.EventType === 'TimerCreated')
      .map((e) => `${String(e.EventType)}#${String(e.EventId)}`);
    expect(ids).toEqual([
      'TaskScheduled#0',
      'TimerCreated#1',
      'TaskScheduled#2',
      'TimerCreated#3',
      'TaskScheduled#4',
    ]);
    // backoff 2: 1 s then 2 s
    const timers = history
      .filter((e) => e.EventType === 'TimerCreated')
      .map((e) => Date.parse(String(e.FireAt)));
    const failures = history.filter((e) => e.EventType === 'TaskFailed');
    expect(failures[0]?.Reason).toMatch(/^Activity function 'flaky' failed: flaky failure/);
    expect(timers[1]! - timers[0]!).toBeGreaterThanOrEqual(2000);
  });

  it('surfaces the failure only after the timer that follows the last attempt', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('retrying', { input: { key: 'never', failTimes: 99, attempts: 2 } });
    const status = await host.waitFor(id);
    expect(status.output).toMatch(/^gave up: .*flaky failure/);
    const types = eventTypes((await host.getStatus(id, { showHistory: true }))?.history).filter((t) =>
      ['TaskScheduled', 'TaskFailed', 'TimerCreated', 'TimerFired'].includes(t),
    );
    expect(types).toEqual([
      'TaskScheduled',
      'TaskFailed',
      'TimerCreated',
      'TimerFired',
      'TaskScheduled',
      'TaskFailed',
      'TimerCreated',
      'TimerFired',
    ]);
    expect(host.engine.stats.activityExecutions.get('flaky')).toBe(2);
  });

  it('reproduces the retryTimeoutInMilliseconds hang of the real host (#629)', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('retrying', {
      input: { key: 'timeout', failTimes: 99, attempts: 5, timeoutMs: 500 },
    });
    await host.drive();
    const status = await host.getStatus(id);
    // RetryInterceptor stops without a timer once the retry timeout passed; the library then waits forever.
    expect(status?.runtimeStatus).toBe('Running');
    expect(host.engine.nextTimerDue()).toBeUndefined();
  });

  // The real host (Durable extension with PR #3451, durable-functions 3.5.0 / PR #705) sends
  // FailureDetails only for an error the app's exception-properties provider enriched; a plain
  // error reaches the orchestrator as Error("<Reason> \n <Details>").
  it('gives the orchestrator a plain Error "Activity function \'X\' failed: msg \\n details" for a plain error', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('catchesTaskFailed');
    const status = await host.waitFor(id);
    expect(status.output).toEqual({
      isTaskFailedError: false,
      message: expect.stringMatching(
        /^Activity function 'flaky' failed: flaky failure \(1 left\) for tfe-\w+ \n \{"\$type":"System\.Exception, /,
      ) as unknown,
    });
    const failed = (await host.getStatus(id, { showHistory: true }))?.history?.find(
      (e) => e.EventType === 'TaskFailed',
    );
    expect(failed?.Reason).toBe(`Activity function 'flaky' failed: flaky failure (1 left) for tfe-${id}`);
    expect(JSON.parse(String(failed?.Details))).toMatchObject({
      ClassName: 'System.Exception',
      Message: `flaky failure (1 left) for tfe-${id}`,
    });
    expect(failed).not.toHaveProperty('FailureDetails');
  });

  it("gives the orchestrator a df.TaskFailedError with the provider's properties for an enriched error", async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('catchesCoded');
    const status = await host.waitFor(id);
    expect(status.output).toEqual({
      isTaskFailedError: true,
      message: 'CodedError: no quota left',
      errorType: 'CodedError',
      errorMessage: 'no quota left',
      properties: { code: 'QuotaExceeded' },
      taskName: 'coded',
      taskId: 0,
    });
    const failed = (await host.getStatus(id, { showHistory: true }))?.history?.find(
      (e) => e.EventType === 'TaskFailed',
    );
    // DurableTaskExtension.ActivityMiddleware: this Reason, no Details, the worker's FailureDetails.
    expect(failed?.Reason).toBe("Activity function 'coded' failed with an unhandled exception.");
    expect(failed?.Details).toBeUndefined();
    expect(failed?.FailureDetails).toMatchObject({
      ErrorType: 'CodedError',
      ErrorMessage: 'no quota left',
      IsNonRetriable: false,
      Properties: { code: 'QuotaExceeded' },
    });
  });

  it('passes an orchestration failure caused by an enriched activity error on to the parent as TaskFailedError', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('parentOfCodedChild', { instanceId: 'dad' });
    const status = await host.waitFor(id);
    expect(status.output).toEqual({
      isTaskFailedError: true,
      message: 'CodedError: no quota left',
      errorType: 'CodedError',
      errorMessage: 'no quota left',
      properties: { code: 'QuotaExceeded' },
      taskName: 'codedChild',
      taskId: 0,
    });
    const child = await host.getStatus('dad:0');
    expect(child?.runtimeStatus).toBe('Failed');
    expect(child?.output).toBe("Orchestrator function 'codedChild' failed: CodedError: no quota left");
  });

  it('retries a failed sub-orchestration host-side: new child per attempt, timer between', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('parentWithRetry', { instanceId: 'p' });
    const status = await host.waitFor(id);
    expect(status.output).toBe('ok sub-p');
    const history = (await host.getStatus(id, { showHistory: true }))?.history ?? [];
    expect(
      history
        .filter((e) =>
          ['SubOrchestrationInstanceCreated', 'SubOrchestrationInstanceFailed', 'TimerCreated'].includes(
            String(e.EventType),
          ),
        )
        .map(
          (e) => `${String(e.EventType)}#${String(Number(e.EventId) >= 0 ? e.EventId : e.TaskScheduledId)}`,
        ),
    ).toEqual([
      'SubOrchestrationInstanceCreated#0',
      'SubOrchestrationInstanceFailed#0',
      'TimerCreated#1',
      'SubOrchestrationInstanceCreated#2',
    ]);
    expect((await host.getStatus('p:0'))?.runtimeStatus).toBe('Failed');
    expect((await host.getStatus('p:2'))?.runtimeStatus).toBe('Completed');
  });

  it('sends the trigger input the library needs: instance and parent ids, input, replay flag, clock time', async () => {
    const started = await startSampleHost();
    host = started.host;
    const t0 = started.clock.now();
    const id = await host.startNew('introspectParent', { instanceId: 'mom' });
    const status = await host.waitFor(id);
    const child = status.output as Record<string, unknown>;
    expect(child).toMatchObject({
      instanceId: 'kid-1',
      parentInstanceId: 'mom',
      input: { from: 'parent' },
      // On the last episode the code before the timer replays; after it, it runs live.
      replayingAtStart: true,
      replayingAtEnd: false,
      firstNow: new Date(t0).toISOString(),
      now: new Date(t0 + 5 * 60_000).toISOString(),
    });
    // newGuid is deterministic across replays (a fresh context each episode keeps it so).
    const again = await host.startNew('introspect', { instanceId: 'kid-2' });
    expect(((await host.waitFor(again)).output as { guid: string }).guid).not.toBe(child.guid);
    const history = (await host.getStatus('kid-1', { showHistory: true }))?.history ?? [];
    const starts = history.filter((e) => e.EventType === 'OrchestratorStarted').map((e) => e.Timestamp);
    expect(starts).toEqual([new Date(t0).toISOString(), new Date(t0 + 5 * 60_000).toISOString()]);
  });

  it('event beats the deadline: the approval wins and the timer is cancelled', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('approvalRace');
    await host.drive({ until: async () => (await host.getStatus(id))?.runtimeStatus === 'Running' });
    await host.raiseEvent(id, 'approval', { approver: 'alice' });
    const status = await host.waitFor(id);
    expect(status.output).toEqual({ decision: { approver: 'alice' } });
  });

  it('a cancelled timer still fires later and the library ignores it (golden history)', async () => {
    const started = await startSampleHost();
    host = started.host;
    const t0 = started.clock.now();
    const id = await host.startNew('cancelThenWait');
    await host.drive({ until: async () => (await host.getStatus(id))?.runtimeStatus === 'Running' });
    started.clock.advanceBy(10 * 60_000);
    await host.raiseEvent(id, 'approval', 'yes');
    const status = await host.waitFor(id);
    const approvedAt = t0 + 10 * 60_000;
    expect(status.output).toBe(
      `approved, then waited until ${new Date(approvedAt + 2 * 3600_000).toISOString()}`,
    );
    const history = (await host.getStatus(id, { showHistory: true }))?.history ?? [];
    expect(
      history
        .filter((e) => !['OrchestratorStarted', 'OrchestratorCompleted'].includes(String(e.EventType)))
        .map((e) => `${String(e.EventType)}${e.TimerId === undefined ? '' : `#${Number(e.TimerId)}`}`),
    ).toEqual([
      'ExecutionStarted',
      'TimerCreated',
      'EventRaised',
      'TimerCreated',
      'TimerFired#0', // the cancelled deadline, at +1 h: fired and ignored
      'TimerFired#1',
      'ExecutionCompleted',
    ]);
  });

  it('deadline beats the event: times out after one virtual hour', async () => {
    const started = await startSampleHost();
    host = started.host;
    const t0 = started.clock.now();
    const id = await host.startNew('approvalRace');
    const status = await host.waitFor(id);
    expect(status.output).toEqual({ decision: 'timedOut' });
    expect(started.clock.now() - t0).toBe(60 * 60 * 1000);
  });

  it('buffers an event raised before anyone waits for it', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('approvalRace');
    await host.raiseEvent(id, 'approval', 'early');
    const status = await host.waitFor(id);
    expect(status.output).toEqual({ decision: 'early' });
  });

  it('matches event names exactly, as the JS library does', async () => {
    const started = await startSampleHost();
    host = started.host;
    const id = await host.startNew('approvalRace');
    await host.raiseEvent(id, 'APPROVAL', 'wrong case');
    const status = await host.waitFor(id);
    expect(status.output).toEqual({ decision: 'timedOut' });
  });

  it('runs sub-orchestrations and reports their failure to the parent', async () => {
    ({ host } = await startSampleHost());
    const ok = await host.startNew('parent', { input: 'kid' });
    const bad = await host.startNew('parent', { input: 'boom' });
    expect((await host.waitFor(ok)).output).toBe('Hello "kid"');
    const failed = await host.waitFor(bad);
    // SubOrchestrationInstanceFailed carries the child's Reason and Details (no FailureDetails for
    // an orchestrator's own error), so the parent gets a plain Error("<Reason> \n <Details>").
    expect(failed.output).toBe(
      "child failed: Orchestrator function 'child' failed: child failed on purpose \n Message: child failed on purpose, StackTrace: ",
    );
    const child = await host.getStatus(`${bad}:0`);
    expect(child?.runtimeStatus).toBe('Failed');
    // A failed orchestration's output is the host's Reason (OutOfProcOrchestrationShim).
    expect(child?.output).toBe("Orchestrator function 'child' failed: child failed on purpose");
  });

  it('fan-out: the library fails fast but the host waits for every child before the next action', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('fanOut');
    const status = await host.waitFor(id);
    expect(status.output).toMatch(/^failed fast: .*flaky failure.*; then Hello "after-failure"$/);
    const history = (await host.getStatus(id, { showHistory: true }))?.history ?? [];
    const afterIndex = history.findIndex((e) => e.EventType === 'TaskScheduled' && e.Name === 'hello');
    const completions = history
      .slice(0, afterIndex)
      .filter((e) => e.EventType === 'TaskCompleted' || e.EventType === 'TaskFailed');
    expect(completions).toHaveLength(3);
  });

  it('continueAsNew restarts with new input and a fresh history', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('counter', { input: 0 });
    const status = await host.waitFor(id);
    expect(status.output).toBe(3);
    expect(host.engine.stats.activityExecutions.get('hello')).toBe(4);
    const history = (await host.getStatus(id, { showHistory: true }))?.history ?? [];
    expect(history.filter((e) => e.EventType === 'ExecutionStarted')).toHaveLength(1);
  });

  it('hands each generation discarded by continueAsNew to onHistoryRetired', async () => {
    ({ host } = await startSampleHost());
    const retired: { instanceId: string; inputs: unknown[] }[] = [];
    host.engine.onHistoryRetired((instanceId, history) =>
      retired.push({
        instanceId,
        inputs: history.filter((e) => e.EventType === EventType.ExecutionStarted).map((e) => e.Input),
      }),
    );
    const id = await host.startNew('counter', { input: 0 });
    expect((await host.waitFor(id)).output).toBe(3);
    // Generations 0, 1 and 2 were discarded; the last one (3) is still the instance's history.
    expect(retired).toEqual([0, 1, 2].map((n) => ({ instanceId: id, inputs: [JSON.stringify(n)] })));
  });

  it('continueAsNew without input continues; a string input arrives JSON-encoded once more', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('restarter');
    const status = await host.waitFor(id);
    // The library sends continueAsNew('again') as '"again"' (processInput), like activity inputs.
    expect(status.output).toEqual({ input: '"again"', seen: '"\\"again\\""' });
  });

  it('terminate stops an instance and drops its pending work', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('approvalRace');
    await host.drive({ until: async () => (await host.getStatus(id))?.runtimeStatus === 'Running' });
    await host.terminate(id, 'operator said so');
    const status = await host.getStatus(id);
    expect(status?.runtimeStatus).toBe('Terminated');
    expect(status?.output).toBe('operator said so');
    expect(host.engine.nextTimerDue()).toBeUndefined();
    await expect(host.raiseEvent(id, 'approval', 'late')).rejects.toThrow(/Terminated/);
  });

  it('fails the instance when a replay diverges from history, naming both actions', async () => {
    ({ host } = await startSampleHost());
    sampleControl.driftAfterFirstHello = true;
    try {
      const id = await host.startNew('drifting');
      const status = await host.waitFor(id);
      expect(status.runtimeStatus).toBe('Failed');
      expect(String(status.output)).toMatch(
        /Non-deterministic workflow detected: .*CallActivity\(hello\).*CallActivity\(nothing\)/,
      );
    } finally {
      sampleControl.deterministic = true;
      sampleControl.driftAfterFirstHello = false;
    }
  });

  it('runs a 3-hour orchestration in milliseconds on the virtual clock', async () => {
    const started = await startSampleHost();
    host = started.host;
    const t0 = started.clock.now();
    const wall = Date.now();
    const id = await host.startNew('longRunning');
    const status = await host.waitFor(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(Date.parse(String(status.output)) - t0).toBe(3 * 60 * 60 * 1000);
    expect(Date.now() - wall).toBeLessThan(5000);
  });

  it('records an activity returning undefined as "null"', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('helloSequence', { input: [] });
    expect((await host.waitFor(id)).output).toEqual([]);
    expect(await host.callActivity('nothing', null)).toBeNull();
  });

  it('hands each episode to the recorder: replaying its trigger JSON answers the same actions (bench P1 replays)', async () => {
    ({ host } = await startSampleHost());
    const recorded: RecordedEpisode[] = [];
    host.engine.episodeRecorder = (episode) => recorded.push(episode);
    const id = await host.startNew('helloSequence', { input: ['A', 'B'] });
    expect((await host.waitFor(id)).runtimeStatus).toBe('Completed');
    expect(recorded.map((e) => e.orchestration)).toEqual(['helloSequence', 'helloSequence', 'helloSequence']);
    // The trigger as a worker receives it: the history before the library turns timestamps into Dates.
    const last = JSON.parse(recorded[2]!.triggerJson) as {
      history: { Timestamp: unknown }[];
      instanceId: string;
    };
    expect(last.instanceId).toBe(id);
    expect(last.history.every((event) => typeof event.Timestamp === 'string')).toBe(true);
    const fn = host.registry.functions.get('helloSequence')!;
    for (const [index, episode] of recorded.entries()) {
      const context = new InvocationContext({
        invocationId: `replay-${index}`,
        functionName: 'helloSequence',
        options: { trigger: fn.trigger as never },
      });
      const state = (await fn.handler(JSON.parse(episode.triggerJson), context)) as { actions?: unknown };
      expect(JSON.stringify(state.actions ?? null)).toBe(episode.actionsJson);
    }
    expect(JSON.parse(recorded[1]!.actionsJson)).toEqual([
      [
        expect.objectContaining({ functionName: 'hello' }),
        expect.objectContaining({ functionName: 'hello' }),
      ],
    ]);
  });

  it('runs the sample workflow: retry, timer, approval raced against a deadline, sub-orchestration', async () => {
    ({ host } = await startSampleHost());
    const id = await host.startNew('sampleWorkflow');
    await host.drive({
      until: async () =>
        ((await host.getStatus(id))?.customStatus as { step?: string } | null)?.step === 'awaitingApproval',
    });
    await host.raiseEvent(id, 'approval', { approver: 'bob' });
    const status = await host.waitFor(id);
    expect(status.output).toEqual({ outcome: 'approved', by: 'bob', greeting: 'Hello "approved world"' });
    expect(status.customStatus).toEqual({ step: 'done' });
  });
});
