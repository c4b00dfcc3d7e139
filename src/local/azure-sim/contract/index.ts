/**
 * Checks each ARM exchange with the simulator against the SDK packages' own models (arm-models.json,
 * derived from the REST specs through the SDKs): the body the adapters send and the body the
 * simulator answers. Off unless an observer is installed (test/support/arm-contract.ts does it for
 * every jest test file and fails the file on any violation), so `npm start` pays nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkAgainstModel, type ContractViolation, type WireModels } from './schema';

export type { ContractViolation } from './schema';

export interface ArmExchange {
  method: string;
  /** Lower-case resource type and verb, as the simulator routes them. */
  type: string;
  verb: string;
  path: string;
  apiVersion: string | undefined;
  requestBody: unknown;
  status: number;
  responseBody: unknown;
}

interface OperationModels {
  /** Model of the request body (PUT/PATCH/POST). */
  request?: string;
  /** Model of a 200/201 answer; `list` answers are `{ value: Model[], nextLink? }`, `array` a bare array. */
  response?: string;
  shape?: 'list' | 'array';
}

/** What each simulated operation sends and answers, by the SDK model the adapters use for it. */
export const OPERATION_MODELS: Record<string, OperationModels> = {
  'microsoft.virtualmachineimages/imagetemplates put': {
    request: 'imagebuilder.ImageTemplate',
    response: 'imagebuilder.ImageTemplate',
  },
  'microsoft.virtualmachineimages/imagetemplates get': { response: 'imagebuilder.ImageTemplate' },
  'microsoft.virtualmachineimages/imagetemplates list': {
    response: 'imagebuilder.ImageTemplate',
    shape: 'list',
  },
  'microsoft.virtualmachineimages/imagetemplates/runoutputs get': { response: 'imagebuilder.RunOutput' },
  'microsoft.virtualmachineimages/imagetemplates/runoutputs list': {
    response: 'imagebuilder.RunOutput',
    shape: 'list',
  },
  'microsoft.compute/galleries get': { response: 'compute.Gallery' },
  'microsoft.compute/galleries/images get': { response: 'compute.GalleryImage' },
  'microsoft.compute/galleries/images put': {
    request: 'compute.GalleryImage',
    response: 'compute.GalleryImage',
  },
  'microsoft.compute/galleries/images list': { response: 'compute.GalleryImage', shape: 'list' },
  'microsoft.compute/galleries/images/versions get': { response: 'compute.GalleryImageVersion' },
  'microsoft.compute/galleries/images/versions put': {
    request: 'compute.GalleryImageVersion',
    response: 'compute.GalleryImageVersion',
  },
  'microsoft.compute/galleries/images/versions patch': {
    request: 'compute.GalleryImageVersionUpdate',
    response: 'compute.GalleryImageVersion',
  },
  'microsoft.compute/galleries/images/versions list': {
    response: 'compute.GalleryImageVersion',
    shape: 'list',
  },
  'microsoft.compute/locations/publishers/artifacttypes/offers/skus/versions list': {
    response: 'compute.VirtualMachineImageResource',
    shape: 'array',
  },
  'microsoft.compute/locations/publishers/artifacttypes/offers/skus/versions get': {
    response: 'compute.VirtualMachineImage',
  },
  'microsoft.compute/images get': { response: 'compute.Image' },
  'microsoft.compute/virtualmachines get': { response: 'compute.VirtualMachine' },
  'microsoft.compute/virtualmachines put': {
    request: 'compute.VirtualMachine',
    response: 'compute.VirtualMachine',
  },
  'microsoft.compute/virtualmachines action:runcommand': {
    request: 'compute.RunCommandInput',
    response: 'compute.RunCommandResult',
  },
  'microsoft.compute/virtualmachines/runcommands put': {
    request: 'compute.VirtualMachineRunCommand',
    response: 'compute.VirtualMachineRunCommand',
  },
  'microsoft.compute/virtualmachines/runcommands get': { response: 'compute.VirtualMachineRunCommand' },
  'microsoft.compute/virtualmachines/runcommands list': {
    response: 'compute.VirtualMachineRunCommand',
    shape: 'list',
  },
  'microsoft.compute/disks get': { response: 'compute.Disk' },
  'microsoft.compute/disks patch': { request: 'compute.DiskUpdate', response: 'compute.Disk' },
  'microsoft.network/virtualnetworks get': { response: 'network.VirtualNetwork' },
  'microsoft.network/virtualnetworks/subnets get': { response: 'network.Subnet' },
  'microsoft.network/networksecuritygroups get': { response: 'network.NetworkSecurityGroup' },
  'microsoft.network/networkinterfaces get': { response: 'network.NetworkInterface' },
  'microsoft.network/networkinterfaces put': {
    request: 'network.NetworkInterface',
    response: 'network.NetworkInterface',
  },
  'microsoft.resources/resourcegroups get': { response: 'resources.ResourceGroup' },
  'microsoft.resources/resourcegroups put': {
    request: 'resources.ResourceGroup',
    response: 'resources.ResourceGroup',
  },
  'microsoft.resources/resourcegroups list': { response: 'resources.ResourceGroup', shape: 'list' },
  'microsoft.resources/resources list': { response: 'resources.GenericResourceExpanded', shape: 'list' },
  'microsoft.authorization/roleassignments get': { response: 'authorization.RoleAssignment' },
  'microsoft.authorization/roleassignments put': {
    request: 'authorization.RoleAssignmentCreateParameters',
    response: 'authorization.RoleAssignment',
  },
  'microsoft.authorization/roleassignments list': { response: 'authorization.RoleAssignment', shape: 'list' },
  'microsoft.authorization/roledefinitions get': { response: 'authorization.RoleDefinition' },
  'microsoft.authorization/roledefinitions list': { response: 'authorization.RoleDefinition', shape: 'list' },
  'microsoft.authorization/permissions list': { response: 'authorization.Permission', shape: 'list' },
};

