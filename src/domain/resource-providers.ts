/**
 * The resource providers each subscription must have registered, from infra/providers.json: the one
 * list that the azd preprovision hook (infra/scripts/register-providers.sh), the TEST/PROD
 * onboarding, the simulated world's onboarding and preflight all read.
 */
import list from '../../infra/providers.json';

export interface ResourceProviderEntry {
  namespace: string;
  /** Registered in the factory's (ENG) subscription by the preprovision hook. */
  eng: boolean;
  /** Registered in each TEST/PROD subscription during onboarding. */
  stage: boolean;
  /** Checked by preflight in every subscription of that kind a build touches. */
  pipeline: boolean;
  why: string;
}

export const RESOURCE_PROVIDERS: readonly ResourceProviderEntry[] = list.providers;

/** Namespaces registered in a subscription of this kind (what the hook / onboarding runs). */
export function registeredProviders(kind: 'eng' | 'stage'): string[] {
  return RESOURCE_PROVIDERS.filter((entry) => entry[kind]).map((entry) => entry.namespace);
}

/** Namespaces a build needs Registered in a subscription of this kind (what preflight checks). */
export function pipelineProviders(kind: 'eng' | 'stage'): string[] {
  return RESOURCE_PROVIDERS.filter((entry) => entry[kind] && entry.pipeline).map((entry) => entry.namespace);
}
