/**
 * Hints for refusals whose cause the message names, matched on the texts Azure sends (each pattern's
 * source is in test/adapters/error-corpus.json, which checks them). Kept apart from errors.ts so the
 * classifier stays readable.
 */

/** The resource an Image Builder "Not authorized to access the resource" message names. */
export function namedResource(text: string): string | undefined {
  // "…resource: /subscriptions/…/rg. Please…" and, without the colon, "…resource /subscription/…"
  // (MicrosoftDocs/azure-docs#99193).
  return /Not authorized to access the resource:?\s+(\/subscriptions?\/\S+?)\.?(?:\s|$)/i.exec(text)?.[1];
}

/** Whether an Image Builder "Not authorized" refusal is about a (staging) resource group. */
export function namesResourceGroup(text: string, stagingResourceGroupId: string | undefined): boolean {
  const named = namedResource(text);
  if (named === undefined) return true;
  if (stagingResourceGroupId !== undefined && named.toLowerCase() === stagingResourceGroupId.toLowerCase())
    return true;
  return /^\/subscriptions?\/[^/]+\/resourceGroups\/[^/]+$/i.test(named);
}

/**
 * Where to grant the build identity a right on a resource Image Builder named. For a subnet that is
 * the VNET's resource group, where Image Builder checks virtualNetworks/read and subnets/join/action
 * (image-builder-permissions-cli, "existing virtual network").
 */
export function grantScopeFor(named: string): { scope: string; role: string; note: string } {
  const subnet =
    /^(\/subscriptions?\/[^/]+\/resourceGroups\/[^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\//i.exec(
      named,
    );
  return subnet?.[1] === undefined
    ? { scope: named, role: 'Contributor', note: '' }
    : { scope: subnet[1], role: 'Network Contributor', note: " (the virtual network's resource group)" };
}

/**
 * Image Builder refuses to delete a template while a run is Running or Canceling (405
 * OperationNotAllowed "… is not allowed in provisioning state: provisioned or run state: canceling.",
 * danielsollondon/azvmimagebuilder#48).
 */
export function isRunStateRefusal(armCode: string | undefined, text: string): boolean {
  return armCode === 'OperationNotAllowed' && /\brun state: \w+/i.test(text);
}

export const RUN_STATE_HINT =
  'The template has a run in progress: cancel the run, then delete the template once lastRunStatus.runState is no longer Running or Canceling.';

/** A hint for capacity, quota and immutability refusals, or undefined. */
export function refusalHint(armCode: string | undefined, text: string): string | undefined {
  if (armCode === 'AllocationFailed' || /\bAllocationFailed\b/.test(text))
    // "Allocation failed. We do not have sufficient capacity for the requested VM size in this region."
    return 'Azure has no capacity for this VM size in the region right now: retry later, or use another size or region (https://aka.ms/allocation-guidance).';
  if (armCode === 'SkuNotAvailable') {
    // "The requested size for resource '…' is currently not available in location 'X' zones '' …"
    const location = /not available in location '([^']+)'/i.exec(text)?.[1] ?? '<location>';
    return `The VM size is not offered to this subscription in ${location}: pick one that is (az vm list-skus --location ${location} --resource-type virtualMachines --output table) or another region.`;
  }
  if (/exceeding (?:approved|quota limits)/i.test(text)) {
    // "Operation could not be completed as it results in exceeding approved <family> Cores quota. …"
    const quota = /exceeding approved (.+?) quota/i.exec(text)?.[1] ?? 'Cores';
    const location = /Location: ([^,]+)/.exec(text)?.[1] ?? 'the region';
    return `The subscription's ${quota} quota in ${location} is used up: request a quota increase (Azure portal, Quotas) or free cores.`;
  }
  if (armCode === 'PropertyChangeNotAllowed')
    // "Changing property 'galleryImageVersion.properties….source….id' is not allowed."
    return 'That property is fixed once set (a version is immutable): publish under a new version number, or delete the existing one first.';
  return undefined;
}

/** A role that covers an ARM action, for the "grant …" hint. */
export function suggestRole(action: string | undefined): string {
  if (action === undefined) return 'Contributor';
  const lower = action.toLowerCase();
  if (lower.startsWith('microsoft.network/') && (lower.includes('/join/') || lower.includes('/write')))
    return 'Network Contributor';
  if (lower.startsWith('microsoft.authorization/roleassignments/write')) return 'User Access Administrator';
  if (lower.startsWith('microsoft.managedidentity/userassignedidentities/assign/'))
    return 'Managed Identity Operator';
  if (lower.endsWith('/read')) return 'Reader';
  if (lower.startsWith('microsoft.virtualmachineimages/')) return 'Contributor';
  if (lower.startsWith('microsoft.compute/virtualmachines/runcommand')) return 'Virtual Machine Contributor';
  return 'Contributor';
}

export function grantCommand(args: { principalId: string; role: string; scope: string }): string {
  return `az role assignment create --assignee-object-id ${args.principalId} --assignee-principal-type ServicePrincipal --role "${args.role}" --scope ${args.scope}`;
}
