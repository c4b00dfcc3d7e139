/**
 * The HTTP fixture app (fixtures/http-app.ts) on the local host with its front end, on a virtual
 * clock: startHttpHost for a suite that starts its own, useHttpHost for one describe block.
 */
import { LocalHost } from '../../src/local/host';
import {
  startHttpFrontEnd,
  type HttpFrontEnd,
  type HttpFrontEndOptions,
} from '../../src/local/host/http/server';
import { VirtualClock } from '../../src/shared/clock';
import { readThrough } from '../support/read-through';

export const HTTP_APP = 'test/host-http/fixtures/http-app.ts';
export const KEYS = {
  functionKeys: { secured: 'fn-key-secured-123' },
  masterKey: 'master-key-xyz-789',
  durableTaskExtensionKey: 'durable-system-key-456',
};

export interface HttpHost {
  host: LocalHost;
  front: HttpFrontEnd;
  log: string[];
  clock: VirtualClock;
}

export async function startHttpHost(overrides: Partial<HttpFrontEndOptions> = {}): Promise<HttpHost> {
  const clock = new VirtualClock(Date.UTC(2026, 10, 1, 8, 0, 0));
  const log: string[] = [];
  const host = await LocalHost.start({
    appEntry: HTTP_APP,
    clock,
    env: { NIGHTLY_SCHEDULE: '0 30 2 * * *' },
    log: (line) => log.push(line),
  });
  const front = await startHttpFrontEnd({
    registry: host.registry,
    engine: host.engine,
    invoke: (name, input, options) => host.invokeFunction(name, input, options),
    port: 0,
    keys: KEYS,
    taskHubName: 'ImageFactoryHub',
    log: (line) => log.push(line),
    ...overrides,
  });
  return { host, front, log, clock };
}

/**
 * startHttpHost for the describe block (or file) it is called in: started in beforeAll, front end
 * closed and host stopped in afterAll. Each member reads through to the started one.
 */
export function useHttpHost(overrides: Partial<HttpFrontEndOptions> = {}): HttpHost {
  let started: HttpHost | undefined;
  beforeAll(async () => {
    started = await startHttpHost(overrides);
  });
  afterAll(async () => {
    await started?.front.close();
    await started?.host.stop();
  });
  return {
    host: readThrough(() => started?.host, 'the host'),
    front: readThrough(() => started?.front, 'the front end'),
    log: readThrough(() => started?.log, 'the host'),
    clock: readThrough(() => started?.clock, 'the host'),
  };
}
