/**
 * The whole factory on one machine, no Azure account: the simulated Azure seeded with the standard
 * three-tenant world, the local durable host running the unmodified app, its HTTP front end on
 * :7071 (API + Durable management API), its timer triggers and, when ServiceBusConnection is set,
 * its Service Bus triggers (with the local AMQP peer when the connection names it).
 * `npm start` and the benches use it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startAzureSimulator, createStandardWorld } from './azure-sim';
import type { AzureSimulator, SimulatorOptions } from './azure-sim/api';
import type { StandardWorld } from './azure-sim/world';
import { LocalHost } from './host';
import { findHostJson } from './host/host-json';
import { startHttpFrontEnd, type HttpFrontEnd } from './host/http/server';
import { TimerScheduler } from './host/timers/scheduler';
import { bindServiceBusTriggers, durableClientInputs, type ServiceBusTriggers } from './servicebus/trigger';
import { localPeerPlan, startLocalPeer } from './servicebus/local-bus';
import type { ServiceBusPeer } from './servicebus/peer';
import { pipelineSettingsForWorld, settingsForWorld } from './world-settings';
import type { Clock } from '../shared/clock';

export interface LocalFactoryOptions {
  clock: Clock;
  /** Where the host's SQLite files and the simulator's CA live. */
  dataDirectory: string;
  /** Settings from local.settings.json (Values); the simulator's endpoints and credentials are added. */
  settings: Record<string, string>;
  httpPort?: number;
  /** The durable RPC listener's port; default 0, any free port. */
  rpcPort?: number;
  /** Settings the ports came from, named when a port is taken. */
  portSettings?: { http?: string; rpc?: string };
  /** The only key a caller needs for the API (a host key named `default`, as in Azure). */
  functionKey: string;
  simulator?: Omit<SimulatorOptions, 'clock'>;
  /** Extra settings computed before the app loads (e.g. the local Service Bus connection). */
  extraSettings?: Record<string, string>;
  log?: (line: string) => void;
}

