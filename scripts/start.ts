/**
 * `npm start`: the factory locally, no Azure account needed. Starts the simulated Azure, the local
 * durable host with the unmodified app and its HTTP front end on :7071, runs time faster
 * (LOCAL_SPEEDUP, default 600×: a one-hour Image Builder run takes six seconds), and prints a
 * progress line per build step and one line per refused approval decision. The patch-cadence
 * timer is off unless local.settings.json turns it on ("AzureWebJobs.patchCadence.Disabled":
 * "false"): builds start when someone asks. LOCAL_SETTINGS_FILE and LOCAL_DATA_DIR (environment)
 * point elsewhere than local.settings.json and .local/ (the tests run it that way).
 */
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startLocalFactory } from '../src/local/factory';
import { ScaledClock } from '../src/shared/clock';
import { humanDuration } from '../src/api/words';
import type { BuildCustomStatus } from '../src/domain/build-status';
import { progressLine } from '../src/local/progress-line';
import { printable } from '../src/shared/text';
import { nextSlot } from '../src/domain/cadence';
import { loadPipelines } from '../src/domain/pipeline/loader';

const root = path.resolve(__dirname, '..');

const settingsFile = process.env.LOCAL_SETTINGS_FILE ?? path.join(root, 'local.settings.json');
const dataDirectory = process.env.LOCAL_DATA_DIR ?? path.join(root, '.local');

function localSettings(): Record<string, string> {
  const file = settingsFile;
  if (!existsSync(file)) {
    copyFileSync(path.join(root, 'local.settings.sample.json'), file);
    console.log('Created local.settings.json from local.settings.sample.json');
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
  // Empty values mean "not set", as in the Functions host.
  return Object.fromEntries(Object.entries(parsed.Values ?? {}).filter(([, value]) => value !== ''));
}

/** A port from local.settings.json: an integer 0–65535 (0 = any free port), else a clear error. */
function portSetting(settings: Record<string, string>, name: string, fallback: number): number {
  const value = settings[name];
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535)
    throw new Error(
      `${name} in local.settings.json must be a port number 0-65535 (0: any free port), not '${value}'`,
    );
  return port;
}

