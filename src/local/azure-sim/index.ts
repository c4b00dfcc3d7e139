/**
 * Entry point of the simulated Azure (ARM + Entra + managed identity + a small Blob endpoint).
 * See FIDELITY.md for what it models and where it knowingly differs from Azure.
 */
import type { AzureSimulator, SimulatorOptions } from './api';
import { computeRoutes } from './providers/compute';
import { runCommandRoutes } from './providers/runcommands';
import { imageBuilderRoutes, runningImageBuilds, tickImageBuilder } from './providers/imagebuilder';
import { providerRegistrationRoutes } from './providers/registration';
import { resourceRoutes } from './providers/resources';
import { resourceGraphRoutes } from './providers/resourcegraph';
import { Simulator } from './sim';
import { eventGridDataPlane } from './eventgrid';

export type {
  AzureSimulator,
  SimulatorOptions,
  FaultPlan,
  FaultKind,
  IssuedCredential,
  RunCommandScript,
  SimRequestRecord,
} from './api';
export { createStandardWorld, type StandardWorld } from './world';
export type { SecurityFindings } from './providers/security-gate-vm';

export async function startAzureSimulator(options: SimulatorOptions = {}): Promise<AzureSimulator> {
  const sim = new Simulator(options);
  sim.registerRoutes(resourceRoutes);
  sim.registerRoutes(providerRegistrationRoutes);
  sim.registerRoutes(computeRoutes);
  sim.registerRoutes(runCommandRoutes);
  sim.registerRoutes(imageBuilderRoutes);
  sim.registerRoutes(resourceGraphRoutes);
  sim.registerDataPlane(eventGridDataPlane);
  sim.onTick((now) => tickImageBuilder(sim, now));
  sim.runningImageBuildsProvider = (now) => runningImageBuilds(sim, now);
  await sim.start(options.port);
  return sim;
}
