/**
 * Microsoft.Network reads (VNETs with subnets, subnets, NSGs) and network interfaces (GET, PUT,
 * DELETE), with the 180 s reservation of a NIC whose VM create failed.
 */
import type { Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse, type SimResource } from '../types';
import { eqi, isObject, parseResourceId, str } from '../util';
import { authorizeFor, idOf, mustGet, rgCheck, tagsOf } from './common';

function subnetView(sim: Simulator, r: SimResource): Record<string, unknown> {
  return { id: r.id, name: r.name, type: r.type, etag: 'W/"1"', properties: structuredClone(r.properties) };
}

function getVnet(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/virtualNetworks', 'read');
  const r = mustGet(sim, req, 'Microsoft.Network/virtualNetworks');
  return { status: 200, body: sim.view(r, { etag: 'W/"1"' }) };
}

export function getVnetWithSubnets(sim: Simulator, req: ArmRequest): ArmResponse {
  const out = getVnet(sim, req);
  const r = sim.getResource(idOf(req));
  if (r && isObject(out.body) && isObject(out.body.properties)) {
    out.body.properties.subnets = sim
      .resourcesIn(r.id)
      .filter((x) => x.type === 'Microsoft.Network/virtualNetworks/subnets')
      .map((x) => subnetView(sim, x));
  }
  return out;
}

export function getSubnet(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/virtualNetworks/subnets', 'read');
  return {
    status: 200,
    body: subnetView(sim, mustGet(sim, req, 'Microsoft.Network/virtualNetworks/subnets')),
  };
}

export function getNsg(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/networkSecurityGroups', 'read');
  return {
    status: 200,
    body: sim.view(mustGet(sim, req, 'Microsoft.Network/networkSecurityGroups'), { etag: 'W/"1"' }),
  };
}

export function getNic(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/networkInterfaces', 'read');
  return { status: 200, body: nicView(sim, mustGet(sim, req, 'Microsoft.Network/networkInterfaces')) };
}

/** A NIC as ARM answers it, with the DNS settings Azure's body carries (recorded traffic). */
function nicView(sim: Simulator, r: SimResource): Record<string, unknown> {
  const v = sim.view(r, { etag: 'W/"1"' });
  const props = v.properties as Record<string, unknown>;
  props.dnsSettings = { dnsServers: [], appliedDnsServers: [] };
  // The defaults Azure answers when the request left them out (REST spec example
  // NetworkInterfaceCreate.json, network 2024-05-01: 200/201 bodies).
  props.enableAcceleratedNetworking ??= false;
  props.enableIPForwarding ??= false;
  props.vnetEncryptionSupported ??= false;
  for (const ipc of Array.isArray(props.ipConfigurations) ? props.ipConfigurations.filter(isObject) : [])
    if (isObject(ipc.properties)) ipc.properties.privateIPAddressVersion ??= 'IPv4';
  return v;
}

