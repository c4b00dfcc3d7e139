import { LocalHost } from '../../src/local/host';
import {
  startHttpFrontEnd,
  type HttpFrontEnd,
  type HttpFrontEndOptions,
} from '../../src/local/host/http/server';
import { VirtualClock } from '../../src/shared/clock';

export const HTTP_APP = 'test/host-http/fixtures/http-app.ts';
export const KEYS = {
  functionKeys: { secured: 'fn-key-secured-123' },
  masterKey: 'master-key-xyz-789',
  durableTaskExtensionKey: 'durable-system-key-456',
};

export async function startHttpHost(
  overrides: Partial<HttpFrontEndOptions> = {},
): Promise<{ host: LocalHost; front: HttpFrontEnd; log: string[]; clock: VirtualClock }> {
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
