/**
 * Preflight: before an hour of build time is spent, check that every identity holds what it needs
 * on every scope it will touch, and that the network and source meet Image Builder's rules. Every
 * problem is reported at once with the exact grant or change that fixes it. Reads only.
 */
import type { AzurePorts, PrincipalInfo } from '../ports/azure';
import { FactoryError, isFactoryError } from '../shared/errors';
import type { PreflightInput, PreflightProblem, PreflightResult } from '../domain/pipeline/activities';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import { recipeHash, stagingResourceGroupIdFor, templateNameFor } from '../domain/pipeline/recipe';
import { checkResourceProviders } from './preflight-providers';

const rgId = (subscriptionId: string, resourceGroup: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;

interface Requirement {
  principalId: string;
  who: string;
  scope: string;
  what: string;
  actions: string[];
  role: string;
}

/** One read with preflight's quick retries. */
type Read = <T>(call: () => Promise<T>) => Promise<T>;

/** The longest pause between preflight's quick retries of a read, unless the caller sets a shorter one. */
export const PREFLIGHT_RETRY_PAUSE_MAX_MS = 1000;

/**
 * Preflight makes some twenty reads; retrying a transient failure here (briefly, a few times) keeps
 * one throttled read from failing the whole check. Longer waits are left to the orchestration.
 * A pause is the read's Retry-After or a growing one, up to `maxPauseMs`.
 */
function quickRetries(maxPauseMs: number): Read {
  return async function read<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!isFactoryError(error) || !error.retryable || attempt >= 4) throw error;
        const delay = Math.min(error.retryAfterMs ?? 100 * 2 ** attempt, maxPauseMs);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}

const grantCommand = (principalId: string, role: string, scope: string, principalType = 'ServicePrincipal') =>
  `az role assignment create --assignee-object-id ${principalId} --assignee-principal-type ${principalType} --role "${role}" --scope ${scope}`;

