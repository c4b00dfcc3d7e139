/**
 * Resource provider registration per subscription (Microsoft.Resources providers API) and ARM's
 * refusal of a call to a namespace the subscription has not registered. Sources (FIDELITY.md):
 * - "Azure resource providers and types": a subscription must be registered for a provider before
 *   use; a few are registered by default; registering needs `<namespace>/register/action` on the
 *   subscription; the state goes Registering → Registered.
 * - Providers REST API (arm-resources 7, api-version 2025-04-01): GET
 *   /subscriptions/{s}/providers/{ns} and POST …/register | …/unregister answer a Provider with
 *   `registrationState`.
 * - Reading providers checks `Microsoft.Resources/subscriptions/providers/read` on the subscription
 *   (the 403 in hashicorp/terraform-provider-azurerm#2678).
 * - The 409 MissingSubscriptionRegistration with `details[].target` = the namespace
 *   (nforgeio/neonKUBE#1670, Azure/data-product-streaming#12, Azure/azure-sdk-for-node#2305).
 */
import type { Route, Simulator } from '../sim';
import { ArmError, type ArmRequest, type ArmResponse } from '../types';

export type RegistrationState = 'NotRegistered' | 'Registering' | 'Registered' | 'Unregistered';

/**
 * Namespaces whose registration the simulator tracks, in Azure's casing: the ones the factory and
 * Image Builder use. Every other namespace the simulator serves (Microsoft.Resources,
 * Microsoft.Authorization) is registered by default in every subscription, as in Azure.
 */
export const REGISTRATION_REQUIRED = [
  'Microsoft.VirtualMachineImages',
  'Microsoft.ContainerInstance',
  'Microsoft.Compute',
  'Microsoft.Network',
  'Microsoft.Storage',
  'Microsoft.KeyVault',
  'Microsoft.ManagedIdentity',
  'Microsoft.ServiceBus',
  'Microsoft.DurableTask',
  'Microsoft.EventGrid',
  'Microsoft.Web',
  'Microsoft.Insights',
  'Microsoft.OperationalInsights',
] as const;

/** Registered by default in every subscription ("Resource providers for Azure services"). */
const REGISTERED_BY_DEFAULT = ['Microsoft.Resources', 'Microsoft.Authorization', 'Microsoft.Features'];

const canonical = (namespace: string): string | undefined =>
  [...REGISTRATION_REQUIRED, ...REGISTERED_BY_DEFAULT].find(
    (known) => known.toLowerCase() === namespace.toLowerCase(),
  );

interface Entry {
  state: 'Registering' | 'Registered' | 'Unregistered';
  /** Clock time at which Registering turns Registered. */
  readyAt: number;
}

export class ProviderRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number,
    /** How long Registering lasts on the simulator clock. */
    private readonly registrationMs: number,
  ) {}

  private key(subscriptionId: string, namespace: string): string {
    return `${subscriptionId.toLowerCase()}|${namespace.toLowerCase()}`;
  }

  state(subscriptionId: string, namespace: string): RegistrationState {
    const name = canonical(namespace);
    if (name !== undefined && REGISTERED_BY_DEFAULT.includes(name)) return 'Registered';
    const entry = this.entries.get(this.key(subscriptionId, namespace));
    if (entry === undefined) return 'NotRegistered';
    if (entry.state === 'Registering' && this.now() >= entry.readyAt) entry.state = 'Registered';
    return entry.state;
  }

  /** `az provider register`: Registering for registrationMs; `completed` = as `--wait` returns. */
  register(subscriptionId: string, namespace: string, completed = false): RegistrationState {
    const current = this.state(subscriptionId, namespace);
    if (current === 'Registered' || current === 'Registering') return current;
    this.entries.set(this.key(subscriptionId, namespace), {
      state: completed ? 'Registered' : 'Registering',
      readyAt: this.now() + (completed ? 0 : this.registrationMs),
    });
    return this.state(subscriptionId, namespace);
  }

  unregister(subscriptionId: string, namespace: string): void {
    this.entries.set(this.key(subscriptionId, namespace), { state: 'Unregistered', readyAt: 0 });
  }

  /** ARM's 409 for a call into a namespace the subscription has not (yet) registered. */
  assertRegistered(subscriptionId: string, namespace: string): void {
    if (canonical(namespace) === undefined) return; // not tracked: the route lookup answers
    const state = this.state(subscriptionId, namespace);
    if (state === 'Registered') return;
    const name = canonical(namespace) ?? namespace;
    const message =
      state === 'NotRegistered'
        ? `The subscription is not registered to use namespace '${name}'. See https://aka.ms/rps-not-found for how to register subscriptions.`
        : `The subscription registration is in '${state}' state. The subscription must be registered to use namespace '${name}'. See https://aka.ms/rps-not-found for how to register subscriptions.`;
    throw new ArmError(409, 'MissingSubscriptionRegistration', message, {}, [
      { code: 'MissingSubscriptionRegistration', target: name, message },
    ]);
  }
}

function providerView(sim: Simulator, subscriptionId: string, namespace: string): Record<string, unknown> {
  const name = canonical(namespace) ?? namespace;
  return {
    id: `/subscriptions/${subscriptionId}/providers/${name}`,
    namespace: name,
    registrationState: sim.providerRegistry.state(subscriptionId, name),
    registrationPolicy: REGISTERED_BY_DEFAULT.includes(name) ? 'RegistrationFree' : 'RegistrationRequired',
    resourceTypes: [],
  };
}

function target(req: ArmRequest): { subscriptionId: string; namespace: string } {
  const subscriptionId = req.segments[1] ?? '';
  const namespace = req.segments[3] ?? '';
  if (canonical(namespace) === undefined)
    throw new ArmError(404, 'InvalidResourceNamespace', `The resource namespace '${namespace}' is invalid.`);
  return { subscriptionId, namespace };
}

function getProvider(sim: Simulator, req: ArmRequest): ArmResponse {
  const subscriptionId = req.segments[1] ?? '';
  sim.authorize(
    req.claims,
    'Microsoft.Resources/subscriptions/providers/read',
    `/subscriptions/${subscriptionId}`,
  );
  const { namespace } = target(req);
  return { status: 200, body: providerView(sim, subscriptionId, namespace) };
}

function registerProvider(sim: Simulator, req: ArmRequest): ArmResponse {
  const { subscriptionId, namespace } = target(req);
  sim.authorize(
    req.claims,
    `${canonical(namespace) ?? namespace}/register/action`,
    `/subscriptions/${subscriptionId}`,
  );
  sim.providerRegistry.register(subscriptionId, namespace);
  return { status: 200, body: providerView(sim, subscriptionId, namespace) };
}

function unregisterProvider(sim: Simulator, req: ArmRequest): ArmResponse {
  const { subscriptionId, namespace } = target(req);
  sim.authorize(
    req.claims,
    `${canonical(namespace) ?? namespace}/unregister/action`,
    `/subscriptions/${subscriptionId}`,
  );
  sim.providerRegistry.unregister(subscriptionId, namespace);
  return { status: 200, body: providerView(sim, subscriptionId, namespace) };
}

/** Routes of /subscriptions/{s}/providers/{ns}[/register|/unregister] (operation keys from router.ts operationKey). */
export const providerRegistrationRoutes: Route[] = [
  { type: 'microsoft.resources/providers', verb: 'get', handler: getProvider },
  { type: 'microsoft.resources/providers', verb: 'action:register', handler: registerProvider },
  { type: 'microsoft.resources/providers', verb: 'action:unregister', handler: unregisterProvider },
];
