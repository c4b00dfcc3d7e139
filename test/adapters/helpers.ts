/**
 * The harness of the adapter suites (and of the simulator and retention suites that reuse it): the
 * real adapters (createAzurePorts, real SDK clients) against the simulated Azure on a virtual clock.
 * It owns starting and stopping that pair (startHarness, useHarness), the ENG image template the
 * Image Builder suites build on (templateSpec), and the long-running calls driven to their end on
 * the moving clock as the orchestration drives them.
 */
import {
  startAzureSimulator,
  createStandardWorld,
  type AzureSimulator,
  type StandardWorld,
} from '../../src/local/azure-sim';
import type { SimulatorOptions } from '../../src/local/azure-sim/api';
import type { TenantFacts } from '../../src/local/azure-sim/world';
import { loadConfig, type AppConfig } from '../../src/config';
import { createAzurePorts } from '../../src/adapters';
import type {
  AzurePorts,
  ImageDefinitionSpec,
  ImageTemplateRef,
  ImageTemplateSpec,
  ImageTemplateStatus,
  RunCommandResult,
  VmRef,
} from '../../src/ports/azure';
import { settingsForWorld } from '../../src/local/world-settings';
import { FactoryError } from '../../src/shared/errors';
import { VirtualClock } from '../../src/shared/clock';
import { readThrough } from '../support/read-through';

export interface Harness {
  sim: AzureSimulator;
  world: StandardWorld;
  clock: VirtualClock;
  env: Record<string, string>;
  config: AppConfig;
  ports: AzurePorts;
  logs: string[];
  stop(): Promise<void>;
}

export async function startHarness(options: SimulatorOptions = {}): Promise<Harness> {
  const clock = new VirtualClock();
  const sim = await startAzureSimulator({ clock, seed: 7, ...options });
  const world = createStandardWorld(sim);
  const env: Record<string, string> = { TASK_HUB_NAME: 'ImageFactory', ...settingsForWorld(sim, world) };
  const config = loadConfig(env);
  // ManagedIdentityCredential reads these from the process environment (jest isolates it per file).
  process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
  const logs: string[] = [];
  const ports = createAzurePorts(config, { env, log: (line) => logs.push(line), updateIntervalInMs: 5 });
  return { sim, world, clock, env, config, ports, logs, stop: () => sim.stop() };
}

/** Runs `fn`, expecting a FactoryError; returns it. */
export async function expectFactoryError(fn: () => Promise<unknown>): Promise<FactoryError> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof FactoryError)) {
    throw new Error(
      `expected a FactoryError, got ${thrown === undefined ? 'success' : thrown instanceof Error ? thrown.message : JSON.stringify(thrown)}`,
    );
  }
  return thrown;
}

/** Asserts no secret of the world (or any token) appears in the error's JSON. */
export function assertNoSecrets(error: FactoryError, world: StandardWorld): void {
  const text = JSON.stringify({ ...error.toJSON(), message: error.message, stack: error.stack });
  expect(text).not.toContain(world.factoryApp.clientSecret);
  expect(text).not.toContain('PRIVATE KEY');
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  expect(text).not.toMatch(/Bearer [A-Za-z0-9]/);
}

/**
 * Registers beforeAll/afterAll in the describe block it is called in: a harness for the block. The
 * object it returns reads through to that harness (there from beforeAll on), so a suite's own
 * beforeAll, declared after, can already use it.
 */
export function useHarness(options: SimulatorOptions = {}): Harness {
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness(options);
  });
  afterAll(async () => started?.stop());
  return readThrough(() => started, 'the harness');
}

/** An image template `name` in the world's template group (ENG subscription). */
export function templateRef(h: Harness, name: string): ImageTemplateRef {
  return { subscriptionId: h.world.eng.subscriptionId, resourceGroup: h.world.templateResourceGroup, name };
}

/**
 * A generalized Gen2 Linux image definition `image` in the tenant's gallery, in its location;
 * `overrides` replace whole fields (osType, securityType…).
 */
