/**
 * `npm run bridge` (repo root) or `npm start` (bridge/): runs the bridge until SIGINT/SIGTERM.
 * Settings: the environment (docs/servicenow-bridge.md). Locally, next to `npm start`, whatever is
 * not set is taken from local.settings.json (the factory's Service Bus connection, queue names and
 * signing key), and without SERVICENOW_INSTANCE_URL a ServiceNow simulator is started and its
 * address printed, with how to play the CAB. Log lines carry no secrets.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { systemClock } from './clock';
import { ConfigError, loadConfig } from './config';
import { startServiceNowSim } from './local/servicenow-sim';
import { startBridge } from './run';

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

/** The factory's local settings (Values) for what the environment leaves unset. */
function localFactorySettings(): Record<string, string> {
  try {
    const file = path.join(__dirname, '..', '..', 'local.settings.json');
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
    const values = parsed.Values ?? {};
    const out: Record<string, string> = {};
    const take = (from: string, to: string) => {
      if (values[from]) out[to] = values[from];
    };
    take('ServiceBusConnection', 'BRIDGE_SERVICEBUS_CONNECTION');
    take('APPROVAL_SIGNING_KEY', 'APPROVAL_SIGNING_KEY');
    take('APPROVAL_REQUESTS_QUEUE', 'APPROVAL_REQUESTS_QUEUE');
    take('APPROVAL_DECISIONS_QUEUE', 'APPROVAL_DECISIONS_QUEUE');
    take('APPROVAL_REJECTS_QUEUE', 'APPROVAL_REJECTS_QUEUE');
    return out;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const env: Record<string, string | undefined> = { ...process.env };
  const local = localFactorySettings();
  for (const [name, value] of Object.entries(local))
    if (!env[name] && !env.APPROVAL_SIGNING_KEY_FILE) env[name] = value;
  let stopSim: (() => Promise<void>) | undefined;
  if (!env.SERVICENOW_INSTANCE_URL) {
    const client = { id: 'local-bridge', secret: randomBytes(24).toString('base64url') };
    const sim = await startServiceNowSim({
      port: Number(env.BRIDGE_LOCAL_SERVICENOW_PORT ?? 0),
      oauthClients: { [client.id]: { secret: client.secret, user: 'svc.imagefactory' } },
      controlRoutes: true,
    });
    stopSim = () => sim.stop();
    Object.assign(env, {
      SERVICENOW_INSTANCE_URL: sim.url,
      SERVICENOW_CLIENT_ID: client.id,
      SERVICENOW_CLIENT_SECRET: client.secret,
      BRIDGE_POLL_INTERVAL_MS: env.BRIDGE_POLL_INTERVAL_MS ?? '5000',
    });
    console.log(`
No SERVICENOW_INSTANCE_URL: using a local ServiceNow simulator at ${sim.url}.
  Changes:   curl -s '${sim.url}/local/changes'   (the bridge also logs each change it opens)
  Play CAB:  curl -s -X POST '${sim.url}/local/changes/<CHG number>/approve?by=jane.doe&comment=CAB'
             (…/reject, …/cancel?by=name)
`);
  }
  const config = loadConfig(env);
  const running = await startBridge(config, { clock: systemClock, log });
  log(
    `bridge running: ServiceNow ${config.serviceNowUrl} (${config.serviceNowAuth.kind}), queues ${config.queues.requests} → changes → ${config.queues.decisions}, refusals from ${config.queues.rejects}${running.inbound ? `, outbound-REST endpoint ${running.inbound.url}` : ''}`,
  );
  const stop = () => {
    void running
      .stop()
      .then(() => stopSim?.())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError
      ? `configuration: ${error.message}`
      : error instanceof Error
        ? error.message
        : error,
  );
  process.exit(1);
});
