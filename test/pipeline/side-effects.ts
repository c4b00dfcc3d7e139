/**
 * What a build did in (simulated) Azure, read from the simulator's own request log and inventory:
 * the fault and crash suites check that no side effect happened twice and nothing was left.
 */
import { createHash } from 'node:crypto';
import type { AzureSimulator } from '../../src/local/azure-sim/api';

export interface BuildSideEffects {
  /** Accepted POST …/imageTemplates/<this build's template>/run. */
  runs: number;
  /** Distinct VMs created (accepted PUT) with this build's tag. */
  testVms: number;
  /** Distinct gallery image versions created by copy (TEST, PROD; ENG's is Image Builder's). */
  copies: number;
}

export function sideEffectsOf(sim: AzureSimulator, buildId: string): BuildSideEffects {
  const accepted = sim.requests().filter((r) => r.status >= 200 && r.status < 300);
  const tagged = (body: unknown) =>
    (body as { tags?: Record<string, string> } | undefined)?.tags?.['imagefactory.buildId'] === buildId;
  // The template name ends with a digest of the build id (templateNameFor).
  const buildPart = createHash('sha256').update(buildId).digest('hex').slice(0, 10);
  const runs = accepted.filter(
    (r) => r.method === 'POST' && new RegExp(`imageTemplates/[^/]+-${buildPart}/run$`).test(r.path),
  ).length;
  const distinctPuts = (path: RegExp) =>
    new Set(
      accepted.filter((r) => r.method === 'PUT' && path.test(r.path) && tagged(r.body)).map((r) => r.path),
    ).size;
  return {
    runs,
    testVms: distinctPuts(/virtualMachines\/[^/]+$/),
    copies: distinctPuts(/galleries\/[^/]+\/images\/[^/]+\/versions\/[^/]+$/),
  };
}

/** Templates, VMs, NICs, disks and Image Builder staging groups still in Azure: none should be. */
export function leftovers(sim: AzureSimulator): string[] {
  return sim
    .inventory()
    .filter(
      (r) =>
        /imagetemplates|virtualmachines|networkinterfaces|disks/.test(r.type) ||
        // Image Builder's staging groups: its IT_ ones and the named ones it created (its default tag).
        (r.type === 'microsoft.resources/resourcegroups' &&
          (/\/resourceGroups\/IT_/i.test(r.id) || r.tags.createdBy === 'AzureVMImageBuilder')),
    )
    .map((r) => r.id);
}

/** The gallery image versions tagged with this build, in every tenant. */
export function versionsOf(sim: AzureSimulator, buildId: string): { id: string }[] {
  return sim
    .inventory()
    .filter(
      (r) =>
        r.type === 'microsoft.compute/galleries/images/versions' &&
        r.tags['imagefactory.buildId'] === buildId,
    );
}
