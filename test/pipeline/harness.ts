/**
 * The one harness of the pipeline, fault, secrets, bad-input and crash suites:
 * - startFactory: a factory on the local host + simulated Azure + virtual clock: the unmodified
 *   app, the real durable-functions replay, the real SDK clients; only Azure and the clock are ours;
 * - useFactory: startFactory for one describe block (beforeAll/afterAll);
 * - randomHostKeys, startFrontEnd, keyedApi: the app's HTTP front end on a free port, with keys, and
 *   JSON calls to it with the host key;
 * - decisionFor: the approval decision release management sends for a pending approval;
 * - EXAMPLE_PIPELINE_SETTINGS: the settings the example pipelines in pipelines/ refer to;
 * - spawnTsx, killHard: a host in a child process (crash suites), its output, SIGKILL.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { join } from 'node:path';
import { LocalHost } from '../../src/local/host';
import { startAzureSimulator, createStandardWorld } from '../../src/local/azure-sim';
import type { AzureSimulator, SimulatorOptions } from '../../src/local/azure-sim/api';
import type { StandardWorld } from '../../src/local/azure-sim/world';
import { pipelineSettingsForWorld, settingsForWorld } from '../../src/local/world-settings';
import { VirtualClock } from '../../src/shared/clock';
import { loadPipelines, loadPipelinesOrThrow } from '../../src/domain/pipeline/loader';
import { definitionDigest, type BuildInput } from '../../src/domain/pipeline/admission';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { BUILD_ORCHESTRATION, type BuildCustomStatus } from '../../src/domain/build-status';
import { approvalEventName, type ApprovalDecision } from '../../src/ports/approvals';
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { readThrough } from '../support/read-through';

export interface Factory {
  host: LocalHost;
  sim: AzureSimulator;
  world: StandardWorld;
  clock: VirtualClock;
  env: Record<string, string>;
  pipelines: Map<string, PipelineDefinition>;
  log: string[];
  /**
   * Edits this factory's copy of environments.yaml (the parsed document, placeholders unresolved);
   * served pipelines are checked against it from then on. Returns a function that restores it.
   */
  editEnvironments(edit: (document: { environments: Record<string, unknown>[] }) => void): () => void;
  /**
   * Starts a build as the API does (name + digest). A definition that differs from the served one
   * (a test's variant) is served first: written to this factory's own PIPELINES_DIR, and the build
   * is driven past admission before the next variant may replace it.
   */
  start(pipeline: PipelineDefinition, buildId?: string): Promise<string>;
  status(id: string): Promise<BuildCustomStatus>;
  /** Drives until the build waits for the given stage's approval (or ends). */
  untilApprovalPending(id: string, stage: string): Promise<BuildCustomStatus>;
  decide(id: string, stage: string, decision: 'approved' | 'rejected', approver?: string): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;
let servedWrites = 0;
/** A distinct mtime per write: the served-definitions cache keys on it. */
function bumpMtime(file: string): void {
  const stamp = new Date(Date.UTC(2020, 0, 1) + (servedWrites += 1) * 1000);
  utimesSync(file, stamp, stamp);
}

