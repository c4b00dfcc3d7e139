/**
 * Microsoft.Compute virtual machines: GET (with instanceView), PUT (the checks ARM and Compute make
 * on image, network, identity and size), DELETE with its disks and NICs.
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { eqi, isObject, parseResourceId, str } from '../util';
import { isReplicatedIn } from './gallery-versions';
import { NIC_RESERVATION_MS, nicReserved } from './network';
import { authorizeFor, idOf, mustGet, rgCheck, tagsOf } from './common';

/** When the VM's create operation ends: it is Succeeded from then on (never Creating after it). */
export function vmReadyAt(sim: Simulator, r: SimResource): number {
  return typeof r.internal.readyAt === 'number'
    ? r.internal.readyAt
    : r.createdAt + sim.lroTimings.vmCreate.durationMs;
}

function vmView(sim: Simulator, r: SimResource): Record<string, unknown> {
  const v = sim.view(r) as { properties: Record<string, unknown>; etag?: string };
  const ready = sim.clock.now() >= vmReadyAt(sim, r);
  v.properties.provisioningState = r.internal.deleting
    ? 'Deleting'
    : r.properties.provisioningState === 'Failed'
      ? 'Failed'
      : ready
        ? 'Succeeded'
        : 'Creating';
  // Fields Azure's VM body carries (recorded traffic): creation time, the OS disk's type and
  // size, the exact gallery version behind the image reference.
  v.properties.timeCreated = new Date(r.createdAt).toISOString();
  const sp = v.properties.storageProfile as
    | {
        imageReference?: { id?: string; exactVersion?: string };
        osDisk?: { osType?: string; diskSizeGB?: number; managedDisk?: { id?: string } };
      }
    | undefined;
  const imageId = sp?.imageReference?.id;
  if (imageId && /\/versions\/[^/]+$/i.test(imageId) && sp?.imageReference)
    sp.imageReference.exactVersion = imageId.split('/').pop() ?? '';
  // Recorded traffic: managedDisk.id appears only on the GET after the create has completed.
  if (!ready && sp?.osDisk?.managedDisk) delete sp.osDisk.managedDisk.id;
  // Defaults Azure answers when the request left them out (the ComputeRP VM create examples'
  // responses in azure-rest-api-specs): no data disks, a ReadWrite-cached OS disk, no secrets.
  const storage = sp as Record<string, unknown> | undefined;
  if (storage) storage.dataDisks ??= [];
  if (sp?.osDisk) (sp.osDisk as Record<string, unknown>).caching ??= 'ReadWrite';
  const os = (v.properties.osProfile ?? {}) as Record<string, unknown>;
  delete os.adminPassword;
  delete os.customData;
  if (v.properties.osProfile !== undefined) os.secrets ??= [];
  // The VM carries an etag (recorded traffic; VirtualMachine.etag in the REST spec); its value
  // here is constant, not Azure's per-write counter.
  v.etag = '"1"';
  return v;
}

export function getVm(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/virtualMachines', 'read');
  const r = mustGet(sim, req, 'Microsoft.Compute/virtualMachines');
  const body = vmView(sim, r);
  // `$expand=instanceView`: a failed create's error is in the statuses, as
  // ProvisioningState/failed/<code> (VirtualMachineInstanceView; InstanceViewStatus in the REST spec).
  const failure = r.internal.createFailure as { code: string; message: string } | undefined;
  if (
    /instanceView/i.test(req.query.get('$expand') ?? '') &&
    failure &&
    r.properties.provisioningState === 'Failed'
  )
    (body.properties as Record<string, unknown>).instanceView = {
      statuses: [
        {
          code: `ProvisioningState/failed/${failure.code}`,
          level: 'Error',
          displayStatus: 'Provisioning failed',
          message: failure.message,
        },
      ],
    };
  return { status: 200, body };
}