async function main(): Promise<void> {
  const settings = localSettings();
  const speedup = Number(settings.LOCAL_SPEEDUP ?? 600);
  const port = portSetting(settings, 'LOCAL_HTTP_PORT', 7071);
  // 0 (the default): any free port; the app learns it from its durable client binding data.
  const rpcPort = portSetting(settings, 'LOCAL_DURABLE_RPC_PORT', 0);
  // The function key is the only one printed; the master and system keys are random per start
  // and stay in this process (docs/runbook.md "Local keys").
  const key = settings.LOCAL_FUNCTION_KEY ?? 'local-dev-key';
  const clock = new ScaledClock(speedup);
  const verbose = process.env.IMAGE_FACTORY_VERBOSE === '1';
  // The simulated Azure starts empty each time, so old builds' durable state is cleared too.
  rmSync(dataDirectory, { recursive: true, force: true });
  // The cadence timer would start builds on its own the moment the factory is up (its first slot is
  // due at once): off unless the settings turn it on, and the banner says when it would fire.
  const cadenceSetting = 'AzureWebJobs.patchCadence.Disabled';
  const cadenceOn = /^(false|0)$/i.test(settings[cadenceSetting]?.trim() ?? '');
  if (!cadenceOn) settings[cadenceSetting] = 'true';
  // Retention deletes gallery versions: off too unless the settings turn it on (docs/retention.md).
  const retentionSetting = 'AzureWebJobs.retention.Disabled';
  if (!/^(false|0)$/i.test(settings[retentionSetting]?.trim() ?? '')) settings[retentionSetting] = 'true';
  const factory = await startLocalFactory({
    clock,
    dataDirectory,
    settings,
    httpPort: port,
    rpcPort,
    portSettings: { http: 'LOCAL_HTTP_PORT', rpc: 'LOCAL_DURABLE_RPC_PORT' },
    functionKey: key,
    simulator: { seed: 1, tokenLifetimeMs: 365 * 24 * 3600_000 },
    log: (line) => {
      if (verbose) console.log(printable(line));
      else {
        // A refused decision would otherwise pass unseen: one line each, with its reason.
        const refused =
          /approval decision refused \(([^)]*)\): (.*?); message (\S+) sent to the rejects queue/.exec(line);
        if (refused)
          console.log(
            `${new Date().toISOString().slice(11, 19)} refused approval decision (${refused[1]}): ${printable(refused[2] ?? '')} [message ${refused[3]}; npm run factory -- rejects]`,
          );
      }
    },
  });
  // The target environments and the pipelines, checked now with the factory's settings: without
  // valid environments no pipeline is served, so refuse to start; an invalid pipeline is listed.
  const loaded = loadPipelines(factory.env.PIPELINES_DIR ?? 'pipelines', factory.env);
  const problems = loaded.invalid.flatMap(({ file, problems: list }) =>
    list.map((p) => `  ${file}: ${p.path}: ${p.message}`),
  );
  if (loaded.environments === undefined) {
    await factory.stop();
    throw new Error(
      `The target environments are invalid; no pipeline can be served:\n${problems.join('\n')}`,
    );
  }
  if (problems.length > 0) console.error(`These pipelines are not served:\n${problems.join('\n')}`);
  const base = factory.http.url;
  if (!factory.serviceBus && !factory.serviceBusTriggers)
    // Without Service Bus, npm run approve raises decisions through the Durable API, which takes
    // the master key: it reads it from here (owner-only), so the key is never printed.
    writeFileSync(path.join(dataDirectory, 'master-key'), factory.keys.master, { mode: 0o600 });
  const serviceBus = factory.serviceBus
    ? `Approvals go over a local Service Bus (AMQP peer on 127.0.0.1:${factory.serviceBus.port}): requests on
${settings.APPROVAL_REQUESTS_QUEUE ?? 'approval-requests'}, decisions on ${settings.APPROVAL_DECISIONS_QUEUE ?? 'approval-decisions'}${settings.APPROVAL_SIGNING_KEY ? ' (signed with APPROVAL_SIGNING_KEY)' : ''}, refusals on ${settings.APPROVAL_REJECTS_QUEUE ?? 'approval-rejects'}.
`
    : factory.serviceBusTriggers
      ? 'Approvals go over the Service Bus namespace of ServiceBusConnection.\n'
      : 'No ServiceBusConnection in local.settings.json (the sample has one for a local Service Bus): approval\nrequests are only logged, and npm run approve answers through the Durable API.\n';
  const now = new Date(clock.now());
  const slots = [
    ...loadPipelines(
      path.resolve(root, settings.PIPELINES_DIR ?? 'pipelines'),
      factory.env,
    ).pipelines.values(),
  ]
    .filter((p) => p.cadence !== undefined)
    .map((p) => {
      const at = nextSlot(p.cadence!, now);
      const inReal = Math.max(0, (at.getTime() - now.getTime()) / speedup);
      return `    ${p.name}: ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC factory time (in about ${humanDuration(inReal)} real time)`;
    });
  const cadence = cadenceOn
    ? `The patch-cadence timer is ON: due pipelines start builds by themselves. Next slots:\n${slots.join('\n')}`
    : `The patch-cadence timer is OFF: no build starts unless you ask. Next slots it would take:
${slots.join('\n')}
  To turn it on, set "${cadenceSetting}": "false" in local.settings.json and restart.`;
  console.log(`
Image Factory is running locally (simulated Azure at ${factory.sim.armEndpoint}, time ×${speedup}).
${serviceBus}
  Console:        ${base}/api/fleet/view?code=${key}
  Operator CLI:   npm run factory -- help       (builds, start, watch, cancel, approve, reject, revoke, rejects)
  Start a build:  npm run factory -- start ubuntu-2204-base --reason "first try" --watch
  Approve:        npm run factory -- approve <id> TEST --ticket CHG0001   (then PROD; waits for the request)
  The API:        curl -s -H "x-functions-key: ${key}" ${base}/api/builds

${cadence}

Progress of every build is printed below. Ctrl+C stops; the next start begins with a fresh simulated Azure.
`);

  // One progress line whenever a build's step, stage or message changes.
  const seen = new Map<string, string>();
  const progress = setInterval(() => {
    void factory.host.engine.list({}).then(({ instances }) => {
      for (const instance of instances) {
        const status = instance.customStatus as BuildCustomStatus | null;
        if (!status?.buildId) continue;
        const { key, line } = progressLine(
          instance.instanceId,
          instance.runtimeStatus,
          status,
          new Date(),
          new Date(clock.now()),
        );
        if (seen.get(instance.instanceId) === key) continue;
        seen.set(instance.instanceId, key);
        console.log(line);
      }
    });
  }, 250);

  const stop = () => {
    clearInterval(progress);
    void factory.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
