/**
 * Draining for a release (FACTORY_DRAINING=true): the API refuses new builds with a 503 problem and
 * Retry-After and starts nothing, the cadence timer skips with a log line, and a build in flight
 * goes on; GET /api/builds shows the drain and which factory versions still have builds running —
 * through the real front end, df client and local host on the app's host.json.
 */
import { readFileSync } from 'node:fs';
import { DRAIN_RETRY_AFTER_SECONDS } from '../../src/api/builds-api';
import { apiSuite } from './api-suite';

const KEY = 'drain-test-key';
const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('draining the factory', () => {
  const suite = apiSuite({
    hostKey: KEY,
    masterKey: 'master-key-drain',
    settings: () => ({ FACTORY_DRAINING: 'true' }),
  });
  const { call } = suite;

  it('refuses new builds, lets the one in flight go on, and shows the versions still running', async () => {
    // In flight before the drain began (started as the API would have).
    const inFlight = await suite.factory.start(suite.factory.pipelines.get('ubuntu-2204-base')!);
    await suite.factory.untilApprovalPending(inFlight, 'TEST');
    const before = (await suite.factory.host.engine.list({})).instances.length;

    const refused = await call('POST', '/api/builds', {
      pipeline: 'ubuntu-2204-base',
      reason: 'during drain',
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe(String(DRAIN_RETRY_AFTER_SECONDS));
    expect(refused.json).toMatchObject({ title: 'Factory Draining', status: 503 });
    expect(refused.json.detail).toContain('builds in flight continue');
    expect((await suite.factory.host.engine.list({})).instances.length).toBe(before);

    const list = await call('GET', '/api/builds');
    expect(list.json.fleet).toEqual({
      draining: true,
      runningByVersion: [{ factoryVersion: packageVersion, running: 1 }],
    });
    const record = await call('GET', `/api/builds/${inFlight}`);
    expect(record.json.factoryVersion).toBe(packageVersion);

    await suite.factory.decide(inFlight, 'TEST', 'approved');
    const next = await suite.factory.untilApprovalPending(inFlight, 'PROD');
    expect(next.pendingApproval?.stage).toBe('PROD');
  });

  it('the cadence timer starts nothing while draining and says so', async () => {
    const before = (await suite.factory.host.engine.list({})).instances.length;
    await suite.factory.host.invokeFunction(
      'patchCadence',
      { isPastDue: false, schedule: { adjustForDST: true } },
      { triggerMetadata: { timerTrigger: new Date(suite.factory.clock.now()).toISOString() } },
    );
    expect((await suite.factory.host.engine.list({})).instances.length).toBe(before);
    expect(
      suite.factory.log.some((line) =>
        line.includes('cadence: the factory is draining (FACTORY_DRAINING=true)'),
      ),
    ).toBe(true);
  });
});
