/** Microsoft.Compute managed disks: GET, PATCH (tags), DELETE. */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';
import { isObject, str } from '../util';
import { authorizeFor, idOf, mustGet, tagsOf } from './common';

export function getDisk(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/disks', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/disks')) };
}

/** PATCH disks: tags (replaced as a whole, as ARM PATCH does); other updatable fields are ignored. */
export function patchDisk(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/disks', 'write');
  const r = mustGet(sim, req, 'Microsoft.Compute/disks');
  const body = sim.parseBody(req);
  if (isObject(body.tags)) r.tags = tagsOf(body);
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'diskUpdate',
    apiVersion: req.apiVersion,
  });
  return { status: 200, body: sim.view(r), headers };
}

export function deleteDisk(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/disks', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  const attached = str(r.internal.attachedTo);
  if (attached && sim.getResource(attached)) {
    throw new ArmError(409, 'OperationNotAllowed', `Disk ${r.name} is attached to VM ${attached}.`);
  }
  const op = {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'diskDelete' as const,
    location202: true,
    apiVersion: req.apiVersion,
  };
  if (r.internal.deleting) return { status: 202, headers: sim.beginOperation(op) };
  r.internal.deleting = true;
  r.properties.provisioningState = 'Deleting';
  const headers = sim.beginOperation({ ...op, outcome: { onDone: () => sim.deleteResource(r.id) } });
  return { status: 202, headers };
}
