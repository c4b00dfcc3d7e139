/**
 * GET /api/fleet: what an operator opens the console for, in one answer (the fleet page polls it):
 * approvals pending across builds, per pipeline the version that is latest in each stage's tenant
 * and since when, its next cadence slot and recent build durations, the revocations, and the builds.
 */
import { BUILD_ORCHESTRATION, REVOKE_ORCHESTRATION } from '../domain/build-status';
import type { BuildCustomStatus } from '../domain/build-status';
import { nextSlot } from '../domain/cadence';
import { buildView, type BuildsClient, type InstanceView, type Pipelines } from './builds-api';
import { revocationView } from './revocations';

/** How many builds the answer carries (newest first); the builds list API pages through all. */
const FLEET_BUILDS = 200;

type View = ReturnType<typeof buildView> & { revoked: boolean };
const text = (value: unknown) => (typeof value === 'string' ? value : '');

/**
 * The factory's "now": the machine's clock, or the newest instance update when that is later
 * (locally the durable host runs a sped-up clock ahead of this machine's; times left to a deadline
 * are then counted on the factory's time, as the deadline was set).
 */
function asOf(instances: InstanceView[], now: number): string {
  const newest = Math.max(now, ...instances.map((i) => Date.parse(i.lastUpdatedTime) || 0));
  return new Date(newest).toISOString();
}

export function fleetView(
  instances: InstanceView[],
  pipelines: Pipelines,
  options: { now: number; cadenceEnabled: boolean },
): Record<string, unknown> {
  const at = asOf(instances, options.now);
  const revocations = instances
    .filter((i) => i.name === REVOKE_ORCHESTRATION)
    .map(revocationView)
    .sort((a, b) => text(b.createdTime).localeCompare(text(a.createdTime)));
  const revoked = new Set(
    revocations.filter((r) => r.state !== 'failed').map((r) => `${text(r.pipeline)}@${text(r.version)}`),
  );
  const builds: View[] = instances
    .filter((i) => i.name === BUILD_ORCHESTRATION)
    .map((i): View => {
      const view = buildView(i);
      return { ...view, revoked: revoked.has(`${text(view.pipeline)}@${text(view.imageVersion)}`) };
    })
    .sort(
      (a, b) =>
        text(b.createdTime).localeCompare(text(a.createdTime)) || text(a.id).localeCompare(text(b.id)),
    );
  const pendingApprovals = builds
    .filter((b) => b.outcome === 'running' && b.pendingApproval !== undefined)
    .map((b) => {
      const p = b.pendingApproval as NonNullable<BuildCustomStatus['pendingApproval']>;
      return {
        buildId: b.id,
        pipeline: b.pipeline,
        stage: p.stage,
        imageVersion: p.imageVersion,
        requestId: p.requestId,
        requestedAt: p.requestedAt,
        deadline: p.deadline,
        msLeft: Date.parse(p.deadline) - Date.parse(at),
      };
    })
    .sort((a, b) => a.msLeft - b.msLeft);
  const perPipeline = [...pipelines.valid.values()].map((definition) => {
    const own = builds.filter((b) => b.pipeline === definition.name);
    const latest = definition.stages.map((stage) => {
      // Newest first: the first build whose version reached this stage and was not revoked since.
      for (const build of own) {
        const status = (build.stages as BuildCustomStatus['stages']).find((s) => s.name === stage.name);
        const version = text(build.imageVersion);
        if (status?.state !== 'done' || version === '' || build.outcome !== 'succeeded') continue;
        if (revoked.has(`${definition.name}@${version}`)) continue;
        return {
          stage: stage.name,
          tenantId: stage.tenantId,
          version,
          buildId: build.id,
          since: status.endedAt ?? build.lastUpdatedTime,
        };
      }
      return { stage: stage.name, tenantId: stage.tenantId };
    });
    const durations = own
      .filter((b) => b.outcome !== 'running')
      .slice(0, 30)
      .map((b) => ({
        buildId: b.id,
        createdTime: b.createdTime,
        outcome: b.outcome,
        minutes:
          Math.round((Date.parse(text(b.lastUpdatedTime)) - Date.parse(text(b.createdTime))) / 600) / 100,
      }))
      .reverse();
    return {
      name: definition.name,
      description: definition.description,
      stages: definition.stages.map((s) => s.name),
      cadence: definition.cadence,
      nextSlot:
        definition.cadence === undefined
          ? undefined
          : nextSlot(definition.cadence, new Date(at)).toISOString(),
      cadenceEnabled: options.cadenceEnabled,
      latest,
      running: own.filter((b) => b.outcome === 'running').length,
      durations,
    };
  });
  return {
    asOf: at,
    pipelines: perPipeline,
    pendingApprovals,
    revocations,
    builds: builds.slice(0, FLEET_BUILDS),
    totalBuilds: builds.length,
  };
}

export async function getFleet(
  client: BuildsClient,
  pipelines: Pipelines,
  options: { now: number; cadenceEnabled: boolean },
): Promise<{ status: number; jsonBody: unknown }> {
  return { status: 200, jsonBody: fleetView(await client.list(), pipelines, options) };
}