let models: WireModels | undefined;
function armModels(): WireModels {
  // Loaded on first use only: 250 kB nobody outside the contract check needs.
  models ??= JSON.parse(readFileSync(path.join(__dirname, 'arm-models.json'), 'utf8')) as WireModels;
  return models;
}

/** ARM's error envelope (ARM RPC: "Error response content"): code and message, optional target, details. */
function checkError(body: unknown): ContractViolation[] {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error !== 'object' || error === null)
    return [{ path: '$.error', problem: 'an ARM error answer carries { error: { code, message } }' }];
  const out: ContractViolation[] = [];
  const check = (e: Record<string, unknown>, path: string): void => {
    if (typeof e.code !== 'string' || e.code === '') out.push({ path: `${path}.code`, problem: 'missing' });
    if (typeof e.message !== 'string') out.push({ path: `${path}.message`, problem: 'missing' });
    for (const key of Object.keys(e))
      if (!['code', 'message', 'target', 'details', 'additionalInfo'].includes(key))
        out.push({ path: `${path}.${key}`, problem: 'not a field of ARM ErrorDetail' });
    if (Array.isArray(e.details))
      e.details.forEach((d, i) => check(d as Record<string, unknown>, `${path}.details[${i}]`));
  };
  check(error as Record<string, unknown>, '$.error');
  return out;
}

/** Every way the exchange differs from the SDK models; empty when it conforms or is not modelled. */
export function checkExchange(exchange: ArmExchange): ContractViolation[] {
  if (exchange.status >= 400)
    return exchange.responseBody === undefined ? [] : checkError(exchange.responseBody);
  const entry = OPERATION_MODELS[`${exchange.type} ${exchange.verb}`];
  if (entry === undefined) return [];
  const all = armModels();
  const out: ContractViolation[] = [];
  if (entry.request !== undefined && exchange.requestBody !== undefined)
    for (const v of checkAgainstModel(all, entry.request, exchange.requestBody, {
      direction: 'request',
      partial: exchange.method === 'PATCH',
    }))
      out.push({ path: `request ${v.path}`, problem: v.problem });
  const body = exchange.responseBody;
  if (
    entry.response !== undefined &&
    body !== undefined &&
    (exchange.status === 200 || exchange.status === 201)
  ) {
    const items =
      entry.shape === 'array'
        ? Array.isArray(body)
          ? body
          : undefined
        : entry.shape === 'list'
          ? (body as { value?: unknown }).value
          : [body];
    if (!Array.isArray(items))
      out.push({ path: 'response $', problem: `expected a ${entry.shape ?? 'body'}` });
    else
      items.forEach((item, i) => {
        const at = entry.shape === undefined ? '$' : entry.shape === 'list' ? `$.value[${i}]` : `$[${i}]`;
        for (const v of checkAgainstModel(all, entry.response as string, item, { direction: 'response' }, at))
          out.push({ path: `response ${v.path}`, problem: v.problem });
      });
    if (entry.shape === 'list')
      for (const key of Object.keys(body as object))
        if (key !== 'value' && key !== 'nextLink')
          out.push({ path: `response $.${key}`, problem: 'a list answer has only value and nextLink' });
  }
  return out;
}

type Observer = (exchange: ArmExchange) => void;
let observer: Observer | undefined;

/**
 * Installs (or removes) the process-wide observer every simulator reports its ARM exchanges to;
 * returns the one it replaces, so a test can look at exchanges itself and put the suite's back.
 */
export function setArmExchangeObserver(next: Observer | undefined): Observer | undefined {
  const previous = observer;
  observer = next;
  return previous;
}

/** Called by the simulator for each ARM answer it sends. */
export function reportArmExchange(exchange: ArmExchange): void {
  observer?.(exchange);
}
