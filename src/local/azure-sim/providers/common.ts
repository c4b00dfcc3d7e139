/**
 * Helpers every resource provider of the simulator shares: the resource id of a request, the
 * resource group / parent / resource not-found answers, tags from a body, the RBAC check for a
 * type and verb, and listing the children of a parent resource.
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { isObject } from '../util';

export function idOf(req: ArmRequest): string {
  return req.path.replace(/\/+$/, '').replace(/^\/+/, '/');
}

export function rgCheck(sim: Simulator, req: ArmRequest): void {
  const sub = req.segments[1] ?? '';
  const rg = req.segments[3] ?? '';
  if (!sim.resourceGroup(sub, rg))
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
}

export function mustGet(sim: Simulator, req: ArmRequest, typeLabel: string): SimResource {
  const r = sim.getResource(idOf(req));
  if (!r) {
    rgCheck(sim, req);
    const parent = idOf(req).split('/').slice(0, -2).join('/');
    if (typeLabel.split('/').length > 2 && !sim.getResource(parent)) {
      throw new ArmError(
        404,
        'ParentResourceNotFound',
        `Can not perform requested operation on nested resource. Parent resource '${parent
          .split('/')
          .slice(8)
          .filter((_, i) => i % 2 === 0)
          .join('/')}' not found.`,
      );
    }
    throw sim.notFound(req.segments, typeLabel, req.segments[req.segments.length - 1] ?? '');
  }
  return r;
}

export function tagsOf(body: Record<string, unknown>): Record<string, string> {
  return isObject(body.tags)
    ? Object.fromEntries(Object.entries(body.tags).map(([k, v]) => [k, String(v)]))
    : {};
}

export function authorizeFor(
  sim: Simulator,
  req: ArmRequest,
  type: string,
  verb: 'read' | 'write' | 'delete',
): void {
  const scope = idOf(req);
  sim.authorize(req.claims, `${type}/${verb}`, scope);
}

export function listChildren(
  sim: Simulator,
  req: ArmRequest,
  type: string,
  view: (r: SimResource) => unknown,
): ArmResponse {
  const parentId = idOf(req).split('/').slice(0, -1).join('/');
  sim.authorize(req.claims, `${type}/read`, parentId);
  if (!sim.getResource(parentId)) {
    rgCheck(sim, req);
    throw new ArmError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${parentId.split('/').pop() ?? ''}' not found.`,
    );
  }
  const value = sim
    .resourcesIn(parentId)
    .filter((r) => r.type === type && r.id.split('/').length === parentId.split('/').length + 2);
  return { status: 200, body: { value: value.map(view) } };
}
