/**
 * Preflight, resource providers: every namespace a build calls must be Registered in each
 * subscription it touches, or the first call there fails with 409 MissingSubscriptionRegistration
 * (Image Builder's template PUT an hour into nothing, a gallery copy at promotion). The list is
 * infra/providers.json, the same the azd preprovision hook and the TEST/PROD onboarding register.
 * Reading a registration needs Microsoft.Resources/subscriptions/providers/read on the subscription.
 */
import type { AzurePorts, PrincipalInfo } from '../ports/azure';
import type { PreflightProblem } from '../domain/pipeline/activities';
import type { PipelineDefinition } from '../domain/pipeline/definition';
import { pipelineProviders } from '../domain/resource-providers';
import { isFactoryError } from '../shared/errors';

/** Image Builder's own namespaces: a VHD-sourced pipeline never calls it. */
const IMAGE_BUILDER_ONLY = new Set(['Microsoft.VirtualMachineImages', 'Microsoft.ContainerInstance']);

interface SubscriptionNeed {
  subscriptionId: string;
  credential: string;
  stage: string;
  namespaces: string[];
}

export async function checkResourceProviders(
  azure: AzurePorts,
  definition: PipelineDefinition,
  problems: PreflightProblem[],
  read: <T>(call: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const needs: SubscriptionNeed[] = [];
  const add = (need: SubscriptionNeed): void => {
    const same = needs.find((n) => n.subscriptionId.toLowerCase() === need.subscriptionId.toLowerCase());
    if (same === undefined) needs.push(need);
    else for (const ns of need.namespaces) if (!same.namespaces.includes(ns)) same.namespaces.push(ns);
  };
  definition.stages.forEach((stage, index) => {
    const principal: PrincipalInfo = azure.principal(stage.credential);
    // A stage whose credential signs in elsewhere is reported by the role checks; reading would 401.
    if (principal.tenantId.toLowerCase() !== stage.tenantId.toLowerCase()) return;
    const namespaces =
      index === 0
        ? pipelineProviders('eng').filter(
            (ns) => definition.source.type !== 'vhd' || !IMAGE_BUILDER_ONLY.has(ns),
          )
        : // TEST/PROD: the gallery copy; test VMs (Network) only when the stage retests.
          pipelineProviders('stage').filter((ns) => ns !== 'Microsoft.Network' || stage.retest);
    add({
      subscriptionId: stage.subscriptionId,
      credential: stage.credential,
      stage: stage.name,
      namespaces,
    });
  });

  for (const need of needs) {
    const providers = azure.resourceProviders(need.credential);
    for (const namespace of need.namespaces) {
      const command = `az provider register --namespace ${namespace} --subscription ${need.subscriptionId}`;
      let state: string;
      try {
        state = await read(() => providers.registrationState(need.subscriptionId, namespace));
      } catch (error) {
        if (!isFactoryError(error) || error.retryable) throw error;
        const principal = azure.principal(need.credential);
        problems.push({
          code: 'CannotReadResourceProviders',
          subject: `subscription ${need.subscriptionId} (${need.stage})`,
          message: `cannot read whether resource provider ${namespace} is registered in subscription ${need.subscriptionId} (${need.stage}): ${error.message}`,
          fix: `grant ${principal.displayName} (principal ${principal.principalId}) Microsoft.Resources/subscriptions/providers/read on /subscriptions/${need.subscriptionId}, or check it yourself: az provider show --namespace ${namespace} --subscription ${need.subscriptionId} --query registrationState (register it with: ${command})`,
        });
        break; // the same refusal would repeat for every namespace of this subscription
      }
      if (state === 'Registered') continue;
      problems.push({
        code: 'ResourceProviderNotRegistered',
        subject: `${namespace} in subscription ${need.subscriptionId} (${need.stage})`,
        message:
          state === 'Registering'
            ? `resource provider ${namespace} is still Registering in subscription ${need.subscriptionId} (${need.stage}); calls to it fail with MissingSubscriptionRegistration until it is Registered`
            : `resource provider ${namespace} is not registered in subscription ${need.subscriptionId} (${need.stage}, state ${state}); every call to it fails with MissingSubscriptionRegistration`,
        fix: `register it (once per subscription; an Owner or Contributor there): ${command}${state === 'Registering' ? ' --wait' : ''}`,
      });
    }
  }
}
