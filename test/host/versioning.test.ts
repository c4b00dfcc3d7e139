/**
 * Orchestration versioning as the docs describe it (src/local/host/versioning.ts, README
 * "Orchestration versioning"): defaultVersion stamps new instances and sub-orchestrations and
 * reaches the real replay engine as context.df.version; a worker never runs an instance newer than
 * it may (CurrentOrOlder / Strict) — Reject leaves it untouched for a newer worker, Fail fails it.
 * The release scenario runs on one SQLite file across restarts with a changed app.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/shared/clock';
import { LocalHost } from '../../src/local/host';
import { readHostJson } from '../../src/local/host/host-json';
import { compareVersions } from '../../src/shared/orchestration-version';

// Filled by the fixture app's activity in every loaded copy (not imported here: loadApp would then
// reuse this test's copy, and the app's shape is chosen when a copy loads).
const shared = globalThis as unknown as { versionedAppRuns?: string[] };
const versionedAppRuns = (shared.versionedAppRuns ??= []);

const APP = 'test/fixtures/versioned-app/index.ts';

function hostJson(durableTask: Record<string, unknown>) {
  return { extensions: { durableTask } };
}

async function start(
  shape: 'v1' | 'v2',
  durableTask: Record<string, unknown>,
  databasePath = ':memory:',
): Promise<{ host: LocalHost; log: string[] }> {
  const log: string[] = [];
  const host = await LocalHost.start({
    appEntry: APP,
    env: { APP_SHAPE: shape },
    clock: new VirtualClock(Date.UTC(2026, 10, 1, 8, 0, 0)),
    log: (line) => log.push(line),
    hostJson: hostJson(durableTask),
    databasePath,
  });
  return { host, log };
}

describe('orchestration versioning in the local host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'host-versioning-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => versionedAppRuns.splice(0));

  it('reads the settings with the documented defaults and refuses unknown strategies', () => {
    expect(readHostJson(hostJson({}), {}).versioning).toEqual({
      defaultVersion: undefined,
      matchStrategy: 'CurrentOrOlder',
      failureStrategy: 'Reject',
    });
    expect(
      readHostJson(
        hostJson({ defaultVersion: '2.0', versionMatchStrategy: 'strict', versionFailureStrategy: 'Fail' }),
        {},
      ).versioning,
    ).toEqual({ defaultVersion: '2.0', matchStrategy: 'Strict', failureStrategy: 'Fail' });
    expect(readHostJson(hostJson({ defaultVersion: null }), {}).versioning.defaultVersion).toBeUndefined();
    expect(() => readHostJson(hostJson({ versionMatchStrategy: 'Newest' }), {})).toThrow(
      'versionMatchStrategy "Newest" is not one of None, Strict, CurrentOrOlder',
    );
    expect(() => readHostJson(hostJson({ defaultVersion: 2 }), {})).toThrow(
      'defaultVersion must be a string',
    );
  });

  it('compares versions by the documented rules', () => {
    expect(compareVersions(undefined, '')).toBe(0);
    expect(compareVersions(undefined, '1.0')).toBe(-1);
    expect(compareVersions('1.10.0', '1.9.0')).toBe(1);
    expect(compareVersions('1.0', '1.0.0')).toBe(-1); // System.Version: a missing build is lower
    expect(compareVersions('V1-release', 'v1-RELEASE')).toBe(0);
  });

  it('stamps defaultVersion on new instances and sub-orchestrations; context.df.version sees it', async () => {
    const { host } = await start('v1', { defaultVersion: '1.0.0' });
    try {
      const id = await host.startNew('versionOf', { instanceId: 'probe' });
      const status = await host.waitFor(id);
      expect(status.output).toEqual({ version: '1.0.0', child: '1.0.0', pinned: '0.9.0' });
      const unversioned = await start('v1', {});
      try {
        const other = await unversioned.host.startNew('versionOf');
        // No defaultVersion: no version; the pinned child still gets the one its caller named.
        expect((await unversioned.host.waitFor(other)).output).toEqual({
          version: null,
          child: null,
          pinned: '0.9.0',
        });
      } finally {
        await unversioned.host.stop();
      }
    } finally {
      await host.stop();
    }
  });

  it('a release: old builds finish on their own steps, new builds take the new ones, an older app picks nothing up', async () => {
    const databasePath = join(dir, 'release.sqlite');
    const v1 = await start('v1', { defaultVersion: '1.0.0' }, databasePath);
    await v1.host.startNew('release', { instanceId: 'old-a' });
    await v1.host.startNew('release', { instanceId: 'old-b' });
    await v1.host.drive();
    expect((await v1.host.getStatus('old-a'))?.runtimeStatus).toBe('Running');
    await v1.host.stop();

    const v2 = await start('v2', { defaultVersion: '1.1.0' }, databasePath);
    await v2.host.startNew('release', { instanceId: 'new-a' });
    await v2.host.drive();
    for (const id of ['old-a', 'old-b', 'new-a']) await v2.host.raiseEvent(id, 'approval', 'approved');
    await v2.host.startNew('release', { instanceId: 'new-b' });
    await v2.host.drive();
    const oldA = await v2.host.waitFor('old-a');
    expect(oldA.runtimeStatus).toBe('Completed');
    expect(oldA.output).toEqual({ version: '1.0.0', steps: ['build', 'approved', 'test', 'publish'] });
    expect((await v2.host.getStatus('old-b'))?.output).toEqual(oldA.output);
    expect((await v2.host.waitFor('new-a')).output).toEqual({
      version: '1.1.0',
      steps: ['build', 'scan', 'approved', 'publish', 'test'],
    });
    // Nothing ran twice across the restart.
    expect(versionedAppRuns.filter((run) => run.startsWith('old-a:'))).toEqual([
      'old-a:build',
      'old-a:test',
      'old-a:publish',
    ]);
    await v2.host.stop();

    // The previous release started again on the same task hub (a rollback, a stale worker): it
    // leaves 1.1.0 instances alone (CurrentOrOlder + Reject, the defaults) and keeps them intact.
    const stale = await start('v1', { defaultVersion: '1.0.0' }, databasePath);
    await stale.host.raiseEvent('new-b', 'approval', 'approved');
    await stale.host.drive();
    expect((await stale.host.getStatus('new-b'))?.runtimeStatus).toBe('Running');
    expect(versionedAppRuns.filter((run) => run.startsWith('new-b:'))).toEqual(['new-b:build', 'new-b:scan']);
    expect(stale.log).toContain(
      "[host] release new-b not picked up: The orchestration version '1.1.0' is greater than the worker version '1.0.0'.",
    );
    await stale.host.stop();

    // The newer release takes it up where it stood.
    const again = await start('v2', { defaultVersion: '1.1.0' }, databasePath);
    try {
      expect((await again.host.waitFor('new-b')).output).toEqual({
        version: '1.1.0',
        steps: ['build', 'scan', 'approved', 'publish', 'test'],
      });
    } finally {
      await again.host.stop();
    }
  });

  it('Strict + Reject leaves an older instance pending; Fail fails it with the VersionMismatch details', async () => {
    const strict = await start('v2', {
      defaultVersion: '1.1.0',
      versionMatchStrategy: 'Strict',
      versionFailureStrategy: 'Reject',
    });
    try {
      const id = await strict.host.startNew('release', { instanceId: 'pinned-old', version: '1.0.0' });
      await strict.host.drive();
      expect((await strict.host.getStatus(id))?.runtimeStatus).toBe('Pending');
      expect(versionedAppRuns).toEqual([]);
    } finally {
      await strict.host.stop();
    }

    const failing = await start('v1', { defaultVersion: '1.0.0', versionFailureStrategy: 'Fail' });
    try {
      const id = await failing.host.startNew('release', { instanceId: 'too-new', version: '2.0.0' });
      const status = await failing.host.waitFor(id);
      expect(status.runtimeStatus).toBe('Failed');
      expect(status.output).toBe(
        "The orchestration version '2.0.0' is greater than the worker version '1.0.0'.",
      );
      const history = (await failing.host.getStatus(id, { showHistory: true }))?.history ?? [];
      expect(history.at(-1)).toMatchObject({
        FailureDetails: { ErrorType: 'VersionMismatch', IsNonRetriable: true },
      });
      expect(versionedAppRuns).toEqual([]);
    } finally {
      await failing.host.stop();
    }
  });

  it('None runs every version', async () => {
    const { host } = await start('v1', { defaultVersion: '1.0.0', versionMatchStrategy: 'None' });
    try {
      await host.startNew('release', { instanceId: 'newer', version: '3.0.0' });
      await host.raiseEvent('newer', 'approval', 'ok');
      expect((await host.waitFor('newer')).output).toEqual({
        version: '3.0.0',
        steps: ['build', 'ok', 'test', 'publish'],
      });
    } finally {
      await host.stop();
    }
  });
});
