/**
 * P3 end to end: the poll loop against the simulated Azure through the real ImageBuilder adapter
 * (createAzurePorts + settingsForWorld), on a VirtualClock. For every generated duration a template
 * is created and run; the loop reads getTemplate per the policy while the clock is advanced, and
 * the reads are counted by the simulator (`GET Microsoft.VirtualMachineImages/imageTemplates`).
 */
import { createAzurePorts } from '../src/adapters';
import { loadConfig } from '../src/config';
import { startAzureSimulator, createStandardWorld, type AzureSimulator } from '../src/local/azure-sim';
import { settingsForWorld } from '../src/local/world-settings';
import type { ImageBuilderPort, ImageTemplateRef, ImageTemplateSpec } from '../src/ports/azure';
import { VirtualClock } from '../src/shared/clock';
import { DEFAULT_BUILD_POLL_DEFAULTS } from '../src/domain/polling';
import { generateTotalDurations, simulatorShaped } from './generators';
import {
  adaptivePoller,
  figures,
  fixedPoller,
  historyOf,
  type PollFigures,
  type PollObservation,
  type PollOutcome,
  type Poller,
} from './p3-polling';

const IMAGE = 'bench-polling';
const READ_OP = 'GET Microsoft.VirtualMachineImages/imageTemplates';

/**
 * The simulator takes one build duration at start (SimulatorOptions.durations.buildMs). Until it has
 * a public setter, the bench sets the duration of the next run on the running simulator's
 * `durations` object (read at run start). Stopgap: asked the azure-sim owner for an additive API.
 */
function setNextBuildMs(sim: AzureSimulator, buildMs: number): void {
  const internals = sim as unknown as { durations?: { buildMs: number } };
  if (internals.durations === undefined)
    throw new Error('simulator exposes no durations: cannot vary buildMs');
  internals.durations.buildMs = buildMs;
}

async function waitForRun(
  sim: AzureSimulator,
  clock: VirtualClock,
  builder: ImageBuilderPort,
  ref: ImageTemplateRef,
  buildMs: number,
  poller: Poller,
): Promise<PollOutcome> {
  const startedAt = clock.now();
  const before = sim.callCounts()[READ_OP] ?? 0;
  let obs: PollObservation = { elapsedMs: 0, runSubState: 'Queued', subStateSeenAtMs: 0 };
  for (;;) {
    const delay = poller(obs);
    clock.advanceTo(startedAt + obs.elapsedMs + delay);
    const t = clock.now() - startedAt;
    const status = await builder.getTemplate(ref);
    const run = status?.lastRun;
    if (run === undefined) throw new Error(`template ${ref.name} has no run`);
    if (run.runState !== 'Running') {
      if (run.runState !== 'Succeeded')
        throw new Error(`run ${ref.name} ended ${run.runState}: ${run.message ?? ''}`);
      const reads = (sim.callCounts()[READ_OP] ?? 0) - before;
      return { reads, lagMs: t - buildMs, durationMs: buildMs };
    }
    const sub = run.runSubState ?? obs.runSubState;
    obs =
      sub === obs.runSubState
        ? { ...obs, elapsedMs: t }
        : { elapsedMs: t, runSubState: sub, subStateSeenAtMs: t, subStateNotSeenAtMs: obs.elapsedMs };
  }
}

/**
 * A template PUT is a long-running operation (Azure answers Creating, then Succeeded) and a run of a
 * template not yet Succeeded is refused with BadRequest, as Azure does: wait for it on the clock.
 */
async function untilProvisioned(
  clock: VirtualClock,
  builder: ImageBuilderPort,
  ref: ImageTemplateRef,
): Promise<void> {
  const deadline = clock.now() + 30 * 60_000;
  for (;;) {
    const state = (await builder.templateProvisioning(ref))?.provisioningState;
    if (state === 'Succeeded') return;
    if (clock.now() >= deadline) throw new Error(`template ${ref.name} still ${String(state)} after 30 min`);
    clock.advanceTo(clock.now() + 15_000);
  }
}

export interface P3EndToEndResult {
  fixed30: PollFigures;
  fixed60: PollFigures;
  adaptive: PollFigures;
}

export async function runP3EndToEnd(seed: number, count: number): Promise<P3EndToEndResult> {
  const clock = new VirtualClock();
  // many multi-hour runs back to back on one virtual clock: tokens must outlive them all
  const sim = await startAzureSimulator({ clock, seed, tokenLifetimeMs: 365 * 24 * 3_600_000 });
  try {
    const world = createStandardWorld(sim);
    const env: Record<string, string> = { TASK_HUB_NAME: 'ImageFactory', ...settingsForWorld(sim, world) };
    const config = loadConfig(env);
    process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
    const ports = createAzurePorts(config, { env, updateIntervalInMs: 1 });
    const eng = world.eng;
    await ports.galleries('eng').ensureImageDefinition({
      subscriptionId: eng.subscriptionId,
      resourceGroup: eng.galleryResourceGroup,
      gallery: eng.galleryName,
      image: IMAGE,
      location: eng.location,
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      identifier: { publisher: 'Contoso', offer: 'bench', sku: 'polling' },
    });
    const builder = ports.imageBuilder('eng');
    const u = world.platformImages.ubuntu;
    const spec = (name: string, version: string): ImageTemplateSpec => ({
      subscriptionId: eng.subscriptionId,
      resourceGroup: world.templateResourceGroup,
      name,
      location: eng.location,
      buildIdentityId: world.buildIdentity.id,
      vmSize: 'Standard_D2s_v5',
      osDiskSizeGB: 64,
      buildTimeoutInMinutes: 960,
      source: {
        type: 'PlatformImage',
        publisher: u.publisher,
        offer: u.offer,
        sku: u.sku,
        version: 'latest',
      },
      customizers: [{ type: 'Shell', name: 'harden', inline: ['echo hardening'] }],
      distribute: {
        galleryImageVersionId: `${eng.galleryId}/images/${IMAGE}/versions/${version}`,
        runOutputName: 'eng',
        targetRegions: [{ name: eng.location, replicaCount: 1, storageAccountType: 'Standard_LRS' }],
        excludeFromLatest: true,
      },
      tags: { 'image-factory-bench': 'p3' },
    });
    const durations = generateTotalDurations(seed + 3, count);
    // past runs as the factory would have recorded them from this simulator's sub-state shares
    const history = historyOf(generateTotalDurations(seed + 2, 100).map(simulatorShaped));
    const policies: [keyof P3EndToEndResult, Poller][] = [
      ['fixed30', fixedPoller(30_000)],
      ['fixed60', fixedPoller(60_000)],
      ['adaptive', adaptivePoller(history, DEFAULT_BUILD_POLL_DEFAULTS)],
    ];
    const result: Partial<P3EndToEndResult> = {};
    for (const [p, [key, poller]] of policies.entries()) {
      const outcomes: PollOutcome[] = [];
      for (const [i, buildMs] of durations.entries()) {
        const ref = {
          subscriptionId: eng.subscriptionId,
          resourceGroup: world.templateResourceGroup,
          name: `p3-${key}-${i}`,
        };
        await builder.createTemplate(spec(ref.name, `1.${p}.${i}`));
        await untilProvisioned(clock, builder, ref);
        setNextBuildMs(sim, buildMs);
        await builder.startRun(ref);
        outcomes.push(await waitForRun(sim, clock, builder, ref, buildMs, poller));
      }
      result[key] = figures(outcomes);
    }
    return result as P3EndToEndResult;
  } finally {
    await sim.stop();
  }
}
