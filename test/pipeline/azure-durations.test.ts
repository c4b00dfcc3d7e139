/**
 * Issue 13 item 4: with Azure's durations on the virtual clock (template PUT ~30 s, DELETE ~77 s,
 * VM create ~2 min, version PATCH ~3 min and DELETE ~1.5 min, Retry-After as Azure sends them) and
 * a test script that runs 30 minutes, a whole pipeline completes, no activity awaits a long-running
 * operation (the simulator sees no poll of an unfinished operation: an activity that awaited one
 * would hang under the frozen virtual clock, and in Azure outlive functionTimeout), and every
 * activity ends within host.json's functionTimeout of virtual time.
 */
import { readFileSync } from 'node:fs';
import { startFactory, type Factory } from './harness';
import { DEFAULT_LRO_TIMINGS } from '../../src/local/azure-sim/lro';

/** host.json's functionTimeout ("hh:mm:ss") in ms. */
function functionTimeoutMs(): number {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as { functionTimeout: string };
  const [h, m, s] = hostJson.functionTimeout.split(':').map(Number);
  return (((h ?? 0) * 60 + (m ?? 0)) * 60 + (s ?? 0)) * 1000;
}

describe('Azure-like durations: no activity awaits a long-running operation', () => {
  let factory: Factory;
  const awaited: string[] = [];
  let failFast: (error: Error) => void = () => undefined;
  const awaitedOperation = new Promise<never>((_, reject) => {
    failFast = reject;
  });
  void awaitedOperation.catch(() => undefined);

  beforeAll(async () => {
    factory = await startFactory({
      // every operation takes its Azure duration (lro.ts defaults); told of every status poll
      onOperationPoll: ({ kind, status }) => {
        if (status !== 'InProgress') return;
        awaited.push(kind);
        failFast(new Error(`an activity is awaiting a running '${kind}' operation`));
      },
    });
  });
  afterAll(async () => {
    await factory.stop();
  });

  it('a pipeline with a 30-minute test script completes; every activity ends within functionTimeout', async () => {
    const timeoutMs = functionTimeoutMs();
    expect(timeoutMs).toBe(10 * 60_000);
    expect(DEFAULT_LRO_TIMINGS.templateDelete.durationMs).toBe(77_000); // the defaults are Azure's
    const base = factory.pipelines.get('ubuntu-2204-base')!;
    const pipeline = { ...base, test: { ...base.test, timeoutMinutes: 45 } };
    const scriptMs = 30 * 60_000;
    factory.sim.scriptRunCommand(() => ({
      exitCode: 0,
      stdout: 'all good',
      stderr: '',
      durationMs: scriptMs,
    }));
    const id = await factory.start(pipeline, 'build-durations-1');
    const run = (async () => {
      await factory.untilApprovalPending(id, 'TEST');
      await factory.decide(id, 'TEST', 'approved');
      await factory.untilApprovalPending(id, 'PROD');
      await factory.decide(id, 'PROD', 'approved');
      return factory.host.waitFor(id);
    })();
    const final = await Promise.race([run, awaitedOperation]);
    if (final.runtimeStatus !== 'Completed') console.log(final.output, factory.log.slice(-40).join('\n'));
    expect(final.runtimeStatus).toBe('Completed');
    const tests = (final.output as { tests: { exitCode: number; outputTail: string }[] }).tests;
    expect(tests.length).toBeGreaterThan(0);
    for (const test of tests) expect(test).toMatchObject({ exitCode: 0, outputTail: 'all good' });
    expect(awaited).toEqual([]);

    const runs = factory.host.engine.stats.activityRuns;
    expect(runs.map((r) => r.name)).toEqual(
      expect.arrayContaining(['startTestScript', 'getTestScriptResult']),
    );
    const longest = Math.max(...runs.map((r) => r.endedAt - r.startedAt));
    expect(longest).toBeLessThan(timeoutMs);
    // the script's 30 minutes passed on durable timers between reads, not inside an activity
    const starts = runs.filter((r) => r.name === 'startTestScript').map((r) => r.startedAt);
    const reads = runs.filter((r) => r.name === 'getTestScriptResult').map((r) => r.endedAt);
    expect(Math.max(...reads) - Math.min(...starts)).toBeGreaterThanOrEqual(scriptMs);
    expect(reads.length).toBeLessThanOrEqual(12 * starts.length); // 30 s growing to 5 min: ~10 per 30-min script

    // nothing left behind once the deletes' operations ended
    const leftovers = factory.sim
      .inventory()
      .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks/.test(r.type));
    expect(leftovers).toEqual([]);
  });
});
