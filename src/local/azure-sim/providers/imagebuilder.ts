/**
 * Microsoft.VirtualMachineImages/imageTemplates: create (validated like AIB), run with clock-driven
 * phases, cancel, runOutputs, delete, staging resources, customization.log.
 * Over 600 lines: the template lifecycle, its run and its staging rules are one state machine here;
 * issue 16 splits run and staging out.
 */
import type { Route, Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { eqi, isObject, str } from '../util';
import { createVersionResource, isReplicatedIn } from './gallery-versions';
import { compareVersions } from './images';

const TYPE = 'Microsoft.VirtualMachineImages/imageTemplates';
const TS = 'For more details, go to https://aka.ms/azvmimagebuilderts.';
/**
 * A canceled run is `Canceling` for a while before `Canceled`: the cancel "doesn't wait for cancel
 * to complete, monitor lastrunstatus.runstate for canceling progress" (image-builder-json doc,
 * "Cancelling an Image Build"). How long is not documented; Image Builder tears down its build VM
 * meanwhile, and public issues show runs left Canceling for hours (danielsollondon/azvmimagebuilder
 * #48, #79, #116): a quarter of an hour is modelled, longer than the factory's 10-minute poll cap.
 */
const CANCELING_MS = 15 * 60_000;
const ALLOWED_PROPERTIES = [
  'source',
  'customize',
  'optimize',
  'validate',
  'distribute',
  'errorHandling',
  'buildTimeoutInMinutes',
  'vmProfile',
  'additionalDataDisks',
  'stagingResourceGroup',
  'autoRun',
  'managedResourceTags',
];

interface RunState {
  runId: string;
  startedAt: number;
  /** Absolute clock times of each phase start and the end. */
  building: number;
  customizing: number;
  distributing: number;
  end: number;
  failure?: { at: number; subState: string; message: string; log: string[] };
  canceledAt?: number;
  versionCreated?: boolean;
  outputsWritten?: boolean;
}

interface TemplateInternal {
  identity: { id: string; principalId: string };
  stagingRgId: string;
  customStaging: boolean;
  /**
   * Whether the staging group existed before the template: Image Builder then deletes only the
   * resources in it on template delete; a group it created (IT_ or a named one) goes with the template.
   */
  stagingPreexisting: boolean;
  storageAccount: string;
  run?: RunState;
  bodyKey: string;
}

function internalOf(r: SimResource): TemplateInternal {
  return r.internal as unknown as TemplateInternal;
}

function idOf(req: ArmRequest, drop = 0): string {
  return '/' + req.segments.slice(0, req.segments.length - drop).join('/');
}

function unauthorizedStaging(stagingRgId: string): { code: string; message: string } {
  return {
    code: 'Unauthorized',
    message: `Not authorized to access the resource: ${stagingRgId}. Please check the user assigned identity has the correct permissions. ${TS}`,
  };
}

/**
 * Image Builder's answer when a custom staging group cannot be used (tagged for another template,
 * not empty, another region): the troubleshooting guide lists this bare error, its cause "a conflict
 * with the staging resource group", and its fix "the staging resource group name is uniquely
 * specified for each image template" (also MicrosoftDocs/azure-docs#96778). No specific text is
 * documented for each requirement, so none is invented.
 */
function stagingConflict(): { code: string; message: string } {
  // The full text as the service sends it today (Azure/azvmimagebuilder#45); the guide shows its start.
  return {
    code: 'InternalOperationError',
    message: `Internal error occurred. This is a generic error. To identify possible causes, go to https://aka.ms/azvmimagebuilderts.`,
  };
}

/*
 * Image Builder's template validation texts: "Validation failed: 'ImageTemplate': Missing field
 * 'identity'. Please review http://aka.ms/azvmimagebuildertmplref for details on fields required in
 * the Image Builder Template." (danielsollondon/azvmimagebuilder#39) and "Validation failed:
 * 'ImageTemplate.properties': Field 'distribute[0].type' has a bad value: ''." (MicrosoftDocs/azure-docs
 * #61716). The error code is not shown in either; InvalidParameter is kept.
 */
function missingField(object: string, field: string): string {
  return `Validation failed: '${object}': Missing field '${field}'. Please review http://aka.ms/azvmimagebuildertmplref for details on fields required in the Image Builder Template.`;
}

function badValue(object: string, field: string, value: string): string {
  return `Validation failed: '${object}': Field '${field}' has a bad value: '${value}'.`;
}

function identityIsContributorOn(sim: Simulator, principalId: string, rgId: string): boolean {
  return [
    'Microsoft.Compute/virtualMachines/write',
    'Microsoft.Storage/storageAccounts/write',
    'Microsoft.Network/networkInterfaces/write',
    'Microsoft.Resources/subscriptions/resourceGroups/read',
  ].every((a) => sim.can(principalId, a, rgId));
}

function view(sim: Simulator, r: SimResource): Record<string, unknown> {
  const v = sim.view(r) as { properties: Record<string, unknown> } & Record<string, unknown>;
  const it = internalOf(r);
  v.identity = {
    type: 'UserAssigned',
    userAssignedIdentities: { [it.identity.id]: { principalId: it.identity.principalId, clientId: '' } },
  };
  const run = it.run;
  if (run) v.properties.lastRunStatus = lastRunStatus(sim, it, run, sim.clock.now());
  // Recorded traffic: both answer "" until a run sets them (a default staging group is named then).
  v.properties.stagingResourceGroup =
    typeof v.properties.stagingResourceGroup === 'string' ? v.properties.stagingResourceGroup : '';
  v.properties.exactStagingResourceGroup = run ? it.stagingRgId : '';
  return v;
}

function lastRunStatus(
  sim: Simulator,
  it: TemplateInternal,
  run: RunState,
  now: number,
): Record<string, unknown> {
  const start = new Date(run.startedAt).toISOString();
  if (run.canceledAt !== undefined && now >= run.canceledAt && now < run.canceledAt + CANCELING_MS) {
    return {
      // runSubState's enum (Queued … Distributing) has no value for canceling: none is sent.
      runState: 'Canceling',
      message: '',
      startTime: start,
      endTime: '0001-01-01T00:00:00Z',
    };
  }
  if (run.canceledAt !== undefined && now >= run.canceledAt) {
    return {
      // runSubState's enum (Queued … Distributing) has no value for a canceled run: none is sent.
      runState: 'Canceled',
      message: 'The build was canceled by the user.',
      startTime: start,
      endTime: new Date(run.canceledAt + CANCELING_MS).toISOString(),
    };
  }
  if (run.failure && now >= run.failure.at) {
    return {
      runState: 'Failed',
      runSubState: run.failure.subState,
      message: run.failure.message,
      startTime: start,
      endTime: new Date(run.failure.at).toISOString(),
    };
  }
  if (now >= run.end)
    return {
      runState: 'Succeeded',
      runSubState: 'Distributing',
      message: '',
      startTime: start,
      endTime: new Date(run.end).toISOString(),
    };
  const sub =
    now >= run.distributing
      ? 'Distributing'
      : now >= run.customizing
        ? 'Customizing'
        : now >= run.building
          ? 'Building'
          : 'Queued';
  void sim;
  void it;
  return {
    runState: 'Running',
    runSubState: sub,
    message: '',
    startTime: start,
    endTime: '0001-01-01T00:00:00Z',
  };
}

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

function putTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
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

function runTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req, 1);
  sim.authorize(req.claims, `${TYPE}/run/action`, id);
  const r = sim.getResource(id);
  if (!r) throw sim.notFound(req.segments, TYPE, req.segments[req.segments.length - 2] ?? '');
  const it = internalOf(r);
  const now = sim.clock.now();
  if (r.properties.provisioningState !== 'Succeeded')
    throw new ArmError(
      400,
      'BadRequest',
      `The image template is not in a succeeded provisioning state and cannot be run. ${TS}`,
    );
  if (it.run && ['Running', 'Canceling'].includes(String(lastRunStatus(sim, it, it.run, now).runState)))
    throw new ArmError(
      409,
      'Conflict',
      `The image template has a build in progress. Wait for it to finish or cancel it. ${TS}`,
    );
  if (it.customStaging && !identityIsContributorOn(sim, it.identity.principalId, it.stagingRgId)) {
    const headers = sim.beginOperation({
      subscriptionId: r.subscriptionId,
      namespace: 'Microsoft.VirtualMachineImages',
      location: r.location,
      kind: 'templateRun',
      location202: true,
      apiVersion: req.apiVersion,
      outcome: { error: unauthorizedStaging(it.stagingRgId) },
    });
    return { status: 202, headers };
  }
  const total = sim.durations.buildMs;
  const runId = sim.newGuid();
  const run: RunState = {
    runId,
    startedAt: now,
    building: now + total * 0.02,
    customizing: now + total * 0.3,
    distributing: now + total * 0.7,
    end: now + total,
  };
  const timeoutMin =
    typeof r.properties.buildTimeoutInMinutes === 'number' && r.properties.buildTimeoutInMinutes > 0
      ? r.properties.buildTimeoutInMinutes
      : 240;
  const customizers = Array.isArray(r.properties.customize) ? r.properties.customize.filter(isObject) : [];
  const failing = sim.customizerFailures.find((f) =>
    customizers.some((c) => str(c.name) === f.customizerName),
  );
  const logUrl = `${sim.armEndpoint}/${it.storageAccount}/packerlogs/${runId}/customization.log`;
  const vmProfile = isObject(r.properties.vmProfile) ? r.properties.vmProfile : {};
  const subnetId = isObject(vmProfile.vnetConfig) ? str(vmProfile.vnetConfig.subnetId) : undefined;
  const osIsWindows = /windows/i.test(JSON.stringify(r.properties.source));
  const nsgOk = subnetId ? subnetAllowsLoadBalancer(sim, subnetId, osIsWindows ? 60000 : 60001) : true;
  const packerFail = `Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: Packer build command has failed: exit status 1. During the image build, a failure has occurred, please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuildertroubleshoot. Image Build log location: ${logUrl}. OperationId: ${runId}`;
  if (!nsgOk) {
    run.failure = {
      at: run.building + total * 0.1,
      subState: 'Building',
      message: `${packerFail}`,
      log: [
        `==> azure-arm: Waiting for SSH to become available...`,
        `==> azure-arm: Timeout waiting for the proxy VM: connection from AzureLoadBalancer to port ${osIsWindows ? 60000 : 60001} was refused by the network security group of subnet ${subnetId ?? ''}.`,
      ],
    };
  } else if (failing) {
    run.failure = {
      at: run.customizing + total * 0.2,
      subState: 'Customizing',
      message: packerFail,
      log: [
        `==> azure-arm: Provisioning with shell script / customizer '${failing.customizerName}'`,
        ...failing.logLines,
      ],
    };
  } else if (total > timeoutMin * 60_000) {
    run.failure = {
      at: now + timeoutMin * 60_000,
      subState: 'Building',
      // The troubleshooting guide's "Timeout exceeded" error, as lastRunStatus shows it.
      message: `Deployment failed. Correlation ID: ${runId}. Failed in building/customizing image: Failed while waiting for packerizer: Timeout waiting for microservice to complete: 'context deadline exceeded'`,
      log: ['==> azure-arm: build timed out'],
    };
  }
  it.run = run;
  const stagingName = it.stagingRgId.split('/').pop() ?? '';
  sim.blobs.set(
    `${it.storageAccount}/packerlogs/${runId}/customization.log`.toLowerCase(),
    `[${new Date(now).toISOString()}] PACKER OUT azure-arm: Build started\n`,
  );
  void stagingName;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.VirtualMachineImages',
    location: r.location,
    kind: 'templateRun',
    location202: true,
    apiVersion: req.apiVersion,
  });
  return { status: 202, headers };
}