export function putVm(sim: Simulator, req: ArmRequest): ArmResponse {
  const type = 'Microsoft.Compute/virtualMachines';
  authorizeFor(sim, req, type, 'write');
  rgCheck(sim, req);
  const id = idOf(req);
  const existing = sim.getResource(id);
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = isObject(body.properties) ? structuredClone(body.properties) : {};
  const sp = isObject(props.storageProfile) ? props.storageProfile : {};
  const imageRef = isObject(sp.imageReference) ? sp.imageReference : {};
  const imageId = str(imageRef.id);
  if (existing) {
    return {
      status: 200,
      body: vmView(sim, existing),
      headers: sim.beginOperation({
        subscriptionId: existing.subscriptionId,
        namespace: 'Microsoft.Compute',
        location,
        kind: 'vmCreate',
        apiVersion: req.apiVersion,
        endsAt: Math.max(sim.clock.now(), vmReadyAt(sim, existing)),
      }),
    };
  }
  if (!isObject(props.hardwareProfile) || !str(props.hardwareProfile.vmSize))
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'hardwareProfile.vmSize' is missing (null).",
    );
  const os = isObject(props.osProfile) ? props.osProfile : undefined;
  if (!os || !str(os.adminUsername))
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'osProfile.adminUsername' is missing (null).",
    );
  if (imageId) {
    const parsed = parseResourceId(imageId);
    const readAction = `${parsed?.type ?? 'Microsoft.Compute/galleries/images/versions'}/read`;
    const image = sim.getResource(imageId);
    const sameTenant =
      parsed && eqi(sim.subscriptionTenant.get(parsed.subscriptionId.toLowerCase()), req.claims.tid);
    if (!sameTenant) throw sim.linkedSubscriptionNotAuthorized(req.claims, readAction, id, imageId);
    if (!sim.can(req.claims.oid, readAction, imageId))
      throw sim.linkedAuthorizationFailed(req.claims, `${type}/write`, id, [readAction], [imageId]);
    if (!image)
      throw new ArmError(
        404,
        'GalleryImageNotFound',
        `The gallery image ${imageId} is not available in ${location} region. Please contact image owner to replicate to this region, or change your requested region.`,
      );
    if (
      image.type === 'Microsoft.Compute/galleries/images/versions' &&
      !isReplicatedIn(sim, image, location)
    ) {
      throw new ArmError(
        404,
        'GalleryImageNotFound',
        `The gallery image ${imageId} is not available in ${location} region. Please contact image owner to replicate to this region, or change your requested region.`,
      );
    }
  } else if (!str(imageRef.publisher)) {
    throw new ArmError(
      400,
      'InvalidParameter',
      "Required parameter 'storageProfile.imageReference' is missing (null).",
    );
  }
  const np = isObject(props.networkProfile) ? props.networkProfile : {};
  const nics = Array.isArray(np.networkInterfaces) ? np.networkInterfaces.filter(isObject) : [];
  if (nics.length === 0)
    throw new ArmError(400, 'InvalidParameter', "Required parameter 'networkProfile' is missing (null).");
  for (const nic of nics) {
    const nicId = str(nic.id) ?? '';
    const nicRes = sim.getResource(nicId);
    if (!nicRes) throw new ArmError(400, 'NotFound', `Resource ${nicId} not found.`);
    if (!sim.can(req.claims.oid, 'Microsoft.Network/networkInterfaces/join/action', nicId))
      throw sim.linkedAuthorizationFailed(
        req.claims,
        `${type}/write`,
        id,
        ['Microsoft.Network/networkInterfaces/join/action'],
        [nicId],
      );
    const reserved = nicReserved(sim, nicRes, id);
    if (reserved) throw reserved;
    const used = isObject(nicRes.properties.virtualMachine)
      ? str(nicRes.properties.virtualMachine.id)
      : undefined;
    if (used && !eqi(used, id) && sim.getResource(used))
      throw new ArmError(400, 'NicInUse', `Network interface ${nicId} is already in use by ${used}.`);
    nicRes.properties.virtualMachine = { id };
  }
  const parsed = parseResourceId(id);
  const osDiskIn = isObject(sp.osDisk) ? sp.osDisk : {};
  const diskName =
    str(osDiskIn.name) ?? `${parsed?.name ?? 'vm'}_OsDisk_1_${sim.newGuid().replace(/-/g, '')}`;
  const diskId = `/subscriptions/${parsed?.subscriptionId ?? ''}/resourceGroups/${parsed?.resourceGroup ?? ''}/providers/Microsoft.Compute/disks/${diskName}`;
  sim.putResource({
    id: diskId,
    type: 'Microsoft.Compute/disks',
    name: diskName,
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: {},
    properties: {
      provisioningState: 'Succeeded',
      diskState: 'Attached',
      diskSizeGB: 30,
      creationData: {
        createOption: 'FromImage',
        ...(imageId ? { galleryImageReference: { id: imageId } } : {}),
      },
    },
    internal: { attachedTo: id },
  });
  // The OS disk's type comes from the image (a gallery version's definition, a managed image).
  const image = imageId ? sim.getResource(imageId) : undefined;
  const definition = image ? sim.getResource(image.id.split('/').slice(0, -2).join('/')) : undefined;
  const managedOs = image?.properties.storageProfile as { osDisk?: { osType?: string } } | undefined;
  const osType =
    str(definition?.properties.osType) ??
    str(managedOs?.osDisk?.osType) ??
    (isObject(os.linuxConfiguration) ? 'Linux' : 'Windows');
  sp.osDisk = {
    ...osDiskIn,
    osType,
    diskSizeGB: typeof osDiskIn.diskSizeGB === 'number' ? osDiskIn.diskSizeGB : 30,
    name: diskName,
    createOption: 'FromImage',
    deleteOption: str(osDiskIn.deleteOption) ?? 'Detach',
    managedDisk: { ...(isObject(osDiskIn.managedDisk) ? osDiskIn.managedDisk : {}), id: diskId },
  };
  props.storageProfile = sp;
  props.vmId = sim.newGuid();
  const r = sim.putResource({
    id,
    type,
    name: parsed?.name ?? '',
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: tagsOf(body),
    properties: props,
    internal: { imageId, readyAt: sim.clock.now() + sim.lroTimings.vmCreate.durationMs },
  });
  const failureAt = sim.vmCreateFailures.findIndex((f) => eqi(f.vmName, r.name));
  const failure = failureAt >= 0 ? sim.vmCreateFailures.splice(failureAt, 1)[0] : undefined;
  // The create operation and the VM's provisioningState end together (vmReadyAt).
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location,
    kind: 'vmCreate',
    apiVersion: req.apiVersion,
    ...(failure
      ? {
          outcome: {
            error: { code: failure.code, message: failure.message },
            // The VM stays, Failed; its NICs are released from it but reserved for it a while.
            onDone: () => {
              r.properties.provisioningState = 'Failed';
              r.internal.createFailure = { code: failure.code, message: failure.message };
              for (const nic of nics) {
                const nicRes = sim.getResource(str(nic.id) ?? '');
                if (!nicRes) continue;
                delete nicRes.properties.virtualMachine;
                nicRes.internal.reservedFor = r.id;
                // From when the create failed (its operation's end), not from when the failure is first read.
                nicRes.internal.reservedUntil = vmReadyAt(sim, r) + NIC_RESERVATION_MS;
              }
            },
          },
        }
      : {}),
    endsAt: vmReadyAt(sim, r),
  });
  return { status: 201, body: vmView(sim, r), headers: { ...headers, ...VM_ASYNC_NOTIFICATION } };
}