export interface LocalFactory {
  sim: AzureSimulator;
  world: StandardWorld;
  host: LocalHost;
  http: HttpFrontEnd;
  timers: TimerScheduler;
  /** The local AMQP peer, when ServiceBusConnection names it. */
  serviceBus?: ServiceBusPeer;
  /** Service Bus triggers, when a Service Bus connection is configured. */
  serviceBusTriggers?: ServiceBusTriggers;
  /**
   * The host's keys, random per start except the function key (see docs/runbook.md "Local keys"):
   * `master` opens everything (admin routes, Durable webhooks), `system` is the durable
   * extension's key (Durable webhooks and the RPC listener), `function` only the API.
   */
  keys: LocalHostKeys;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface LocalHostKeys {
  function: string;
  master: string;
  system: string;
}

export async function startLocalFactory(options: LocalFactoryOptions): Promise<LocalFactory> {
  mkdirSync(options.dataDirectory, { recursive: true });
  const log = options.log ?? (() => undefined);
  const sim = await startAzureSimulator({ ...options.simulator, clock: options.clock });
  const world = createStandardWorld(sim);
  const settings = { ...options.settings, ...options.extraSettings };
  const peerPlan = localPeerPlan(settings.ServiceBusConnection);
  const serviceBus = peerPlan
    ? await startLocalPeer(
        peerPlan,
        [
          settings.APPROVAL_REQUESTS_QUEUE ?? 'approval-requests',
          settings.APPROVAL_DECISIONS_QUEUE ?? 'approval-decisions',
          settings.APPROVAL_REJECTS_QUEUE ?? 'approval-rejects',
        ],
        log,
      )
    : undefined;
  const env: Record<string, string> = {
    ...options.settings,
    ...settingsForWorld(sim, world, { caFile: path.join(options.dataDirectory, 'simulator-ca.pem') }),
    ...pipelineSettingsForWorld(world),
    // The simulator finishes short operations at the first poll: no need to wait 2 s per poll.
    ARM_POLL_INTERVAL_MS: '20',
    ...options.extraSettings,
    // Port 0 in the settings means "any free port": the app gets the one the peer took.
    ...(serviceBus ? { ServiceBusConnection: serviceBus.connectionString } : {}),
  };
  const app = await startFactoryHost({
    env,
    clock: options.clock,
    dataDirectory: options.dataDirectory,
    httpPort: options.httpPort ?? 7071,
    ...(options.rpcPort === undefined ? {} : { rpcPort: options.rpcPort }),
    ...(options.portSettings === undefined ? {} : { portSettings: options.portSettings }),
    functionKey: options.functionKey,
    log,
  }).catch(async (error: unknown) => {
    await sim.stop();
    await serviceBus?.stop();
    throw error;
  });
  return {
    ...app,
    sim,
    world,
    ...(serviceBus ? { serviceBus } : {}),
    async stop() {
      await app.stop();
      await sim.stop();
      await serviceBus?.stop();
    },
  };
}

export interface FactoryHostOptions {
  /** The app's settings, with Azure's endpoints and credentials already in them. */
  env: Record<string, string>;
  clock: Clock;
  /** Where the host's SQLite files live: a host started again on the same directory resumes. */
  dataDirectory: string;
  /** 0 picks a free port. */
  httpPort: number;
  /** Default 0: any free port, so two factories on one machine do not collide. */
  rpcPort?: number;
  portSettings?: { http?: string; rpc?: string };
  functionKey: string;
  /** Default: the app's host.json at the repository root. */
  hostJsonPath?: string;
  log: (line: string) => void;
}

export type FactoryHost = Pick<
  LocalFactory,
  'host' | 'http' | 'timers' | 'serviceBusTriggers' | 'keys' | 'env' | 'stop'
>;

/** The app's host.json (repo root, or next to the compiled output), as the Functions host reads it. */
function hostJsonOption(): { hostJson?: string } {
  const file = findHostJson(__dirname);
  return file === undefined ? {} : { hostJson: file };
}

/**
 * What the Functions host is to the app: the durable host running the unmodified app, its HTTP
 * front end, timers and Service Bus triggers, against whatever Azure `env` names (the crash suite
 * runs this in a process of its own and kills it, while the simulated Azure lives on).
 */
export async function startFactoryHost(options: FactoryHostOptions): Promise<FactoryHost> {
  const { log } = options;
  mkdirSync(options.dataDirectory, { recursive: true });
  const env = { ...options.env };
  const host = await LocalHost.start({
    appEntry: path.resolve(__dirname, '../functions/index'),
    env,
    clock: options.clock,
    databasePath: path.join(options.dataDirectory, 'durable.sqlite'),
    log,
    // The app's own host.json: task hub name, functionTimeout, concurrency, Service Bus
    // (src/local/host/host-json.ts).
    ...(options.hostJsonPath === undefined ? hostJsonOption() : { hostJson: options.hostJsonPath }),
  });
  const invoke = host.invokeFunction.bind(host);
  // The durable extension's system key, shared by the front end and the binding data given to
  // non-HTTP triggers (timers), so their df.getClient() calls reach this host. The master key is
  // random too and distinct from the function key: with master = function key, whoever could
  // call the API could also drive the Durable webhooks (issue 14).
  const systemKey = randomBytes(32).toString('base64url');
  const masterKey = randomBytes(32).toString('base64url');
  const http = await startHttpFrontEnd({
    registry: host.registry,
    engine: host.engine,
    invoke,
    port: options.httpPort,
    rpcPort: options.rpcPort ?? 0,
    ...(options.portSettings === undefined ? {} : { portSettings: options.portSettings }),
    keys: {
      functionKeys: {},
      hostKeys: { default: options.functionKey },
      masterKey,
      durableTaskExtensionKey: systemKey,
    },
    taskHubName: host.settings.hubName,
    log,
  }).catch(async (error: unknown) => {
    // A port that is taken must not leave the host running behind the error.
    await host.stop();
    throw error;
  });
  const taskHubName = host.settings.hubName;
  if (env.WEBSITE_HOSTNAME === undefined) {
    // As the host does in Azure: df.getClient otherwise writes localhost:7071 into every Durable
    // link, which is wrong whenever the front end listens elsewhere.
    env.WEBSITE_HOSTNAME = `localhost:${new URL(http.url).port}`;
    process.env.WEBSITE_HOSTNAME = env.WEBSITE_HOSTNAME;
  }
  const timers = await TimerScheduler.start({
    registry: host.registry,
    // Timer functions with a durable client input get the binding data the host injects.
    invoke: (name, triggerInput, invokeOptions) => {
      const fn = host.registry.functions.get(name);
      const extraInputs = fn
        ? durableClientInputs(fn, { engine: host.engine, taskHubName, front: http, systemKey })
        : {};
      return host.invokeFunction(name, triggerInput, {
        ...invokeOptions,
        extraInputs: { ...extraInputs, ...invokeOptions.extraInputs },
      });
    },
    clock: options.clock,
    env,
    databasePath: path.join(options.dataDirectory, 'timers.sqlite'),
    log,
  });
  host.addDueWorkSource(timers);
  const serviceBusConfigured = Boolean(
    env.ServiceBusConnection || env.ServiceBusConnection__fullyQualifiedNamespace,
  );
  const serviceBusTriggers = serviceBusConfigured
    ? bindServiceBusTriggers({
        functions: host.registry.byTriggerType('serviceBusTrigger'),
        env,
        invoke,
        durableClient: { engine: host.engine, taskHubName, front: http, systemKey },
        // The app's host.json, as the Functions host reads it for the Service Bus extension.
        hostSettings: host.settings.serviceBus,
        log,
      })
    : undefined;
  return {
    host,
    http,
    timers,
    ...(serviceBusTriggers ? { serviceBusTriggers } : {}),
    keys: { function: options.functionKey, master: masterKey, system: systemKey },
    env,
    async stop() {
      await serviceBusTriggers?.close();
      await timers.stop();
      await http.close();
      await host.stop();
    },
  };
}