export async function runPreflight(
  azure: AzurePorts,
  input: PreflightInput,
  options: { maxPauseMs?: number } = {},
): Promise<PreflightResult> {
  const read = quickRetries(
    Math.min(options.maxPauseMs ?? PREFLIGHT_RETRY_PAUSE_MAX_MS, PREFLIGHT_RETRY_PAUSE_MAX_MS),
  );
  const { definition, buildId } = input;
  const problems: PreflightProblem[] = [];
  const eng = definition.stages[0];
  if (eng === undefined) throw new FactoryError('InvalidPipeline', 'The pipeline has no stages.');
  const factory: PrincipalInfo = azure.principal(eng.credential);
  const access = azure.access(eng.credential);
  const buildIdentity = definition.build.identity;
  const who = {
    factory: `the factory's identity '${factory.displayName}' (principal ${factory.principalId})`,
    build: `the build identity '${buildIdentity.resourceId.split('/').pop() ?? ''}' (principal ${buildIdentity.principalId})`,
  };
  const templateRg = rgId(eng.subscriptionId, definition.build.resourceGroup);
  const engImage = `${rgId(eng.subscriptionId, eng.gallery.resourceGroup)}/providers/Microsoft.Compute/galleries/${eng.gallery.name}`;
  const vhdSource = definition.source.type === 'vhd';

  // The groups the pipeline names must exist (infra creates rg-<env>-templates and rg-<env>-tests;
  // the sample pipelines name them through settings): otherwise every grant check below is moot.
  for (const [field, group] of [
    ['build.resourceGroup', definition.build.resourceGroup],
    ['test.resourceGroup', definition.test.resourceGroup],
  ] as const) {
    if (field === 'build.resourceGroup' && vhdSource) continue;
    const id = rgId(eng.subscriptionId, group);
    if ((await read(() => access.getResource(id))) === undefined)
      problems.push({
        code: 'ResourceGroupNotFound',
        subject: id,
        message: `${field} names resource group ${group}, which does not exist in subscription ${eng.subscriptionId}`,
        fix: `use the group infra created (settings TEMPLATE_RESOURCE_GROUP / TEST_VM_RESOURCE_GROUP), or az group create --subscription ${eng.subscriptionId} -n ${group} -l ${definition.build.location}`,
      });
  }

  const requirements: Requirement[] = [];
  if (!vhdSource) {
    requirements.push(
      {
        principalId: factory.principalId,
        who: who.factory,
        scope: templateRg,
        what: 'the image template resource group',
        actions: [
          'Microsoft.VirtualMachineImages/imageTemplates/write',
          'Microsoft.VirtualMachineImages/imageTemplates/run/action',
          'Microsoft.VirtualMachineImages/imageTemplates/delete',
        ],
        role: 'Contributor',
      },
      {
        principalId: factory.principalId,
        who: who.factory,
        scope: buildIdentity.resourceId,
        what: 'the build identity (to assign it to the template)',
        actions: ['Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'],
        role: 'Managed Identity Operator',
      },
      {
        principalId: buildIdentity.principalId,
        who: who.build,
        scope: engImage,
        what: 'the ENG gallery (Image Builder distributes the version there)',
        actions: [
          'Microsoft.Compute/galleries/images/versions/write',
          'Microsoft.Compute/galleries/images/versions/read',
        ],
        role: 'Contributor',
      },
    );
    if (definition.build.subnetId) {
      // Image Builder checks these on the VNET's resource group, not the subnet (Image Builder
      // permissions doc): a grant on the subnet alone passes here only if it is on the group.
      requirements.push({
        principalId: buildIdentity.principalId,
        who: who.build,
        scope: definition.build.subnetId.split('/').slice(0, 5).join('/'),
        what: "the build VNET's resource group (Image Builder joins its proxy VM and build VM to the subnet)",
        actions: [
          'Microsoft.Network/virtualNetworks/subnets/join/action',
          'Microsoft.Network/virtualNetworks/read',
        ],
        role: 'Network Contributor',
      });
    }
  }
  requirements.push({
    principalId: factory.principalId,
    who: who.factory,
    scope: rgId(eng.subscriptionId, definition.test.resourceGroup),
    what: 'the test VM resource group',
    actions: [
      'Microsoft.Compute/virtualMachines/write',
      'Microsoft.Compute/virtualMachines/delete',
      'Microsoft.Network/networkInterfaces/write',
      'Microsoft.Compute/disks/delete',
    ],
    role: 'Contributor',
  });
  requirements.push({
    principalId: factory.principalId,
    who: who.factory,
    scope: definition.test.subnetId,
    what: 'the test subnet',
    actions: ['Microsoft.Network/virtualNetworks/subnets/join/action'],
    role: 'Network Contributor',
  });
  for (const stage of definition.stages) {
    const principal = azure.principal(stage.credential);
    const stageAccess = azure.access(stage.credential);
    const gallery = `${rgId(stage.subscriptionId, stage.gallery.resourceGroup)}/providers/Microsoft.Compute/galleries/${stage.gallery.name}`;
    if (principal.tenantId.toLowerCase() !== stage.tenantId.toLowerCase()) {
      problems.push({
        code: 'WrongTenant',
        subject: `stage ${stage.name}`,
        message: `credential '${stage.credential}' signs in to tenant ${principal.tenantId}, but stage ${stage.name} is in tenant ${stage.tenantId}`,
        fix: `point stages[].credential of ${stage.name} at a profile whose tenantId is ${stage.tenantId} (AZURE_CREDENTIALS)`,
      });
      continue;
    }
    await check(
      read,
      stageAccess,
      {
        principalId: principal.principalId,
        who: `the factory's identity in ${stage.name} '${principal.displayName}' (principal ${principal.principalId})`,
        scope: gallery,
        what: `the ${stage.name} gallery`,
        actions: [
          'Microsoft.Compute/galleries/images/write',
          'Microsoft.Compute/galleries/images/versions/write',
          'Microsoft.Compute/galleries/images/versions/delete',
        ],
        role: 'Contributor',
      },
      problems,
    );
  }
  for (const requirement of requirements) await check(read, access, requirement, problems);
  // Resource providers registered in every subscription the build touches (preflight-providers.ts).
  await checkResourceProviders(azure, definition, problems, read);

  // Network rules of an existing-VNET build (field notes: private link policy, region, NSG).
  if (!vhdSource && definition.build.subnetId) {
    const subnetId = definition.build.subnetId;
    const subnet = await read(() => azure.network(eng.credential).getSubnet(subnetId));
    if (subnet === undefined) {
      problems.push({
        code: 'SubnetNotFound',
        subject: definition.build.subnetId,
        message: 'the build subnet does not exist or cannot be read',
        fix: 'create it or fix build.subnetId',
      });
    } else {
      if (subnet.privateLinkServiceNetworkPolicies !== 'Disabled') {
        const [, , sub, , rg, , , , vnet, , name] = subnet.id.split('/');
        problems.push({
          code: 'SubnetPrivateLinkPolicy',
          subject: subnet.id,
          message:
            'Image Builder puts a Private Link service in the build subnet, which needs privateLinkServiceNetworkPolicies Disabled',
          fix: `az network vnet subnet update --subscription ${sub ?? ''} -g ${rg ?? ''} --vnet-name ${vnet ?? ''} -n ${name ?? ''} --private-link-service-network-policies Disabled`,
        });
      }
      // AIB's load balancer reaches the proxy VM on 60001 (Linux) / 60000 (Windows). Azure's default
      // AllowAzureLoadBalancerInBound loses to any custom deny-all, so an explicit allow is required.
      const proxyPort = definition.image.osType === 'Windows' ? 60000 : 60001;
      if (
        subnet.networkSecurityGroupId !== undefined &&
        !subnet.nsgInboundAllows.some(
          (rule) =>
            /^(azureloadbalancer|\*)$/i.test(rule.sourceAddressPrefix) &&
            rule.destinationPortRanges.some((range) => portInRange(proxyPort, range)),
        )
      ) {
        const nsg = subnet.networkSecurityGroupId;
        const [, , nsgSub, , nsgRg, , , , nsgName] = nsg.split('/');
        problems.push({
          code: 'SubnetNsgBlocksImageBuilder',
          subject: nsg,
          message: `the build subnet's network security group ${nsg} has no inbound allow from AzureLoadBalancer to port ${proxyPort}, which Image Builder's load balancer uses to reach its proxy VM (${definition.image.osType})`,
          fix: `az network nsg rule create --subscription ${nsgSub ?? ''} -g ${nsgRg ?? ''} --nsg-name ${nsgName ?? ''} -n AllowAzureLoadBalancerToImageBuilderProxy --priority 100 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes AzureLoadBalancer --destination-port-ranges 60000-60001 (a priority ahead of every deny rule)`,
        });
      }
      if (subnet.location.toLowerCase() !== definition.build.location.toLowerCase()) {
        problems.push({
          code: 'SubnetWrongRegion',
          subject: subnet.id,
          message: `the build VNET is in ${subnet.location} but the build runs in ${definition.build.location}; Image Builder needs them in the same region`,
          fix: `use a subnet in ${definition.build.location}, or set build.location to ${subnet.location}`,
        });
      }
    }
  }

  // The source must exist where the build runs.
  let sourceVersion = '';
  const source = definition.source;
  if (source.type === 'platformImage') {
    const versions = await read(() =>
      azure.platformImages(eng.credential).listVersions({
        subscriptionId: eng.subscriptionId,
        location: definition.build.location,
        publisher: source.publisher,
        offer: source.offer,
        sku: source.sku,
      }),
    );
    if (versions.length === 0 || (source.version !== 'latest' && !versions.includes(source.version))) {
      problems.push({
        code: 'SourceUnavailable',
        subject: `${source.publisher}:${source.offer}:${source.sku}:${source.version}`,
        message: `no such platform image version in ${definition.build.location}`,
        fix: `az vm image list --all -l ${definition.build.location} -p ${source.publisher} -f ${source.offer} -s ${source.sku} (pick an existing version or 'latest')`,
      });
    } else {
      sourceVersion = source.version === 'latest' ? (versions.at(-1) ?? '') : source.version;
    }
  } else if (source.type === 'managedImage') {
    const image = await read(() => access.getResource(source.id));
    const imageSubscription = source.id.split('/')[2] ?? '';
    if (image === undefined) {
      problems.push({
        code: 'SourceUnavailable',
        subject: source.id,
        message: 'the managed image does not exist or cannot be read',
        fix: 'fix source.id or grant Reader on the image',
      });
    } else if (
      image.location.toLowerCase() !== definition.build.location.toLowerCase() ||
      imageSubscription.toLowerCase() !== eng.subscriptionId.toLowerCase()
    ) {
      problems.push({
        code: 'ManagedImageWrongPlace',
        subject: source.id,
        message: `a managed image can only be used in its own region and subscription: it is in ${image.location}/${imageSubscription}, the build in ${definition.build.location}/${eng.subscriptionId}`,
        fix: 'capture it into a gallery image version (galleries replicate across regions) and use source.type galleryImageVersion',
      });
    }
    sourceVersion = source.id;
  } else if (source.type === 'galleryImageVersion') {
    const version = await read(() => access.getResource(source.id));
    if (version === undefined)
      problems.push({
        code: 'SourceUnavailable',
        subject: source.id,
        message: 'the source image version does not exist or cannot be read',
        fix: 'fix source.id or grant Reader on its gallery',
      });
    sourceVersion = source.id;
  } else {
    sourceVersion = source.uri.split('?')[0] ?? '';
  }

  const hash = recipeHash(definition);
  const templateName = templateNameFor(definition.name, buildId, hash, input.queuedAt);
  const prefix = definition.build.stagingResourceGroupPrefix;
  if (!vhdSource && prefix) {
    const problem = await stagingGroupProblem(
      read,
      azure,
      eng.credential,
      stagingResourceGroupIdFor(eng.subscriptionId, prefix, templateName),
      {
        templateName,
        templateResourceGroup: definition.build.resourceGroup,
        location: definition.build.location,
      },
    );
    if (problem !== undefined) problems.push(problem);
  }
  return { problems, recipeHash: hash, templateName, sourceVersion };
}

