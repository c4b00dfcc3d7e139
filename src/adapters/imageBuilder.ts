/**
 * ImageBuilderPort over @azure/arm-imagebuilder 5.x. Its models are FLATTENED: source, customize,
 * distribute, vmProfile… sit at the top level of ImageTemplate (a nested `properties` object is
 * silently dropped by the serializer), and `identity` is required.
 */
import type {
  ImageTemplate,
  ImageTemplateCustomizerUnion,
  ImageTemplateSourceUnion,
} from '@azure/arm-imagebuilder';
import type {
  ImageBuilderPort,
  ImageTemplateRef,
  ImageTemplateSpec,
  ImageTemplateStatus,
  RunState,
  StagingGroupInfo,
} from '../ports/azure';
import { FactoryError } from '../shared/errors';
import type { SecurityRule } from '@azure/arm-network';
import type { ClientFactory } from './clients';
import { parseResourceId, segment } from './clients';
import { azureCall, classifyAzureError, orUndefined, type ErrorContext } from './errors';
import { readCustomizationLog } from './customizationLog';

export function templateId(ref: ImageTemplateRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.VirtualMachineImages/imageTemplates/${ref.name}`;
}

function toSource(source: ImageTemplateSpec['source']): ImageTemplateSourceUnion {
  switch (source.type) {
    case 'PlatformImage':
      return {
        type: 'PlatformImage',
        publisher: source.publisher,
        offer: source.offer,
        sku: source.sku,
        version: source.version,
      };
    case 'SharedImageVersion':
      return { type: 'SharedImageVersion', imageVersionId: source.imageVersionId };
    case 'ManagedImage':
      return { type: 'ManagedImage', imageId: source.imageId };
  }
}

function toCustomizer(customizer: ImageTemplateSpec['customizers'][number]): ImageTemplateCustomizerUnion {
  // Field names are case-sensitive from API 2024-02-01 on: copy only what the API knows.
  switch (customizer.type) {
    case 'Shell':
      return {
        type: 'Shell',
        name: customizer.name,
        inline: customizer.inline,
        scriptUri: customizer.scriptUri,
        sha256Checksum: customizer.sha256Checksum,
      };
    case 'PowerShell':
      return {
        type: 'PowerShell',
        name: customizer.name,
        inline: customizer.inline,
        scriptUri: customizer.scriptUri,
        sha256Checksum: customizer.sha256Checksum,
        runElevated: customizer.runElevated,
      };
    case 'File':
      return {
        type: 'File',
        name: customizer.name,
        sourceUri: customizer.sourceUri,
        destination: customizer.destination,
        sha256Checksum: customizer.sha256Checksum,
      };
    case 'WindowsUpdate':
      return {
        type: 'WindowsUpdate',
        name: customizer.name,
        searchCriteria: customizer.searchCriteria,
        filters: customizer.filters,
        updateLimit: customizer.updateLimit,
      };
    case 'WindowsRestart':
      return { type: 'WindowsRestart', name: customizer.name, restartTimeout: customizer.restartTimeout };
  }
}

/** The request body for PUT imageTemplates (flattened 5.x model). */
export function toImageTemplate(spec: ImageTemplateSpec): ImageTemplate {
  return {
    location: spec.location,
    tags: spec.tags,
    identity: { type: 'UserAssigned', userAssignedIdentities: { [spec.buildIdentityId]: {} } },
    source: toSource(spec.source),
    customize: spec.customizers.map(toCustomizer),
    distribute: [
      {
        type: 'SharedImage',
        galleryImageId: spec.distribute.galleryImageVersionId,
        runOutputName: spec.distribute.runOutputName,
        excludeFromLatest: spec.distribute.excludeFromLatest,
        targetRegions: spec.distribute.targetRegions.map((region) => ({
          name: region.name,
          replicaCount: region.replicaCount,
          storageAccountType: region.storageAccountType,
        })),
        artifactTags: spec.tags,
      },
    ],
    buildTimeoutInMinutes: spec.buildTimeoutInMinutes,
    vmProfile: {
      vmSize: spec.vmSize,
      osDiskSizeGB: spec.osDiskSizeGB,
      ...(spec.subnetId === undefined ? {} : { vnetConfig: { subnetId: spec.subnetId } }),
    },
    ...(spec.stagingResourceGroupId === undefined
      ? {}
      : { stagingResourceGroup: spec.stagingResourceGroupId }),
  };
}

function isoDate(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}

export function toStatus(template: ImageTemplate): ImageTemplateStatus {
  const status: ImageTemplateStatus = {
    provisioningState: template.provisioningState ?? 'Creating',
  };
  if (template.provisioningError !== undefined) {
    status.provisioningError = {
      code: template.provisioningError.provisioningErrorCode ?? 'Unknown',
      message: template.provisioningError.message ?? '',
    };
  }
  const run = template.lastRunStatus;
  if (run !== undefined) {
    const startTime = isoDate(run.startTime);
    const endTime = isoDate(run.endTime);
    status.lastRun = {
      runState: (run.runState ?? 'Running') as RunState,
      ...(run.runSubState === undefined ? {} : { runSubState: run.runSubState }),
      ...(run.message === undefined ? {} : { message: run.message }),
      ...(startTime === undefined ? {} : { startTime }),
      ...(endTime === undefined ? {} : { endTime }),
    };
  }
  return status;
}

function sameRegion(a: string, b: string): boolean {
  return a.replace(/\s+/g, '').toLowerCase() === b.replace(/\s+/g, '').toLowerCase();
}

/** The proxy VM port AIB uses: 60000 for Windows builds, 60001 for Linux. */
function isWindowsBuild(spec: ImageTemplateSpec): boolean {
  if (
    spec.customizers.some(
      (c) => c.type === 'PowerShell' || c.type === 'WindowsUpdate' || c.type === 'WindowsRestart',
    )
  )
    return true;
  return (
    spec.source.type === 'PlatformImage' && /windows/i.test(`${spec.source.publisher} ${spec.source.offer}`)
  );
}

/** NSG semantics: inbound rules (custom + default) by priority; the first that matches the traffic decides. */
function decisiveInboundRule(rules: SecurityRule[], source: string, port: number): SecurityRule | undefined {
  return rules
    .filter((rule) => rule.direction === 'Inbound')
    .sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))
    .find((rule) => {
      const sources = [
        ...(rule.sourceAddressPrefix === undefined ? [] : [rule.sourceAddressPrefix]),
        ...(rule.sourceAddressPrefixes ?? []),
      ];
      if (!sources.some((s) => s === '*' || s.toLowerCase() === source.toLowerCase())) return false;
      if (rule.protocol !== undefined && !['*', 'tcp'].includes(rule.protocol.toLowerCase())) return false;
      const ranges = [
        ...(rule.destinationPortRange === undefined ? [] : [rule.destinationPortRange]),
        ...(rule.destinationPortRanges ?? []),
      ];
      return ranges.some((range) => {
        if (range === '*') return true;
        const [lo, hi] = range.split('-').map(Number);
        return lo !== undefined && port >= lo && port <= (hi ?? lo);
      });
    });
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

export class ImageBuilderAdapter implements ImageBuilderPort {
  constructor(private readonly clients: ClientFactory) {}

  private context(operation: string, ref: ImageTemplateRef, extra: Partial<ErrorContext> = {}): ErrorContext {
    return {
      operation,
      resource: templateId(ref),
      principal: this.clients.runtime.store.principal(this.clients.credentialName),
      ...extra,
    };
  }

  private templates(
    ref: ImageTemplateRef,
  ): ReturnType<ClientFactory['imageBuilder']>['virtualMachineImageTemplates'] {
    return this.clients.imageBuilder(ref.subscriptionId).virtualMachineImageTemplates;
  }

  private get poll(): { updateIntervalInMs: number } {
    return { updateIntervalInMs: this.clients.runtime.updateIntervalInMs };
  }

  async getTemplate(ref: ImageTemplateRef): Promise<ImageTemplateStatus | undefined> {
    const template = await orUndefined(this.context('read image template', ref), () =>
      this.templates(ref).get(ref.resourceGroup, ref.name),
    );
    return template === undefined ? undefined : toStatus(template);
  }

  async createTemplate(spec: ImageTemplateSpec): Promise<ImageTemplateStatus> {
    const context = this.context('create image template', spec, {
      buildIdentityId: spec.buildIdentityId,
      ...(spec.stagingResourceGroupId === undefined
        ? {}
        : { stagingResourceGroupId: spec.stagingResourceGroupId }),
    });
    const existing = await this.getTemplate(spec);
    if (existing !== undefined) {
      if (existing.provisioningState === 'Failed') throw this.failedProvisioning(existing, context, true);
      // Succeeded, or still Creating/Updating from an earlier attempt: templates are immutable, never re-PUT.
      return existing;
    }
    if (spec.subnetId !== undefined) await this.checkBuildSubnet(spec, spec.subnetId);
    // Provisioning takes ~30 s in Azure: return once ARM accepted the PUT; the orchestration reads
    // the template (templateProvisioning) until it is Succeeded or Failed.
    let accepted: ImageTemplateStatus = { provisioningState: 'Creating' };
    await azureCall(context, async () => {
      const poller = this.templates(spec).createOrUpdate(
        spec.resourceGroup,
        spec.name,
        toImageTemplate(spec),
        this.poll,
      );
      await poller.submitted();
      const body = poller.operationState?.result;
      if (body !== undefined) accepted = toStatus(body);
    });
    this.clients.runtime.log(`image template ${spec.name}: ${accepted.provisioningState} (accepted)`);
    return accepted;
  }

  async templateProvisioning(ref: ImageTemplateRef): Promise<ImageTemplateStatus | undefined> {
    const template = await orUndefined(this.context('read image template', ref), () =>
      this.templates(ref).get(ref.resourceGroup, ref.name),
    );
    if (template === undefined) return undefined;
    const status = toStatus(template);
    if (status.provisioningState !== 'Failed') return status;
    const staging = nonEmpty(template.stagingResourceGroup);
    const identity = Object.keys(template.identity.userAssignedIdentities ?? {})[0];
    throw this.failedProvisioning(
      status,
      this.context('create image template', ref, {
        ...(identity === undefined ? {} : { buildIdentityId: identity }),
        ...(staging === undefined ? {} : { stagingResourceGroupId: staging }),
      }),
      false,
    );
  }

  /**
   * Existing-VNET builds: what AIB needs from the subnet, checked before the template exists (AIB
   * would reject the first two at provisioning, and the NSG only 20+ minutes into the run).
   * Subnet/NSG reads we are not allowed to do are skipped: AIB then decides.
   */
  private async checkBuildSubnet(spec: ImageTemplateSpec, subnetId: string): Promise<void> {
    const problem = (message: string, hint: string, details: Record<string, unknown>): FactoryError =>
      new FactoryError('BadRequest', `Cannot build ${spec.name} on subnet ${subnetId}: ${message}`, {
        retryable: false,
        hint,
        details: { resource: subnetId, ...details },
      });
    const parsed = parseResourceId(subnetId);
    const vnetName = segment(parsed, 'virtualNetworks');
    const subnetName = segment(parsed, 'subnets');
    if (parsed.resourceGroup === undefined || vnetName === undefined || subnetName === undefined)
      throw problem(
        'not a subnet resource id',
        'Pass the full id: /subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/….',
        {},
      );
    const rg = parsed.resourceGroup;
    const network = this.clients.network(parsed.subscriptionId);
    const context = this.context('check build subnet', spec, { resource: subnetId });
    const readable = async <T>(fn: () => Promise<T>): Promise<T | undefined | 'forbidden'> => {
      try {
        return await orUndefined(context, fn);
      } catch (error) {
        if (error instanceof FactoryError && error.code === 'AuthorizationFailed') {
          this.clients.runtime.log(`build subnet check skipped (no read access): ${subnetId}`);
          return 'forbidden';
        }
        throw error;
      }
    };
    const subnet = await readable(() => network.subnets.get(rg, vnetName, subnetName));
    if (subnet === 'forbidden') return;
    if (subnet === undefined)
      throw problem(
        'the subnet does not exist',
        'Create the subnet (or fix the id) before building on it.',
        {},
      );
    const vnet = await readable(() => network.virtualNetworks.get(rg, vnetName));
    if (vnet !== 'forbidden' && vnet?.location !== undefined && !sameRegion(vnet.location, spec.location))
      throw problem(
        `its virtual network ${vnetName} is in ${vnet.location}, the image template in ${spec.location}; AIB needs the VNET in the build's region`,
        `Use a subnet of a VNET in ${spec.location}, or build in ${vnet.location}.`,
        { vnetLocation: vnet.location, templateLocation: spec.location },
      );
    if (subnet.privateLinkServiceNetworkPolicies !== 'Disabled')
      throw problem(
        `privateLinkServiceNetworkPolicies is ${subnet.privateLinkServiceNetworkPolicies ?? 'Enabled'}; AIB's private link to the build VM needs it Disabled`,
        `az network vnet subnet update --ids ${subnetId} --private-link-service-network-policies Disabled`,
        { privateLinkServiceNetworkPolicies: subnet.privateLinkServiceNetworkPolicies ?? 'Enabled' },
      );
    const nsgId = subnet.networkSecurityGroup?.id;
    if (nsgId === undefined) return;
    const nsgRef = parseResourceId(nsgId);
    const nsgName = segment(nsgRef, 'networkSecurityGroups') ?? '';
    const nsg = await readable(() =>
      this.clients
        .network(nsgRef.subscriptionId)
        .networkSecurityGroups.get(nsgRef.resourceGroup ?? '', nsgName),
    );
    if (nsg === 'forbidden' || nsg === undefined) return;
    const port = isWindowsBuild(spec) ? 60000 : 60001;
    const decisive = decisiveInboundRule(
      [...(nsg.securityRules ?? []), ...(nsg.defaultSecurityRules ?? [])],
      'AzureLoadBalancer',
      port,
    );
    if (decisive !== undefined && decisive.access === 'Deny') {
      const priority = Math.max(100, (decisive.priority ?? 4096) - 10);
      throw problem(
        `network security group ${nsgName} denies AzureLoadBalancer → port ${port} (rule ${decisive.name ?? '?'}, priority ${decisive.priority ?? '?'}), so AIB cannot reach its proxy VM and the build would fail`,
        `Allow it with a priority number below ${decisive.priority ?? '?'}: az network nsg rule create --resource-group ${nsgRef.resourceGroup ?? '<rg>'} --nsg-name ${nsgName} --name AllowImageBuilderProxy${port} --priority ${priority} --direction Inbound --access Allow --protocol Tcp --source-address-prefixes AzureLoadBalancer --destination-address-prefixes VirtualNetwork --destination-port-ranges ${port}`,
        { networkSecurityGroupId: nsgId, port, denyingRule: decisive.name, priority: decisive.priority },
      );
    }
  }

  private failedProvisioning(
    status: ImageTemplateStatus,
    context: ErrorContext,
    preexisting: boolean,
  ): FactoryError {
    const error = status.provisioningError ?? { code: 'ProvisioningFailed', message: 'provisioning failed' };
    const classified = classifyAzureError(
      { name: 'ProvisioningFailed', code: error.code, message: error.message },
      context,
    );
    if (classified.code !== 'OperationFailed' || !preexisting) return classified;
    return new FactoryError(
      'Conflict',
      `${classified.message} (the template exists from an earlier attempt and failed to provision)`,
      {
        retryable: false,
        hint: 'Image templates cannot be updated: delete the failed template, then create it again (or use a new name).',
        details: classified.details,
      },
    );
  }

  async startRun(ref: ImageTemplateRef): Promise<void> {
    const current = await this.getTemplate(ref);
    if (current === undefined)
      throw new FactoryError(
        'NotFound',
        `Cannot start a run: image template ${templateId(ref)} does not exist`,
        { retryable: false },
      );
    // Safe to call twice: a run already going (or done) is not started again.
    if (current.lastRun !== undefined) return;
    await azureCall(this.context('start image template run', ref), async () => {
      await this.templates(ref).run(ref.resourceGroup, ref.name, this.poll).submitted();
    });
  }

  async cancelRun(ref: ImageTemplateRef): Promise<void> {
    const current = await this.getTemplate(ref);
    if (current?.lastRun?.runState !== 'Running') return;
    await azureCall(this.context('cancel image template run', ref), async () => {
      await this.templates(ref).cancel(ref.resourceGroup, ref.name, this.poll).submitted();
    });
  }

  async getRunOutput(
    ref: ImageTemplateRef,
    runOutputName: string,
  ): Promise<{ artifactId: string } | undefined> {
    const output = await orUndefined(this.context(`read run output ${runOutputName}`, ref), () =>
      this.templates(ref).getRunOutput(ref.resourceGroup, ref.name, runOutputName),
    );
    return output?.artifactId === undefined ? undefined : { artifactId: output.artifactId };
  }

  async deleteTemplate(ref: ImageTemplateRef): Promise<void> {
    const context = this.context('delete image template', ref);
    const template = await orUndefined(context, () => this.templates(ref).get(ref.resourceGroup, ref.name));
    // Gone, or its delete already accepted (~77 s in Azure): never DELETE twice.
    if (template === undefined || template.provisioningState === 'Deleting') return;
    const staging = template.stagingResourceGroup;
    const identity = Object.keys(template.identity.userAssignedIdentities ?? {})[0];
    const deleteContext: ErrorContext = {
      ...context,
      ...(staging === undefined || staging === '' ? {} : { stagingResourceGroupId: staging }),
      ...(identity === undefined ? {} : { buildIdentityId: identity }),
    };
    try {
      await this.templates(ref).delete(ref.resourceGroup, ref.name, this.poll).submitted();
    } catch (error) {
      const classified = classifyAzureError(error, deleteContext);
      if (classified.code !== 'NotFound') throw classified;
    }
  }

  async readCustomizationLog(ref: ImageTemplateRef, tailLines: number): Promise<string | undefined> {
    const template = await orUndefined(this.context('read image template', ref), () =>
      this.templates(ref).get(ref.resourceGroup, ref.name),
    );
    if (template === undefined) return undefined;
    // Image Builder answers "" for both until a run sets them: `??` would keep the empty string.
    const staging = nonEmpty(template.exactStagingResourceGroup) ?? nonEmpty(template.stagingResourceGroup);
    if (staging === undefined || staging === '') return undefined;
    return readCustomizationLog(this.clients, staging, tailLines, template.lastRunStatus?.message);
  }

  async getStagingGroup(resourceGroupId: string): Promise<StagingGroupInfo | undefined> {
    const parsed = parseResourceId(resourceGroupId);
    const name = parsed.resourceGroup;
    if (name === undefined || parsed.provider !== undefined)
      throw new FactoryError('BadRequest', `Not a resource group id: ${resourceGroupId}`, {
        retryable: false,
      });
    const context: ErrorContext = {
      operation: 'read staging resource group',
      resource: resourceGroupId,
      principal: this.clients.runtime.store.principal(this.clients.credentialName),
    };
    const group = await orUndefined(context, () =>
      this.clients.resources(parsed.subscriptionId).resourceGroups.get(name),
    );
    return group === undefined ? undefined : { location: group.location, tags: { ...(group.tags ?? {}) } };
  }
}