export function putNic(sim: Simulator, req: ArmRequest): ArmResponse {
  const type = 'Microsoft.Network/networkInterfaces';
  authorizeFor(sim, req, type, 'write');
  rgCheck(sim, req);
  const id = idOf(req);
  const body = sim.parseBody(req);
  const location = str(body.location);
  if (!location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  const props = isObject(body.properties) ? body.properties : {};
  const ipcs = Array.isArray(props.ipConfigurations) ? props.ipConfigurations.filter(isObject) : [];
  if (ipcs.length === 0)
    // Network's code and text; the text names the NIC, not its id (F5Networks/f5-cloud-failover-extension#129)
    throw new ArmError(
      400,
      'InvalidIPConfigCount',
      `Network interface ${req.segments[req.segments.length - 1] ?? ''} must have one or more IP configurations.`,
    );
  const configs = ipcs.map((c, i) => {
    const cp = isObject(c.properties) ? c.properties : {};
    const subnetId = str(isObject(cp.subnet) ? cp.subnet.id : undefined);
    if (!subnetId)
      throw new ArmError(
        400,
        'InvalidRequestFormat',
        'Cannot parse the request. The subnet reference is missing.',
      );
    const subnet = sim.getResource(subnetId);
    if (!sim.can(req.claims.oid, 'Microsoft.Network/virtualNetworks/subnets/join/action', subnetId)) {
      throw sim.linkedAuthorizationFailed(
        req.claims,
        `${type}/write`,
        id,
        ['Microsoft.Network/virtualNetworks/subnets/join/action'],
        [subnetId],
      );
    }
    if (!subnet)
      throw new ArmError(
        400,
        'InvalidResourceReference',
        `Resource ${subnetId} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      );
    if (!eqi(subnet.location, location)) {
      throw new ArmError(
        400,
        'InvalidResourceReference',
        `Resource ${subnetId} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      );
    }
    return {
      id: `${id}/ipConfigurations/${str(c.name) ?? `ipconfig${i + 1}`}`,
      name: str(c.name) ?? `ipconfig${i + 1}`,
      properties: {
        privateIPAddress: `10.30.1.${4 + i}`,
        privateIPAllocationMethod: 'Dynamic',
        subnet: { id: subnetId },
        primary: i === 0,
        provisioningState: 'Succeeded',
      },
    };
  });
  const existing = sim.getResource(id);
  const parsed = parseResourceId(id);
  const r = sim.putResource({
    id,
    type,
    name: parsed?.name ?? '',
    subscriptionId: parsed?.subscriptionId ?? '',
    resourceGroup: parsed?.resourceGroup ?? '',
    location,
    tags: tagsOf(body),
    properties: {
      provisioningState: 'Succeeded',
      ipConfigurations: configs,
      ...(typeof props.enableAcceleratedNetworking === 'boolean'
        ? { enableAcceleratedNetworking: props.enableAcceleratedNetworking }
        : {}),
      ...(typeof props.enableIPForwarding === 'boolean'
        ? { enableIPForwarding: props.enableIPForwarding }
        : {}),
      ...(existing?.properties.virtualMachine ? { virtualMachine: existing.properties.virtualMachine } : {}),
    },
  });
  // Synchronous in Azure: 201 (200 on update) with the NIC, no operation headers (recorded traffic).
  return { status: existing ? 200 : 201, body: nicView(sim, r) };
}

/**
 * A VM create that fails keeps its NICs reserved for it for 180 s: deleting one, or giving it to
 * another VM, is refused meanwhile (400 NicReservedForAnotherVm; taskcluster/taskcluster#7196,
 * cloudfoundry/bosh-azure-cpi-release#366, gardenlinux/gardenlinux#4133, Azure/karpenter-provider-azure#92).
 */
export const NIC_RESERVATION_MS = 180_000;

export function nicReserved(sim: Simulator, nic: SimResource, forVm?: string): ArmError | undefined {
  const until = typeof nic.internal.reservedUntil === 'number' ? nic.internal.reservedUntil : 0;
  const reservedFor = typeof nic.internal.reservedFor === 'string' ? nic.internal.reservedFor : '';
  if (sim.clock.now() >= until || (forVm !== undefined && eqi(forVm, reservedFor))) return undefined;
  const seconds = NIC_RESERVATION_MS / 1000;
  return new ArmError(
    400,
    'NicReservedForAnotherVm',
    `Nic(s) in request is reserved for another Virtual Machine for ${seconds} seconds. Please provide another nic(s) or retry after ${seconds} seconds. Reserved VM: ${reservedFor}`,
  );
}

export function deleteNic(sim: Simulator, req: ArmRequest): ArmResponse {
  authorizeFor(sim, req, 'Microsoft.Network/networkInterfaces', 'delete');
  const r = sim.getResource(idOf(req));
  if (!r) return { status: 204 };
  const reserved = nicReserved(sim, r);
  if (reserved) throw reserved;
  const vm = isObject(r.properties.virtualMachine) ? str(r.properties.virtualMachine.id) : undefined;
  if (vm && sim.getResource(vm)) {
    throw new ArmError(
      400,
      'NicInUse',
      `Network Interface ${r.id} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`,
    );
  }
  if (r.internal.deleting) return { status: 202, headers: sim.beginOperation(nicDeleteOp(sim, r, req)) };
  r.internal.deleting = true;
  r.properties.provisioningState = 'Deleting';
  const headers = sim.beginOperation({
    ...nicDeleteOp(sim, r, req),
    outcome: { onDone: () => sim.deleteResource(r.id) },
  });
  return { status: 202, headers };
}

function nicDeleteOp(
  sim: Simulator,
  r: SimResource,
  req: ArmRequest,
): Parameters<Simulator['beginOperation']>[0] {
  return {
    subscriptionId: r.subscriptionId,
    namespace: 'Microsoft.Network',
    location: r.location,
    kind: 'nicDelete',
    location202: true,
    apiVersion: req.apiVersion,
  };
}
