import {
  startAzureSimulator,
  createStandardWorld,
  type AzureSimulator,
  type StandardWorld,
} from '../../src/local/azure-sim';
import type { SimulatorOptions } from '../../src/local/azure-sim/api';
import { loadConfig, type AppConfig } from '../../src/config';
import { createAzurePorts } from '../../src/adapters';
import type { AzurePorts } from '../../src/ports/azure';
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
