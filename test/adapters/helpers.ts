import {
  startAzureSimulator,
  createStandardWorld,
  type AzureSimulator,
  type StandardWorld,
} from '../../src/local/azure-sim';
import type { SimulatorOptions } from '../../src/local/azure-sim/api';
import { loadConfig, type AppConfig } from '../../src/config';
import { createAzurePorts } from '../../src/adapters';
import type {
  AzurePorts,
  ImageTemplateSpec,
  ImageTemplateStatus,
  RunCommandResult,
  VmRef,
} from '../../src/ports/azure';
import { settingsForWorld } from '../../src/local/world-settings';
import { FactoryError } from '../../src/shared/errors';
import { VirtualClock } from '../../src/shared/clock';

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