/**
 * The template's own staging group should not exist yet: Image Builder then creates it (in the
 * template's region, Contributor for the build identity) and deletes it with the template. If it
 * exists, Image Builder's tags say which template it serves (image-builder-json doc,
 * "stagingResourceGroup"): this one is a retry of this build and fine; another one's (or an
 * untagged group, which Image Builder would need empty, in its region and with Contributor for the
 * identity) is a leftover or a name clash that would fail the template.
 */
async function stagingGroupProblem(
  read: Read,
  azure: AzurePorts,
  credential: string,
  groupId: string,
  template: { templateName: string; templateResourceGroup: string; location: string },
): Promise<PreflightProblem | undefined> {
  let group;
  try {
    group = await read(() => azure.imageBuilder(credential).getStagingGroup(groupId));
  } catch (error) {
    if (!isFactoryError(error) || error.retryable) throw error;
    return {
      code: error.code === 'AuthorizationFailed' ? 'CannotReadStagingGroup' : error.code,
      subject: groupId,
      message: `cannot check that the template's staging resource group is free: ${error.message}`,
      fix:
        error.hint ??
        'grant the factory Microsoft.Resources/subscriptions/resourceGroups/read on the ENG subscription (infra does)',
    };
  }
  if (group === undefined) return undefined;
  const usedBy = group.tags.imageTemplateName;
  const usedIn = group.tags.imageTemplateResourceGroupName;
  if (
    usedBy !== undefined &&
    usedBy.toLowerCase() === template.templateName.toLowerCase() &&
    usedIn?.toLowerCase() === template.templateResourceGroup.toLowerCase()
  )
    return undefined;
  const [, , subscription, , name] = groupId.split('/');
  return {
    code: 'StagingGroupTaken',
    subject: groupId,
    message:
      usedBy === undefined
        ? `the staging resource group ${groupId} for template ${template.templateName} exists already (in ${group.location}); Image Builder would need it empty, in ${template.location} and with Contributor for the build identity`
        : `the staging resource group ${groupId} is tagged for image template ${usedBy} in ${usedIn ?? '?'}; Image Builder refuses a group another template uses`,
    fix: `delete the leftover group (az group delete --subscription ${subscription ?? ''} -n ${name ?? ''} --yes) or change build.stagingResourceGroupPrefix`,
  };
}