export async function startFactory(
  options: SimulatorOptions = {},
  settings: Record<string, string> = {},
  /** Where the virtual clock starts; real time for anything that stamps messages with it (Service Bus). */
  startAt = Date.UTC(2026, 10, 10, 6, 0, 0),
): Promise<Factory> {
  const clock = new VirtualClock(startAt);
  const sim = await startAzureSimulator({
    clock,
    seed: 7,
    tokenLifetimeMs: 365 * 24 * 3600_000,
    ...options,
  });
  const world = createStandardWorld(sim);
  const dir = mkdtempSync(join(tmpdir(), 'factory-test-'));
  // The factory's own copy of the served pipelines, so a test's variant can be served.
  const pipelinesDir = join(dir, 'pipelines');
  mkdirSync(pipelinesDir);
  // And of the environments, which a test may edit (editEnvironments).
  const environmentsFile = join(dir, 'environments.yaml');
  copyFileSync('environments.yaml', environmentsFile);
  for (const file of readdirSync('pipelines').filter((name) => /\.(ya?ml|json)$/.test(name)))
    copyFileSync(join('pipelines', file), join(pipelinesDir, file));
  const env: Record<string, string> = {
    TASK_HUB_NAME: 'ImageFactoryTest',
    PIPELINES_DIR: pipelinesDir,
    ENVIRONMENTS_FILE: environmentsFile,
    ARM_POLL_INTERVAL_MS: '1',
    ...settingsForWorld(sim, world, { caFile: join(dir, 'ca.pem') }),
    ...pipelineSettingsForWorld(world),
    ...settings,
  };
  const log: string[] = [];
  const host = await LocalHost.start({
    // Without an extension: the TypeScript under tsx and jest, the compiled app under bench P1.
    appEntry: join(__dirname, '../../src/functions/index'),
    env,
    clock,
    log: (line) => log.push(line),
    // The app's host.json, as the Functions host reads it (functionTimeout 10 min, hub name…).
    hostJson: 'host.json',
  });
  const pipelines = loadPipelinesOrThrow('pipelines', env);
  /** Builds whose admission may not have run yet (their served definition must stay as it is). */
  const unadmitted: string[] = [];
  const admitted = async (id: string) => {
    const s = await host.getStatus(id);
    return (s?.runtimeStatus !== 'Running' && s?.runtimeStatus !== 'Pending') || !!s?.customStatus;
  };
  const statusOf = async (id: string) => (await host.getStatus(id))?.customStatus as BuildCustomStatus;
  return {
    host,
    sim,
    world,
    clock,
    env,
    pipelines,
    log,
    editEnvironments(edit) {
      const original = readFileSync(environmentsFile, 'utf8');
      const document = parseYaml(original) as { environments: Record<string, unknown>[] };
      edit(document);
      writeFileSync(environmentsFile, stringifyYaml(document));
      bumpMtime(environmentsFile);
      return () => {
        writeFileSync(environmentsFile, original);
        bumpMtime(environmentsFile);
      };
    },
    async start(pipeline, buildId = `b${Date.now().toString(36)}${(counter++).toString(36)}`) {
      const digest = definitionDigest(pipeline);
      const served = loadPipelines(pipelinesDir, env).pipelines.get(pipeline.name);
      if (served === undefined || definitionDigest(served) !== digest) {
        // Builds started before must be past admission before their definition is replaced.
        await host.drive({ until: async () => (await Promise.all(unadmitted.map(admitted))).every(Boolean) });
        unadmitted.length = 0;
        for (const file of readdirSync(pipelinesDir))
          if (file.replace(/\.(ya?ml|json)$/, '') === pipeline.name) rmSync(join(pipelinesDir, file));
        const file = join(pipelinesDir, `${pipeline.name}.json`);
        writeFileSync(file, JSON.stringify(pipeline));
        bumpMtime(file);
        const refused = loadPipelines(pipelinesDir, env).invalid.filter(
          (r) => r.file === `${pipeline.name}.json` || r.file === 'environments.yaml',
        );
        if (refused.length > 0)
          throw new Error(
            `the factory would not serve this variant: ${refused.flatMap((r) => r.problems.map((p) => `${r.file}: ${p.path}: ${p.message}`)).join('; ')}`,
          );
      }
      const input: BuildInput = {
        buildId,
        pipeline: pipeline.name,
        definitionDigest: digest,
        reason: 'test',
      };
      const id = await host.startNew(BUILD_ORCHESTRATION, { instanceId: buildId, input });
      unadmitted.push(id);
      return id;
    },
    status: statusOf,
    async untilApprovalPending(id, stage) {
      await host.drive({
        until: async () => {
          const s = await host.getStatus(id);
          const custom = s?.customStatus as BuildCustomStatus | null;
          return s?.runtimeStatus !== 'Running' && s?.runtimeStatus !== 'Pending'
            ? true
            : custom?.pendingApproval?.stage === stage;
        },
      });
      return statusOf(id);
    },
    async decide(id, stage, decision, approver = 'alice@contoso.com') {
      const pending = (await statusOf(id)).pendingApproval;
      if (!pending || pending.stage !== stage) throw new Error(`no pending approval for ${stage}`);
      const data = decisionFor(pending, clock, { decision, approver, changeTicket: 'CHG0012345' });
      await host.raiseEvent(id, approvalEventName(stage), data);
    },
    async stop() {
      await host.stop();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * startFactory for the describe block it is called in: started in beforeAll, stopped in afterAll.
 * The object it returns reads through to that factory (there from beforeAll on), so a suite's own
 * beforeAll, declared after, can already use it.
 */
export function useFactory(...args: Parameters<typeof startFactory>): Factory {
  let started: Factory | undefined;
  beforeAll(async () => {
    started = await startFactory(...args);
  });
  afterAll(async () => {
    await started?.stop();
  });
  return readThrough(() => started, 'the factory');
}

type PendingApproval = NonNullable<BuildCustomStatus['pendingApproval']>;

/** The decision on a pending approval, decided now on `clock` (overrides: who, what, which ticket…). */
export function decisionFor(
  pending: PendingApproval,
  clock: { now(): number },
  overrides: Partial<ApprovalDecision> & Pick<ApprovalDecision, 'decision' | 'approver' | 'changeTicket'>,
): ApprovalDecision {
  const { decision, approver, changeTicket, ...rest } = overrides;
  // The key order of the decisions the suites always built by hand.
  return {
    requestId: pending.requestId,
    buildId: pending.buildId,
    stage: pending.stage,
    imageVersion: pending.imageVersion,
    decision,
    approver,
    changeTicket,
    decidedAt: new Date(clock.now()).toISOString(),
    ...rest,
  };
}

/** The function host's keys of a suite: the host key the API takes, master, durable extension's. */
export interface HostKeys {
  host: string;
  master: string;
  system?: string;
}

/** Random keys, so a secrets scan can look for them. */
export function randomHostKeys(): Required<HostKeys> {
  return {
    host: randomBytes(24).toString('base64url'),
    master: randomBytes(24).toString('base64url'),
    system: randomBytes(24).toString('base64url'),
  };
}

/** The app's HTTP front end on a free port, over the factory's host, accepting `keys`. */
export function startFrontEnd(
  factory: Factory,
  keys: HostKeys,
  options: { maxRequestBodySize?: number } = {},
): Promise<HttpFrontEnd> {
  return startHttpFrontEnd({
    registry: factory.host.registry,
    engine: factory.host.engine,
    invoke: factory.host.invokeFunction.bind(factory.host),
    port: 0,
    keys: {
      functionKeys: {},
      hostKeys: { default: keys.host },
      masterKey: keys.master,
      ...(keys.system === undefined ? {} : { durableTaskExtensionKey: keys.system }),
    },
    taskHubName: factory.env.TASK_HUB_NAME ?? 'ImageFactoryTest',
    ...options,
  });
}

/**
 * `api(method, path, body?)`: a JSON call to the front end (its URL read at call time) with the
 * host key, through `fetchJson` (e.g. SecretsScan.fetch, which records every answer).
 */
export function keyedApi<T>(
  fetchJson: (url: string, init: RequestInit) => Promise<T>,
  frontUrl: () => string,
  hostKey: string,
): (method: string, path: string, body?: unknown) => Promise<T> {
  return (method, path, body) =>
    fetchJson(`${frontUrl()}${path}`, {
      method,
      headers: { 'x-functions-key': hostKey, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
}

/** Settings the example pipelines in pipelines/ refer to (fixed ids; no world behind them). */
export const EXAMPLE_PIPELINE_SETTINGS: Readonly<Record<string, string>> = {
  BUILD_IDENTITY_ID:
    '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-image-factory/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-image-builder',
  BUILD_IDENTITY_PRINCIPAL_ID: '0b0b0b0b-0000-4000-8000-000000000001',
  BUILD_STAGING_RESOURCE_GROUP_PREFIX: 'rg-eng-aib-staging-',
  TEST_SUBNET_ID:
    '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-test/subnets/snet-test',
  ENG_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  ENG_SUBSCRIPTION_ID: 'aaaaaaaa-0000-4000-8000-000000000001',
  TEST_TENANT_ID: '22222222-2222-4222-8222-222222222222',
  TEST_SUBSCRIPTION_ID: 'bbbbbbbb-0000-4000-8000-000000000002',
  PROD_TENANT_ID: '33333333-3333-4333-8333-333333333333',
  PROD_SUBSCRIPTION_ID: 'cccccccc-0000-4000-8000-000000000003',
  TEMPLATE_RESOURCE_GROUP: 'rg-imgfactory-templates',
  TEST_VM_RESOURCE_GROUP: 'rg-imgfactory-tests',
  ENG_GALLERY_RESOURCE_GROUP: 'rg-imgfactory',
  ENG_GALLERY_NAME: 'galimgfactory_eng',
  TEST_GALLERY_RESOURCE_GROUP: 'rg-images',
  TEST_GALLERY_NAME: 'gal_test',
  PROD_GALLERY_RESOURCE_GROUP: 'rg-images',
  PROD_GALLERY_NAME: 'gal_prod',
};

/** A TypeScript entry (run with tsx) in a child process, and what it has printed so far. */
export interface TsxChild {
  child: ChildProcessWithoutNullStreams;
  /** Everything printed on stdout and stderr, in order. */
  output(): string;
  exited: Promise<void>;
}

/**
 * Starts `script` with tsx in a child process of its own (outside jest's worker: JEST_WORKER_ID is
 * cleared). `onLine` sees each complete line of stdout and stderr as it arrives.
 */
export function spawnTsx(
  script: string,
  args: string[],
  options: {
    env?: Record<string, string>;
    onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  } = {},
): TsxChild {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { ...process.env, ...options.env, JEST_WORKER_ID: '' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  for (const stream of ['stdout', 'stderr'] as const) {
    let pending = '';
    child[stream].on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!options.onLine) return;
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onLine(line, stream);
    });
  }
  return { child, output: () => output, exited };
}

/** SIGKILL, and wait until the process is gone. */
export async function killHard(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}