export function imageDefinition(
  t: TenantFacts,
  image: string,
  identifier: ImageDefinitionSpec['identifier'],
  overrides: Partial<ImageDefinitionSpec> = {},
): ImageDefinitionSpec {
  return {
    subscriptionId: t.subscriptionId,
    resourceGroup: t.galleryResourceGroup,
    gallery: t.galleryName,
    image,
    location: t.location,
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    identifier,
    ...overrides,
  };
}

export interface TemplateSpecOptions {
  name: string;
  /** The ENG gallery image the template distributes to, and the version it creates. */
  image: string;
  version: string;
  /** The world's Ubuntu platform image version the build starts from. */
  sourceVersion?: string;
  runOutputName?: string;
  excludeFromLatest?: boolean;
}

/**
 * An image template in the world's template group: Ubuntu platform image → one Shell customizer →
 * the ENG gallery; tagged with its run (`image-factory-run: name`). `overrides` replace whole fields.
 */
export function templateSpec(
  h: Harness,
  options: TemplateSpecOptions,
  overrides: Partial<ImageTemplateSpec> = {},
): ImageTemplateSpec {
  const u = h.world.platformImages.ubuntu;
  return {
    ...templateRef(h, options.name),
    location: 'westeurope',
    buildIdentityId: h.world.buildIdentity.id,
    vmSize: 'Standard_D2s_v5',
    osDiskSizeGB: 64,
    buildTimeoutInMinutes: 120,
    source: {
      type: 'PlatformImage',
      publisher: u.publisher,
      offer: u.offer,
      sku: u.sku,
      version: options.sourceVersion ?? 'latest',
    },
    customizers: [{ type: 'Shell', name: 'harden', inline: ['echo hardening'] }],
    distribute: {
      galleryImageVersionId: `${h.world.eng.galleryId}/images/${options.image}/versions/${options.version}`,
      runOutputName: options.runOutputName ?? 'eng-gallery',
      targetRegions: [{ name: 'westeurope', replicaCount: 1, storageAccountType: 'Standard_LRS' }],
      excludeFromLatest: options.excludeFromLatest ?? false,
    },
    tags: { 'image-factory-run': options.name },
    ...overrides,
  };
}

let runCommandCounter = 0;

/**
 * Runs a script to its end as the orchestration does: start the managed Run Command (returns once
 * accepted), then move the virtual clock and read its instance view until it has a result.
 */
export async function runCommandToEnd(
  h: Harness,
  credential: string,
  vm: VmRef,
  command: { shell: 'Shell' | 'PowerShell'; script: string; timeoutSeconds: number },
): Promise<RunCommandResult> {
  const name = `test-script-${(runCommandCounter += 1)}`;
  const vms = h.ports.testVms(credential);
  await vms.startRunCommand(vm, { name, ...command });
  for (let reads = 0; reads < 200; reads++) {
    const progress = await vms.getRunCommand(vm, name);
    if (progress?.result !== undefined) return progress.result;
    h.clock.advanceBy(30_000);
  }
  throw new Error(`run command ${name} never ended`);
}

/** Tears a VM down as the orchestration does: call deleteVm and move the clock until nothing remains. */
export async function deleteVmToEnd(h: Harness, credential: string, vm: VmRef): Promise<void> {
  for (let calls = 0; calls < 50; calls++) {
    const { remaining } = await h.ports.testVms(credential).deleteVm(vm);
    if (remaining.length === 0) return;
    h.clock.advanceBy(15_000);
  }
  throw new Error(`test VM ${vm.name} was never deleted`);
}

/** Creates a template and reads it on the moving clock until provisioned (throws its failure). */
export async function provisionTemplate(
  h: Harness,
  credential: string,
  spec: ImageTemplateSpec,
): Promise<ImageTemplateStatus> {
  const builder = h.ports.imageBuilder(credential);
  await builder.createTemplate(spec);
  for (let reads = 0; reads < 40; reads++) {
    const status = await builder.templateProvisioning(spec);
    if (status?.provisioningState === 'Succeeded') return status;
    h.clock.advanceBy(15_000);
  }
  throw new Error(`image template ${spec.name} was never provisioned`);
}
