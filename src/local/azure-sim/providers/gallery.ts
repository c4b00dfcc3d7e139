/**
 * Microsoft.Compute galleries and gallery image definitions (GET/PUT/DELETE/list). Image versions
 * and their replication are in gallery-versions.ts.
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';
import { eqi, isObject, parseResourceId, str } from '../util';
import { authorizeFor, idOf, mustGet, rgCheck, tagsOf } from './common';

export function getGallery(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/galleries')) };
}

export function getImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images', 'read');
  return { status: 200, body: sim.view(mustGet(sim, req, 'Microsoft.Compute/galleries/images')) };
}

const IMAGE_FIXED = ['osType', 'osState', 'hyperVGeneration'] as const;

export function putImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images', 'write');
  const id = idOf(req);
  const galleryId = id.split('/').slice(0, -2).join('/');
  if (!sim.getResource(galleryId)) {
    rgCheck(sim, req);
    throw new ArmError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${galleryId.split('/').pop() ?? ''}' not found.`,
    );
  }
  const body = sim.parseBody(req);
  const props = isObject(body.properties) ? body.properties : undefined;
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  if (!props)
    throw new ArmError(400, 'InvalidParameter', "Required parameter 'properties' is missing (null).");
  for (const f of ['osType', 'osState'] as const) {
    if (!str(props[f]))
      throw new ArmError(400, 'InvalidParameter', `Required parameter '${f}' is missing (null).`, {}, [
        { code: 'InvalidParameter', target: f },
      ]);
  }
  const identifier = isObject(props.identifier) ? props.identifier : undefined;
  if (!identifier || !str(identifier.publisher) || !str(identifier.offer) || !str(identifier.sku)) {
    throw new ArmError(400, 'InvalidParameter', "Required parameter 'identifier' is missing (null).");
  }
  const existing = sim.getResource(id);
  if (existing) {
    for (const f of IMAGE_FIXED) {
      const before = str(existing.properties[f]);
      const after = str(props[f]) ?? (f === 'hyperVGeneration' ? 'V1' : undefined);
      if (before !== undefined && after !== undefined && !eqi(before, after)) {
        throw new ArmError(409, 'PropertyChangeNotAllowed', `Changing property '${f}' is not allowed.`, {}, [
          { code: 'PropertyChangeNotAllowed', target: f },
        ]);
      }
    }
    if (JSON.stringify(existing.properties.identifier) !== JSON.stringify(identifier)) {
      throw new ArmError(
        409,
        'PropertyChangeNotAllowed',
        "Changing property 'identifier' is not allowed.",
        {},
        [{ code: 'PropertyChangeNotAllowed', target: 'identifier' }],
      );
    }
  }
  const parsed = parseResourceId(id);
  const r = sim.putResource({
    id,
    type: 'Microsoft.Compute/galleries/images',
    name: parsed?.name ?? '',
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: tagsOf(body),
    properties: {
      ...structuredClone(props),
      hyperVGeneration: str(props.hyperVGeneration) ?? 'V1',
      provisioningState: 'Succeeded',
    },
  });
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location,
    kind: 'imageDefinitionCreate',
    apiVersion: req.apiVersion,
  });
  return { status: existing ? 200 : 201, body: sim.view(r), headers };
}

export function deleteImage(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/galleries/images', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  if (sim.resourcesIn(r.id).length > 0)
    throw new ArmError(
      409,
      'CannotDeleteResource',
      `Can not delete resource before nested resources are deleted.`,
    );
  sim.deleteResource(r.id);
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'imageDefinitionDelete',
    location202: true,
    apiVersion: req.apiVersion,
  });
  return { status: 202, headers };
}
