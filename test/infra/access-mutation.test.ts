/**
 * Every entry of infra/access.json is needed: removing any one role assignment, or any one action
 * of a custom role, makes a step of the pipeline's cheap path fail (preflight, or one adapter call
 * through the real SDK against a simulated world built from the changed description). An entry no
 * step notices is either unnecessary (remove it) or a test gap (add the step).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInfraAccess, type AccessDescription } from '../../src/local/azure-sim/access';
import { runProbes, startProbeWorld, type ProbeWorld } from './access-probes';

interface Mutant {
  label: string;
  access: AccessDescription;
}

function mutants(): Mutant[] {
  const out: Mutant[] = [];
  const base = loadInfraAccess();
  for (const [key, deployment] of Object.entries(base.deployments) as [
    keyof AccessDescription['deployments'],
    AccessDescription['deployments'][keyof AccessDescription['deployments']],
  ][]) {
    deployment.assignments.forEach((assignment, index) => {
      const access = loadInfraAccess();
      access.deployments[key].assignments.splice(index, 1);
      out.push({ label: `${key} assignment ${assignment.name}`, access });
    });
    for (const [roleKey, role] of Object.entries(deployment.roles))
      for (const kind of ['actions', 'dataActions'] as const)
        for (const action of role[kind] ?? []) {
          const access = loadInfraAccess();
          const mutated = access.deployments[key].roles[roleKey];
          if (mutated === undefined) continue;
          mutated[kind] = (mutated[kind] ?? []).filter((a) => a !== action);
          out.push({ label: `${key} role ${roleKey} without ${action}`, access });
        }
  }
  return out;
}

describe('infra/access.json: every entry is needed (mutation test)', () => {
  let dir: string;
  let probe: ProbeWorld;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'access-mutation-'));
    probe = await startProbeWorld(join(dir, 'ca.pem'));
  });
  afterAll(async () => {
    await probe.sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the cheap path passes with the access infra deploys', async () => {
    await expect(runProbes(probe, loadInfraAccess())).resolves.toEqual({});
  });

  // Each mutant redeploys the world's access and runs the path until its first failing step.
  it('removing any one assignment or action makes a step fail', async () => {
    const all = mutants();
    expect(all.length).toBeGreaterThan(40);
    const unnoticed: string[] = [];
    const failedAt = new Map<string, string>();
    for (const mutant of all) {
      const result = await runProbes(probe, mutant.access);
      if (result.failedStep === undefined) unnoticed.push(mutant.label);
      else failedAt.set(mutant.label, result.failedStep);
    }
    expect(unnoticed).toEqual([]);
    // The entries issue 12 added, each noticed where the defect would bite on Azure.
    expect(failedAt.get('eng assignment factory-app-eng-reads-eng-gallery')).toBe(
      'test: copy the version from ENG',
    ); // defect 2
    expect(
      failedAt.get(
        'eng role buildLogReader without Microsoft.Resources/subscriptions/resourceGroups/resources/read',
      ),
    ).toBe('claimBuildSlot: list the template group'); // defect 1
    expect(failedAt.get('eng assignment build-identity-joins-build-network')).toBe('preflight'); // defect 6
    expect(failedAt.get('stage assignment stage-gallery-reader')).toBe('preflight');
    expect(failedAt.get('eng assignment factory-durable-task-data-contributor')).toBe(
      'durable host: the factory may use the Durable Task Scheduler task hub',
    ); // issue 18 item 4
    // and the world is whole again afterwards
    await expect(runProbes(probe, loadInfraAccess())).resolves.toEqual({});
  }, 120_000);
});
