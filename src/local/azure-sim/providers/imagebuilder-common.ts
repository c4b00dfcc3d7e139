/**
 * What the Image Builder provider's files share: the template type, its internal run state, the
 * error texts AIB writes (unauthorized staging group, staging conflict, missing/bad field), the
 * template's ARM view and its lastRunStatus per run state.
 */
import type { Simulator } from '../sim';
import { type ArmRequest, type SimResource } from '../types';

export const TYPE = 'Microsoft.VirtualMachineImages/imageTemplates';
export const TS = 'For more details, go to https://aka.ms/azvmimagebuilderts.';
/**
 * A canceled run is `Canceling` for a while before `Canceled`: the cancel "doesn't wait for cancel
 * to complete, monitor lastrunstatus.runstate for canceling progress" (image-builder-json doc,
 * "Cancelling an Image Build"). How long is not documented; Image Builder tears down its build VM
 * meanwhile, and public issues show runs left Canceling for hours (danielsollondon/azvmimagebuilder
 * #48, #79, #116): a quarter of an hour is modelled, longer than the factory's 10-minute poll cap.
 */
export const CANCELING_MS = 15 * 60_000;
export const ALLOWED_PROPERTIES = [
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

export interface RunState {
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

export interface TemplateInternal {
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

export function internalOf(r: SimResource): TemplateInternal {
  return r.internal as unknown as TemplateInternal;
}

export function idOf(req: ArmRequest, drop = 0): string {
  return '/' + req.segments.slice(0, req.segments.length - drop).join('/');
}

export function unauthorizedStaging(stagingRgId: string): { code: string; message: string } {
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
export function stagingConflict(): { code: string; message: string } {
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
export function missingField(object: string, field: string): string {
  return `Validation failed: '${object}': Missing field '${field}'. Please review http://aka.ms/azvmimagebuildertmplref for details on fields required in the Image Builder Template.`;
}

export function badValue(object: string, field: string, value: string): string {
  return `Validation failed: '${object}': Field '${field}' has a bad value: '${value}'.`;
}

export function identityIsContributorOn(sim: Simulator, principalId: string, rgId: string): boolean {
  return [
    'Microsoft.Compute/virtualMachines/write',
    'Microsoft.Storage/storageAccounts/write',
    'Microsoft.Network/networkInterfaces/write',
    'Microsoft.Resources/subscriptions/resourceGroups/read',
  ].every((a) => sim.can(principalId, a, rgId));
}

export function view(sim: Simulator, r: SimResource): Record<string, unknown> {
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

export function lastRunStatus(
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

/** The run outputs a template has now (one per distribute target that finished). */
export function runOutputs(r: SimResource): { name: string; artifactId: string }[] {
  return (r.internal.runOutputs as { name: string; artifactId: string }[] | undefined) ?? [];
}
