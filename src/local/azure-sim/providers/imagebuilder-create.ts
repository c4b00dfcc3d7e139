/**
 * Creating an image template (PUT): the body checks AIB makes at once, then the provisioning
 * checks that fail the create operation (staging resource group, VNET, source, distribute
 * permissions).
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';
import { eqi, isObject, str } from '../util';
import { isReplicatedIn } from './gallery-versions';
import {
  ALLOWED_PROPERTIES,
  TS,
  TYPE,
  badValue,
  identityIsContributorOn,
  idOf,
  internalOf,
  missingField,
  stagingConflict,
  unauthorizedStaging,
  view,
} from './imagebuilder-common';

function validateBody(
  sim: Simulator,
  req: ArmRequest,
): { body: Record<string, unknown>; props: Record<string, unknown>; location: string; identityId: string } {
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = body.properties;
  if (!isObject(props))
    throw new ArmError(400, 'InvalidParameter', missingField('ImageTemplate', 'properties'));
  for (const key of Object.keys(props)) {
    if (!ALLOWED_PROPERTIES.includes(key)) {
      const hint = ALLOWED_PROPERTIES.find((a) => a.toLowerCase() === key.toLowerCase());
      throw new ArmError(
        400,
        'InvalidParameter',
        `Unknown property '${key}' in the template properties.${hint ? ` Property names are case-sensitive: did you mean '${hint}'?` : ''} ${TS}`,
      );
    }
  }
  if (!isObject(props.source))
    throw new ArmError(400, 'InvalidParameter', missingField('ImageTemplate.properties', 'source'));
  if (!str(props.source.type))
    throw new ArmError(400, 'InvalidParameter', badValue('ImageTemplate.properties', 'source.type', ''));
  if (!Array.isArray(props.distribute) || props.distribute.length === 0)
    throw new ArmError(400, 'InvalidParameter', missingField('ImageTemplate.properties', 'distribute'));
  const bt = props.buildTimeoutInMinutes;
  if (bt !== undefined && (typeof bt !== 'number' || bt < 0 || bt > 960))
    throw new ArmError(
      400,
      'InvalidParameter',
      badValue('ImageTemplate.properties', 'buildTimeoutInMinutes', JSON.stringify(bt)),
    );
  const identity = isObject(body.identity) ? body.identity : undefined;
  const uais =
    identity && isObject(identity.userAssignedIdentities) ? Object.keys(identity.userAssignedIdentities) : [];
  if (!identity) throw new ArmError(400, 'InvalidParameter', missingField('ImageTemplate', 'identity'));
  if (str(identity.type) !== 'UserAssigned')
    throw new ArmError(
      400,
      'InvalidParameter',
      badValue('ImageTemplate', 'identity.type', str(identity.type) ?? ''),
    );
  if (uais.length !== 1)
    throw new ArmError(
      400,
      'InvalidParameter',
      badValue('ImageTemplate', 'identity.userAssignedIdentities', String(uais.length)),
    );
  return { body, props, location, identityId: uais[0] ?? '' };
}

export function putTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req);
  sim.authorize(req.claims, `${TYPE}/write`, id);
  const sub = req.segments[1] ?? '';
  const rg = req.segments[3] ?? '';
  if (!sim.resourceGroup(sub, rg))
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
  const { body, props, location, identityId } = validateBody(sim, req);
  const bodyKey = JSON.stringify({ location, props, identityId: identityId.toLowerCase() });
  const existing = sim.getResource(id);
  if (existing) {
    const it = internalOf(existing);
    if (it.bodyKey === bodyKey && existing.properties.provisioningState === 'Succeeded') {
      existing.tags = isObject(body.tags) ? (body.tags as Record<string, string>) : existing.tags;
      return { status: 200, body: view(sim, existing) };
    }
    throw new ArmError(
      409,
      'Conflict',
      `Update/Upgrade of image templates is currently not supported. Please change the name of the template you are submitting. If you have previously tried to submit a template and it failed to provision, you must delete it first and then resubmit. For more information, go to https://aka.ms/azvmimagebuilderts.`,
    );
  }
  const mi = sim.identities.get(identityId.toLowerCase());
  if (
    !sim.can(req.claims.oid, 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action', identityId)
  ) {
    throw sim.linkedAuthorizationFailed(
      req.claims,
      `${TYPE}/write`,
      id,
      ['Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'],
      [identityId],
    );
  }
  if (!mi)
    throw new ArmError(
      400,
      'InvalidParameter',
      `The user assigned identity '${identityId}' was not found. ${TS}`,
    );
  const name = req.segments[req.segments.length - 1] ?? '';
  // An empty string means "not specified" (image-builder-json doc, stagingResourceGroup).
  const stagingIn = str(props.stagingResourceGroup) || undefined;
  const stagingRgId = stagingIn ?? `/subscriptions/${sub}/resourceGroups/IT_${rg}_${name}_${sim.newGuid()}`;
  const stagingPreexisting = stagingIn !== undefined && sim.getResource(stagingIn) !== undefined;
  const error = provisioningProblem(sim, props, location, mi.principalId, stagingIn);
  const storageAccount = `packer${sim.newGuid().replace(/-/g, '').slice(0, 16)}`;
  const r = sim.putResource({
    id,
    type: TYPE,
    name,
    subscriptionId: sub,
    resourceGroup: rg,
    location,
    tags: isObject(body.tags) ? (body.tags as Record<string, string>) : {},
    properties: {
      ...structuredClone(props),
      buildTimeoutInMinutes:
        typeof props.buildTimeoutInMinutes === 'number' ? props.buildTimeoutInMinutes : 0,
      // Creating until the create operation ends (recorded: ~30 s), then Succeeded or Failed.
      provisioningState: 'Creating',
    },
    internal: {
      identity: { id: mi.id, principalId: mi.principalId },
      stagingRgId,
      customStaging: stagingIn !== undefined,
      stagingPreexisting,
      storageAccount,
      bodyKey,
    },
  });
  if (!error) {
    const stagingName = stagingRgId.split('/').pop() ?? '';
    const stagingGroup = sim.getResource(stagingRgId);
    if (!stagingGroup) {
      // Not specified, or specified and absent: Image Builder creates it in the template's region
      // with its default tags and Contributor for the template's identity (image-builder-json doc).
      sim.addResourceGroup(sub, stagingName, location, {
        createdBy: 'AzureVMImageBuilder',
        imageTemplateName: name,
        imageTemplateResourceGroupName: rg,
      });
      sim.assignRole({ principalId: mi.principalId, role: 'Contributor', scope: stagingRgId });
    } else {
      // An existing group is marked as used by this template; its own tags stay.
      stagingGroup.tags = {
        ...stagingGroup.tags,
        usedBy: 'AzureVMImageBuilder',
        imageTemplateName: name,
        imageTemplateResourceGroupName: rg,
      };
    }
    sim.ensureStorageAccount(sub, stagingName, storageAccount, location);
  }
  const provisioned = (): void => {
    r.properties.provisioningState = error ? 'Failed' : 'Succeeded';
    if (error) r.properties.provisioningError = { provisioningErrorCode: 'Other', message: error.message };
  };
  const headers = sim.beginOperation({
    subscriptionId: sub,
    namespace: 'Microsoft.VirtualMachineImages',
    location,
    kind: 'templateCreate',
    apiVersion: req.apiVersion,
    outcome: error ? { error, onDone: provisioned } : { onDone: provisioned },
  });
  return { status: 201, body: view(sim, r), headers };
}

/** What AIB finds wrong while provisioning the template (the create LRO then ends Failed). */
function provisioningProblem(
  sim: Simulator,
  props: Record<string, unknown>,
  location: string,
  principalId: string,
  stagingRgId: string | undefined,
): { code: string; message: string } | undefined {
  const existingStaging = stagingRgId === undefined ? undefined : sim.getResource(stagingRgId);
  // A named group that does not exist yet is Image Builder's to create: nothing to check.
  if (stagingRgId !== undefined && existingStaging) {
    // Image Builder reads the tags to tell whether a template uses the group: if they exist before
    // the submission, it fails; it also needs the group empty and in the template's region.
    const tagged =
      existingStaging.tags.imageTemplateName !== undefined ||
      existingStaging.tags.imageTemplateResourceGroupName !== undefined;
    if (tagged || sim.resourcesIn(stagingRgId).length > 0 || !eqi(existingStaging.location, location))
      return stagingConflict();
    if (!identityIsContributorOn(sim, principalId, stagingRgId)) return unauthorizedStaging(stagingRgId);
  }
  const vmProfile = isObject(props.vmProfile) ? props.vmProfile : {};
  const vnet = isObject(vmProfile.vnetConfig) ? vmProfile.vnetConfig : undefined;
  const subnetId = vnet ? str(vnet.subnetId) : undefined;
  if (subnetId) {
    const subnet = sim.getResource(subnetId);
    // Image Builder checks the build identity's rights on the VNET's resource group, not on the
    // subnet: the permissions doc grants virtualNetworks/read and subnets/join/action there
    // (learn.microsoft.com/azure/virtual-machines/linux/image-builder-permissions-cli, "existing
    // virtual network"). A grant on the subnet alone is not enough.
    const vnetGroupId = subnetId.split('/').slice(0, 5).join('/');
    if (!subnet || !sim.can(principalId, 'Microsoft.Network/virtualNetworks/read', vnetGroupId)) {
      return {
        code: 'InvalidParameter',
        message: `Failed to get the subnet ${subnetId}: the resource was not found or the identity is not authorized to read it. Please check the user assigned identity has the correct permissions. ${TS}`,
      };
    }
    if (!sim.can(principalId, 'Microsoft.Network/virtualNetworks/subnets/join/action', vnetGroupId)) {
      return {
        code: 'Unauthorized',
        // Image Builder's form for a resource its identity may not use (troubleshooting guide;
        // MicrosoftDocs/azure-docs#99193); it names the resource, not the missing action.
        message: `Not authorized to access the resource: ${subnetId}. Please check the user assigned identity has the correct permissions. ${TS}`,
      };
    }
    if (!eqi(subnet.location, location)) {
      return {
        code: 'InvalidParameter',
        message: `The virtual network of subnet ${subnetId} is in location '${subnet.location}', but the image template is in '${location}'. The VNET must be in the same region as the image template. ${TS}`,
      };
    }
    if (subnet.properties.privateLinkServiceNetworkPolicies !== 'Disabled') {
      return {
        code: 'InvalidParameter',
        message: `Private link service network policies must be disabled on subnet ${subnetId} (privateLinkServiceNetworkPolicies: 'Disabled'). ${TS}`,
      };
    }
  }
  const source = props.source as Record<string, unknown>;
  const type = str(source.type);
  if (type === 'PlatformImage') {
    const want = str(source.version) ?? 'latest';
    const found = sim.platformImages.filter(
      (p) =>
        eqi(p.location, location) &&
        eqi(p.publisher, str(source.publisher)) &&
        eqi(p.offer, str(source.offer)) &&
        eqi(p.sku, str(source.sku)),
    );
    if (found.length === 0 || (want !== 'latest' && !found.some((p) => p.version === want))) {
      return {
        code: 'InvalidParameter',
        message: `The platform image ${str(source.publisher) ?? ''}:${str(source.offer) ?? ''}:${str(source.sku) ?? ''}:${want} was not found in location '${location}'. ${TS}`,
      };
    }
  } else if (type === 'SharedImageVersion' || type === 'ManagedImage') {
    const srcId = str(source.imageVersionId) ?? str(source.imageId) ?? '';
    const src = sim.getResource(srcId);
    const action =
      type === 'ManagedImage'
        ? 'Microsoft.Compute/images/read'
        : 'Microsoft.Compute/galleries/images/versions/read';
    if (!src || !sim.can(principalId, action, srcId))
      return {
        code: 'Unauthorized',
        message: `Not authorized to access the resource: ${srcId}. Please check the user assigned identity has the correct permissions. ${TS}`,
      };
    if (type === 'ManagedImage' && !eqi(src.location, location))
      return {
        code: 'InvalidParameter',
        message: `The source managed image ${srcId} must be in the same region as the image template ('${location}'). ${TS}`,
      };
    if (type === 'SharedImageVersion' && !isReplicatedIn(sim, src, location))
      return {
        code: 'InvalidParameter',
        message: `The source image version ${srcId} is not replicated to '${location}'. ${TS}`,
      };
  } else {
    return { code: 'InvalidParameter', message: `Unsupported source type '${type ?? ''}'. ${TS}` };
  }
  for (const d of (props.distribute as unknown[]).filter(isObject)) {
    if (str(d.type) !== 'SharedImage') continue;
    const target = str(d.galleryImageId) ?? '';
    const imageId = /\/versions\/[^/]+$/i.test(target) ? target.split('/').slice(0, -2).join('/') : target;
    // The permissions doc's distribution role: the identity reads the gallery and the image
    // definition (image-builder-permissions-cli, "Allow VM Image Builder to distribute images").
    const galleryId = imageId.split('/').slice(0, -2).join('/');
    if (
      !sim.getResource(imageId) ||
      !sim.can(principalId, 'Microsoft.Compute/galleries/read', galleryId) ||
      !sim.can(principalId, 'Microsoft.Compute/galleries/images/read', imageId)
    ) {
      return {
        code: 'Unauthorized',
        message: `Not authorized to access the resource: ${imageId}. Please check the user assigned identity has the correct permissions. ${TS}`,
      };
    }
  }
  return undefined;
}
