/**
 * Microsoft.VirtualMachineImages/imageTemplates: the route table, GET/list, delete and run outputs.
 * Create and its provisioning checks are in imagebuilder-create.ts, the run and its clock-driven
 * phases in imagebuilder-run.ts, what they share in imagebuilder-common.ts.
 */
import type { Route, Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import {
  TYPE,
  identityIsContributorOn,
  idOf,
  internalOf,
  lastRunStatus,
  runOutputs,
  unauthorizedStaging,
  view,
} from './imagebuilder-common';
import { putTemplate } from './imagebuilder-create';
import { cancelTemplate, runTemplate } from './imagebuilder-run';

export { runningImageBuilds, tickImageBuilder } from './imagebuilder-run';

function getTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req);
  sim.authorize(req.claims, `${TYPE}/read`, id);
  const r = sim.getResource(id);
  if (!r) throw sim.notFound(req.segments, TYPE, req.segments[req.segments.length - 1] ?? '');
  return { status: 200, body: view(sim, r) };
}

function listTemplates(sim: Simulator, req: ArmRequest): ArmResponse {
  const scope = idOf(req).split('/providers/')[0] ?? '';
  sim.authorize(req.claims, `${TYPE}/read`, scope);
  return {
    status: 200,
    body: {
      value: sim
        .resourcesIn(scope)
        .filter((r) => r.type === TYPE)
        .map((r) => view(sim, r)),
    },
  };
}

function deleteTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req);
  sim.authorize(req.claims, `${TYPE}/delete`, id);
  const r = sim.getResource(id);
  if (!r) return { status: 204 };
  const it = internalOf(r);
  // Not while a run is in progress or canceling (danielsollondon/azvmimagebuilder#48 "Delete command
  // failed with http error code: 405", #79, #116 give the code and text).
  const runState = it.run ? lastRunStatus(sim, it, it.run, sim.clock.now()).runState : undefined;
  if (runState === 'Running' || runState === 'Canceling')
    throw new ArmError(
      405,
      'OperationNotAllowed',
      `Operation ${TYPE}/delete is not allowed in provisioning state: provisioned or run state: ${String(runState).toLowerCase()}.`,
    );
  if (
    it.customStaging &&
    sim.getResource(it.stagingRgId) &&
    !identityIsContributorOn(sim, it.identity.principalId, it.stagingRgId)
  ) {
    throw new ArmError(400, 'Unauthorized', unauthorizedStaging(it.stagingRgId).message);
  }
  const op = {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.VirtualMachineImages',
    location: r.location,
    kind: 'templateDelete' as const,
    location202: true,
    apiVersion: req.apiVersion,
  };
  // A DELETE of a template being deleted is accepted again; the first one still ends it.
  if (r.properties.provisioningState === 'Deleting') return { status: 202, headers: sim.beginOperation(op) };
  // Whether it took its staging group is decided by how it was before the delete began.
  const provisioned = r.properties.provisioningState === 'Succeeded';
  r.properties.provisioningState = 'Deleting';
  const onDone = (): void => {
    // A group Image Builder created goes with the template; in a pre-existing one the resources
    // (all Image Builder's: the group had to be empty) are deleted and the group stays. A template
    // that failed to provision never took its group (it may be another template's).
    if (!provisioned) {
      // nothing of the staging group is this template's
    } else if (it.stagingPreexisting) {
      for (const res of sim.resourcesIn(it.stagingRgId)) sim.deleteResource(res.id);
    } else sim.deleteResource(it.stagingRgId);
    for (const k of [...sim.blobs.keys()]) if (k.startsWith(`${it.storageAccount}/`)) sim.blobs.delete(k);
    sim.deleteResource(r.id);
  };
  const headers = sim.beginOperation({ ...op, outcome: { onDone } });
  return { status: 202, headers };
}

function runOutputView(r: SimResource, name: string, artifactId: string): Record<string, unknown> {
  return {
    id: `${r.id}/runOutputs/${name}`,
    name,
    type: `${TYPE}/runOutputs`,
    properties: { artifactId, provisioningState: 'Succeeded' },
  };
}

function listRunOutputs(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req, 1);
  sim.authorize(req.claims, `${TYPE}/runOutputs/read`, id);
  const r = sim.getResource(id);
  if (!r) throw sim.notFound(req.segments, TYPE, req.segments[req.segments.length - 2] ?? '');
  return { status: 200, body: { value: runOutputs(r).map((o) => runOutputView(r, o.name, o.artifactId)) } };
}

function getRunOutput(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req, 2);
  sim.authorize(req.claims, `${TYPE}/runOutputs/read`, id);
  const r = sim.getResource(id);
  const name = req.segments[req.segments.length - 1] ?? '';
  const out = r ? runOutputs(r).find((o) => o.name === name) : undefined;
  if (!r || !out)
    throw new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${TYPE}/${req.segments[req.segments.length - 3] ?? ''}/runOutputs/${name}' under resource group '${req.segments[3] ?? ''}' was not found.`,
    );
  return { status: 200, body: runOutputView(r, out.name, out.artifactId) };
}

export const imageBuilderRoutes: Route[] = [
  { type: 'microsoft.virtualmachineimages/imagetemplates', verb: 'put', handler: putTemplate },
  { type: 'microsoft.virtualmachineimages/imagetemplates', verb: 'get', handler: getTemplate },
  { type: 'microsoft.virtualmachineimages/imagetemplates', verb: 'list', handler: listTemplates },
  { type: 'microsoft.virtualmachineimages/imagetemplates', verb: 'delete', handler: deleteTemplate },
  { type: 'microsoft.virtualmachineimages/imagetemplates', verb: 'action:run', handler: runTemplate },
  { type: 'microsoft.virtualmachineimages/imagetemplates', verb: 'action:cancel', handler: cancelTemplate },
  { type: 'microsoft.virtualmachineimages/imagetemplates/runoutputs', verb: 'list', handler: listRunOutputs },
  { type: 'microsoft.virtualmachineimages/imagetemplates/runoutputs', verb: 'get', handler: getRunOutput },
];