async function check(
  read: Read,
  access: ReturnType<AzurePorts['access']>,
  requirement: Requirement,
  problems: PreflightProblem[],
): Promise<void> {
  let missing: string[];
  try {
    missing = await read(() =>
      access.missingActions(requirement.principalId, requirement.scope, requirement.actions),
    );
  } catch (error) {
    if (isFactoryError(error) && !error.retryable) {
      problems.push({
        code: error.code === 'AuthorizationFailed' ? 'CannotReadRoles' : error.code,
        subject: requirement.scope,
        message: `cannot check the roles of ${requirement.who} on ${requirement.what}: ${error.message}`,
        fix:
          error.hint ??
          'grant the factory Reader (Microsoft.Authorization/roleAssignments/read) on this scope',
      });
      return;
    }
    throw error;
  }
  if (missing.length === 0) return;
  problems.push({
    code: 'MissingRole',
    subject: requirement.who,
    message: `${requirement.who} lacks ${requirement.role} on ${requirement.what} ${requirement.scope} (missing ${missing.join(', ')})`,
    fix: `grant it with: ${grantCommand(requirement.principalId, requirement.role, requirement.scope)}`,
  });
}

/** Whether an NSG destination port range ('*', '22', '60000-60001') covers the port. */
export function portInRange(port: number, range: string): boolean {
  const text = range.trim();
  if (text === '*') return true;
  const [low, high] = text.split('-').map(Number);
  if (low === undefined || !Number.isFinite(low)) return false;
  return port >= low && port <= (high !== undefined && Number.isFinite(high) ? high : low);
}

export function describePreflightProblems(problems: PreflightProblem[]): string {
  return problems
    .map((problem, index) => `${index + 1}. ${problem.message}\n   fix: ${problem.fix}`)
    .join('\n');
}

export type { PipelineDefinition };