/**
 * Whether the subnet's NSG lets AzureLoadBalancer reach the proxy VM on `port`: inbound rules (custom
 * and default) in priority order, the first one matching source AzureLoadBalancer and the port decides.
 */
function subnetAllowsLoadBalancer(sim: Simulator, subnetId: string, port: number): boolean {
  const subnet = sim.getResource(subnetId);
  const nsgId =
    subnet && isObject(subnet.properties.networkSecurityGroup)
      ? str(subnet.properties.networkSecurityGroup.id)
      : undefined;
  if (!nsgId) return true; // no NSG: nothing blocks it
  const nsg = sim.getResource(nsgId);
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
  const rules = [...list(nsg?.properties.securityRules), ...list(nsg?.properties.defaultSecurityRules)]
    .filter(isObject)
    .map((rule) => (isObject(rule.properties) ? rule.properties : {}))
    .filter((p) => p.direction === 'Inbound')
    .sort((a, b) => Number(a.priority ?? 0) - Number(b.priority ?? 0));
  const decisive = rules.find((p) => {
    const sources = [
      ...(Array.isArray(p.sourceAddressPrefixes) ? p.sourceAddressPrefixes.map(String) : []),
      ...(str(p.sourceAddressPrefix) ? [str(p.sourceAddressPrefix) ?? ''] : []),
    ];
    if (!sources.some((s) => s === '*' || eqi(s, 'AzureLoadBalancer'))) return false;
    if (!['*', 'Tcp', 'tcp'].includes(str(p.protocol) ?? '*')) return false;
    const ranges = [
      ...(Array.isArray(p.destinationPortRanges) ? p.destinationPortRanges.map(String) : []),
      ...(str(p.destinationPortRange) ? [str(p.destinationPortRange) ?? ''] : []),
    ];
    return ranges.some((range) => {
      if (range === '*') return true;
      const [lo, hi] = range.split('-').map(Number);
      return lo !== undefined && port >= lo && port <= (hi ?? lo);
    });
  });
  // An NSG always ends in AllowAzureLoadBalancerInBound (65001); an NSG without default rules allows too.
  return decisive === undefined || decisive.access === 'Allow';
}