export function deleteVm(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Compute/virtualMachines', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  if (r.internal.deleting) return { status: 202, headers: sim.beginOperation(vmDeleteOp(r, req)) };
  r.internal.deleting = true;
  const onDone = (): void => {
    const sp = r.properties.storageProfile as
      { osDisk?: { deleteOption?: string; managedDisk?: { id?: string } } } | undefined;
    const diskId = sp?.osDisk?.managedDisk?.id;
    const disk = diskId ? sim.getResource(diskId) : undefined;
    if (disk) {
      if (eqi(sp?.osDisk?.deleteOption, 'Delete')) sim.deleteResource(disk.id);
      else {
        disk.properties.diskState = 'Unattached';
        delete disk.internal.attachedTo;
      }
    }
    const np = r.properties.networkProfile as
      { networkInterfaces?: { id?: string; properties?: { deleteOption?: string } }[] } | undefined;
    for (const n of np?.networkInterfaces ?? []) {
      const nic = n.id ? sim.getResource(n.id) : undefined;
      if (!nic) continue;
      // A NIC the VM never got (its create failed) is not the VM's to delete.
      const attached =
        isObject(nic.properties.virtualMachine) && eqi(str(nic.properties.virtualMachine.id), r.id);
      if (eqi(n.properties?.deleteOption, 'Delete') && attached) sim.deleteResource(nic.id);
      else if (attached) delete nic.properties.virtualMachine;
    }
    sim.deleteResource(r.id);
  };
  const headers = sim.beginOperation({
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'vmDelete',
    location202: true,
    apiVersion: req.apiVersion,
    outcome: { onDone },
  });
  return { status: 202, headers: { ...headers, ...VM_ASYNC_NOTIFICATION } };
}

function vmDeleteOp(r: SimResource, req: ArmRequest): Parameters<Simulator['beginOperation']>[0] {
  return {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Compute',
    location: r.location,
    kind: 'vmDelete',
    location202: true,
    apiVersion: req.apiVersion,
  };
}

/** Recorded traffic: VM writes answer with `azure-asyncnotification: Enabled`. */
const VM_ASYNC_NOTIFICATION = { 'azure-asyncnotification': 'Enabled' };
