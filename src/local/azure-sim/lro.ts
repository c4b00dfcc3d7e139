/**
 * How long ARM's long-running operations take in the simulated Azure, and the `Retry-After` each
 * answers while it runs. Operations end by **clock time** (the simulator clock, virtual in tests),
 * never after a number of polls: an activity that awaits one under a frozen virtual clock never
 * sees it end, as it would outlive host.json's functionTimeout in Azure.
 *
 * Sources (FIDELITY.md repeats them): recorded live traffic summarised in issue 13 item 8 and the
 * platform facts ("Added 2026-12"): gallery image version PATCH ~3 min and DELETE ~1.5 min with
 * Retry-After 60 s; VM create ~2 min with Retry-After 10–30 s; NIC delete Retry-After 10 s;
 * resource group delete Retry-After 15 s; image template PUT ~30 s and DELETE ~77 s. Where Azure's
 * value is not known the entry says so (`estimate`), and no Retry-After is sent (ARM may omit it;
 * the SDK then polls at its own interval).
 */

export type LroKind =
  | 'templateCreate'
  | 'templateDelete'
  | 'templateRun'
  | 'templateCancel'
  | 'imageDefinitionCreate'
  | 'imageDefinitionDelete'
  | 'versionCreate'
  | 'versionUpdate'
  | 'versionDelete'
  | 'vmCreate'
  | 'vmDelete'
  | 'vmRunCommand'
  | 'runCommandCreate'
  | 'runCommandDelete'
  | 'nicDelete'
  | 'diskUpdate'
  | 'diskDelete'
  | 'resourceGroupDelete';

export interface LroTiming {
  /** Clock ms from acceptance to the terminal state (some kinds end with the resource instead). */
  durationMs: number;
  /** Seconds ARM asks the client to wait between polls; undefined = header not sent. */
  retryAfterSeconds?: number;
}

export const DEFAULT_LRO_TIMINGS: Readonly<Record<LroKind, LroTiming>> = Object.freeze({
  templateCreate: { durationMs: 30_000 }, // recorded: ~30 s; Retry-After not recorded
  templateDelete: { durationMs: 77_000 }, // recorded: ~77 s
  templateRun: { durationMs: 0 }, // the run's operation is accepted; progress is lastRunStatus
  templateCancel: { durationMs: 0 },
  imageDefinitionCreate: { durationMs: 0 }, // estimate: seconds in Azure
  imageDefinitionDelete: { durationMs: 0 }, // estimate
  versionCreate: { durationMs: 0, retryAfterSeconds: 60 }, // ends with the replication (see compute.ts)
  versionUpdate: { durationMs: 3 * 60_000, retryAfterSeconds: 60 }, // recorded: ~3 min, 60 s
  versionDelete: { durationMs: 90_000, retryAfterSeconds: 60 }, // recorded: ~1.5 min, 60 s
  vmCreate: { durationMs: 2 * 60_000, retryAfterSeconds: 10 }, // recorded: ~2 min, 10–30 s
  vmDelete: { durationMs: 60_000, retryAfterSeconds: 10 }, // estimate: about a minute
  vmRunCommand: { durationMs: 30_000 }, // action Run Command: as long as the script (scriptRunCommand)
  runCommandCreate: { durationMs: 10_000 }, // managed Run Command, asyncExecution: until the script starts (estimate)
  runCommandDelete: { durationMs: 10_000 }, // estimate
  nicDelete: { durationMs: 10_000, retryAfterSeconds: 10 }, // recorded: Retry-After 10 s
  diskUpdate: { durationMs: 0 }, // estimate: a tag change is immediate
  diskDelete: { durationMs: 30_000 }, // estimate
  resourceGroupDelete: { durationMs: 15_000, retryAfterSeconds: 15 }, // recorded: Retry-After 15 s
});

/** Default run time of a test script when `scriptRunCommand` does not say (clock ms). */
export const DEFAULT_SCRIPT_DURATION_MS = 60_000;

export function resolveLroTimings(
  overrides: Partial<Record<LroKind, Partial<LroTiming>>> | undefined,
  vmCreateMs: number | undefined,
): Record<LroKind, LroTiming> {
  const out = { ...DEFAULT_LRO_TIMINGS } as Record<LroKind, LroTiming>;
  if (vmCreateMs !== undefined) out.vmCreate = { ...out.vmCreate, durationMs: vmCreateMs };
  for (const [kind, timing] of Object.entries(overrides ?? {}) as [LroKind, Partial<LroTiming>][]) {
    if (!(kind in out)) throw new Error(`unknown long-running operation kind '${kind}'`);
    if (timing.durationMs !== undefined && !(timing.durationMs >= 0))
      throw new Error(`durationMs of '${kind}' must be >= 0, got ${timing.durationMs}`);
    out[kind] = { ...out[kind], ...timing };
  }
  return out;
}