function cancelTemplate(sim: Simulator, req: ArmRequest): ArmResponse {
  const id = idOf(req, 1);
  sim.authorize(req.claims, `${TYPE}/cancel/action`, id);
  const r = sim.getResource(id);
  if (!r) throw sim.notFound(req.segments, TYPE, req.segments[req.segments.length - 2] ?? '');
  const it = internalOf(r);
  const now = sim.clock.now();
  if (!it.run || lastRunStatus(sim, it, it.run, now).runState !== 'Running')
    throw new ArmError(409, 'Conflict', `There is no build in progress to cancel. ${TS}`);
  it.run.canceledAt = now;
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.VirtualMachineImages',
    location: r.location,
    kind: 'templateCancel',
    location202: true,
    apiVersion: req.apiVersion,
  });
  return { status: 202, headers };
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

function runOutputs(r: SimResource): { name: string; artifactId: string }[] {
  return (r.internal.runOutputs as { name: string; artifactId: string }[] | undefined) ?? [];
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

/** Image templates whose run is in progress now (Running, or Canceling: its build VM is still there). */
export function runningImageBuilds(
  sim: Simulator,
  now: number,
): { templateId: string; subscriptionId: string; location: string }[] {
  const running: { templateId: string; subscriptionId: string; location: string }[] = [];
  for (const r of sim.resources.values()) {
    if (r.type !== TYPE) continue;
    const it = internalOf(r);
    const state = it.run ? lastRunStatus(sim, it, it.run, now).runState : undefined;
    if (state === 'Running' || state === 'Canceling')
      running.push({ templateId: r.id, subscriptionId: r.subscriptionId, location: r.location });
  }
  return running;
}

/** Materializes clock-driven effects of runs: build VM while building, gallery version, run outputs, log. */
export function tickImageBuilder(sim: Simulator, now: number): void {
  for (const r of [...sim.resources.values()]) {
    if (r.type !== TYPE) continue;
    const it = internalOf(r);
    const run = it.run;
    if (!run) continue;
    // A canceled run makes no more progress at once, and its build VM is gone once it is Canceled.
    const canceling = run.canceledAt !== undefined && now >= run.canceledAt;
    const failed = run.failure !== undefined && now >= run.failure.at;
    const stopped = (canceling && now >= (run.canceledAt ?? 0) + CANCELING_MS) || failed;
    const stagingName = it.stagingRgId.split('/').pop() ?? '';
    const vmId = `${it.stagingRgId}/providers/Microsoft.Compute/virtualMachines/vm-${run.runId.slice(0, 8)}`;
    const building = !stopped && now >= run.building && now < run.distributing;
    if (building && !sim.getResource(vmId) && sim.getResource(it.stagingRgId)) {
      sim.putResource({
        id: vmId,
        type: 'Microsoft.Compute/virtualMachines',
        name: `vm-${run.runId.slice(0, 8)}`,
        subscriptionId: r.subscriptionId,
        resourceGroup: stagingName,
        location: r.location,
        tags: { createdBy: 'AzureVMImageBuilder' },
        properties: { provisioningState: 'Succeeded' },
      });
    } else if (!building && sim.getResource(vmId)) {
      sim.deleteResource(vmId);
    }
    const logKey = `${it.storageAccount}/packerlogs/${run.runId}/customization.log`.toLowerCase();
    if (run.failure && now >= run.failure.at && !(run as { logged?: boolean }).logged) {
      sim.blobs.set(
        logKey,
        (sim.blobs.get(logKey) ?? '') +
          run.failure.log.map((l) => `PACKER ERR ${l}`).join('\n') +
          '\nPACKER ERR Build failed.\n',
      );
      (run as { logged?: boolean }).logged = true;
    }
    if (!stopped && !canceling && now >= run.distributing && !run.versionCreated) {
      run.versionCreated = true;
      for (const d of (Array.isArray(r.properties.distribute) ? r.properties.distribute : []).filter(
        isObject,
      )) {
        if (str(d.type) !== 'SharedImage') continue;
        const target = str(d.galleryImageId) ?? '';
        const versionId = /\/versions\/[^/]+$/i.test(target)
          ? target
          : `${target}/versions/${autoVersion(sim, target, now)}`;
        const imageId = versionId.split('/').slice(0, -2).join('/');
        const problem = !sim.getResource(imageId)
          ? `Distribution failed: gallery image ${imageId} not found.`
          : !sim.can(it.identity.principalId, 'Microsoft.Compute/galleries/images/versions/write', versionId)
            ? `Deployment failed. Correlation ID: ${run.runId}. Not authorized to access the resource: ${versionId}. Please check the user assigned identity has the correct permissions. ${TS}`
            : sim.getResource(versionId)
              ? `Distribution failed: the gallery image version ${versionId} already exists. ${TS}`
              : undefined;
        if (problem) {
          run.failure = { at: now, subState: 'Distributing', message: problem, log: [problem] };
          continue;
        }
        const regions = Array.isArray(d.targetRegions) ? d.targetRegions.filter(isObject) : [];
        const v = createVersionResource(sim, {
          id: versionId,
          location: r.location,
          tags: isObject(d.versioning) ? {} : {},
          targetRegions: regions.map((g) => ({
            name: str(g.name) ?? r.location,
            regionalReplicaCount: typeof g.replicaCount === 'number' ? g.replicaCount : 1,
            storageAccountType: str(g.storageAccountType) ?? 'Standard_LRS',
          })),
          excludeFromLatest: d.excludeFromLatest === true,
          source: { source: { id: '' } },
          startAt: now,
          allDoneBy: run.end,
        });
        v.tags = isObject(d.artifactTags) ? (d.artifactTags as Record<string, string>) : {};
        const outs = runOutputs(r);
        outs.push({ name: str(d.runOutputName) ?? 'output', artifactId: v.id });
        r.internal.runOutputs = outs;
      }
    }
  }
}

function autoVersion(sim: Simulator, imageId: string, now: number): string {
  const d = new Date(now);
  const candidate = `0.${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}.${d.getUTCHours() * 10000 + d.getUTCMinutes() * 100 + d.getUTCSeconds()}`;
  const existing = sim.resourcesIn(imageId).map((v) => v.name);
  return existing.some((e) => compareVersions(e, candidate) === 0) ? `${candidate}1` : candidate;
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
