/** What the bridge suites share: a virtual clock, the bridge's settings for a peer and a simulator. */
import type { Clock } from '../../src/clock';
import type { ServiceNowSim } from '../../src/local/servicenow-sim';

export const OAUTH_CLIENT = {
  id: 'bridge-client',
  secret: 'bridge-client-secret-0123456789',
  user: 'svc.imagefactory',
};

/**
 * Virtual time: `now` is the wall clock plus a skew a test can move forward (the factory side
 * runs on the wall clock); `sleep` returns at once and records how long the bridge wanted to wait.
 */
export function virtualClock(): Clock & { skewMs: number; slept: number[] } {
  const clock = {
    skewMs: 0,
    slept: [] as number[],
    now: () => Date.now() + clock.skewMs,
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return clock;
}

export function bridgeEnv(
  sim: ServiceNowSim,
  busConnection: string,
  signingKey: Buffer,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SERVICENOW_INSTANCE_URL: sim.url,
    SERVICENOW_CLIENT_ID: OAUTH_CLIENT.id,
    SERVICENOW_CLIENT_SECRET: OAUTH_CLIENT.secret,
    BRIDGE_SERVICEBUS_CONNECTION: busConnection,
    APPROVAL_SIGNING_KEY: `base64:${signingKey.toString('base64')}`,
    ...extra,
  };
}

export async function until(
  check: () => boolean | Promise<boolean>,
  logs: string[],
  timeoutMs = 20_000,
): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp)
      throw new Error(`condition not met in ${timeoutMs} ms; log:\n${logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
