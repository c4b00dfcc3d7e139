/**
 * Draining for a release (FACTORY_DRAINING=true): the API refuses new builds with a 503 problem and
 * Retry-After and starts nothing, the cadence timer skips with a log line, and a build in flight
 * goes on; GET /api/builds shows the drain and which factory versions still have builds running —
 * through the real front end, df client and local host on the app's host.json.
 */
import { readFileSync } from 'node:fs';
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { DRAIN_RETRY_AFTER_SECONDS } from '../../src/api/builds-api';
import { startFactory, type Factory } from '../pipeline/harness';

const KEY = 'drain-test-key';
const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('draining the factory', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${front.url}${path}`, {
      method,
      headers: {
        'x-functions-key': KEY,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
  };

  beforeAll(async () => {
    factory = await startFactory({}, { FACTORY_DRAINING: 'true' });
    front = await startHttpFrontEnd({
      registry: factory.host.registry,
      engine: factory.host.engine,
      invoke: factory.host.invokeFunction.bind(factory.host),
      port: 0,
      keys: { functionKeys: {}, hostKeys: { default: KEY }, masterKey: 'master-key-drain' },
      taskHubName: 'ImageFactoryTest',
    });
  });
  afterAll(async () => {
    await front.close();
    await factory.stop();
  });

  it('refuses new builds, lets the one in flight go on, and shows the versions still running', async () => {
    // In flight before the drain began (started as the API would have).
    const inFlight = await factory.start(factory.pipelines.get('ubuntu-2204-base')!);
    await factory.untilApprovalPending(inFlight, 'TEST');
    const before = (await factory.host.engine.list({})).instances.length;

    const refused = await call('POST', '/api/builds', {
      pipeline: 'ubuntu-2204-base',
      reason: 'during drain',
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe(String(DRAIN_RETRY_AFTER_SECONDS));
    expect(refused.json).toMatchObject({ title: 'Factory Draining', status: 503 });
    expect(refused.json.detail).toContain('builds in flight continue');
    expect((await factory.host.engine.list({})).instances.length).toBe(before);

    const list = await call('GET', '/api/builds');
    expect(list.json.fleet).toEqual({
      draining: true,
      runningByVersion: [{ factoryVersion: packageVersion, running: 1 }],
    });
    const record = await call('GET', `/api/builds/${inFlight}`);
    expect(record.json.factoryVersion).toBe(packageVersion);

    await factory.decide(inFlight, 'TEST', 'approved');
    const next = await factory.untilApprovalPending(inFlight, 'PROD');
    expect(next.pendingApproval?.stage).toBe('PROD');
  });

  it('the cadence timer starts nothing while draining and says so', async () => {
    const before = (await factory.host.engine.list({})).instances.length;
    await factory.host.invokeFunction(
      'patchCadence',
      { isPastDue: false, schedule: { adjustForDST: true } },
      { triggerMetadata: { timerTrigger: new Date(factory.clock.now()).toISOString() } },
    );
    expect((await factory.host.engine.list({})).instances.length).toBe(before);
    expect(
      factory.log.some((line) => line.includes('cadence: the factory is draining (FACTORY_DRAINING=true)')),
    ).toBe(true);
  });
});
