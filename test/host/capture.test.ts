/**
 * Capturing the unmodified app: registrations reach the host through the functions-core stand-in
 * (not @azure/functions' no-op test mode), and each host loads the app afresh with its own env.
 * This file deliberately does not import the sample app, so the host loads it in isolation.
 */
import { spawnSync } from 'node:child_process';
import { VirtualClock } from '../../src/shared/clock';
import { LocalHost } from '../../src/local/host';
import { SAMPLE_APP } from './helpers';

describe('capturing the app', () => {
  it('captures every registration with its trigger metadata and real wrapped handler', async () => {
    const host = await LocalHost.start({ appEntry: SAMPLE_APP, clock: new VirtualClock() });
    try {
      const hello = host.registry.functions.get('hello');
      expect(hello?.triggerType).toBe('activityTrigger');
      expect(host.registry.functions.get('helloSequence')?.triggerType).toBe('orchestrationTrigger');
      expect(host.registry.byTriggerType('orchestrationTrigger').map((f) => f.name)).toContain('retrying');
      expect(host.registry.byTriggerType('entityTrigger').map((f) => f.name)).toContain('slots');
      expect(typeof hello?.handler).toBe('function');
    } finally {
      await host.stop();
    }
  });

  it('loads the app afresh for each host, with that host env (under jest)', async () => {
    const greetings: unknown[] = [];
    for (const greeting of ['Hi', 'Hey']) {
      const host = await LocalHost.start({
        appEntry: SAMPLE_APP,
        env: { SAMPLE_GREETING: greeting },
        clock: new VirtualClock(),
      });
      greetings.push(await host.callActivity('hello', 'x'));
      await host.stop();
    }
    delete process.env.SAMPLE_GREETING;
    expect(greetings).toEqual(['Hi "x"', 'Hey "x"']);
  });

  it('loads the app afresh for each host under plain node/tsx too', () => {
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/host/capture-child.ts'], {
      encoding: 'utf8',
      env: { ...process.env, JEST_WORKER_ID: '' },
      timeout: 30_000,
    });
    expect(result.stderr).not.toMatch(/test mode/);
    expect(result.stdout.trim().split('\n')).toEqual(['Hi "x"', 'Hey "x"', 'Completed ["Hey \\"a\\""]']);
    // Keep this honest about cost: a tsx child start is the crash test's building block too.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('refuses an entry that registers nothing, with a clear error', async () => {
    await expect(
      LocalHost.start({ appEntry: 'test/host/helpers.ts', clock: new VirtualClock() }),
    ).rejects.toThrow(/registered no functions/);
    await expect(
      LocalHost.start({ appEntry: 'test/host/no-such-app.ts', clock: new VirtualClock() }),
    ).rejects.toThrow(/App entry 'test\/host\/no-such-app.ts' not found/);
  });
});
