/**
 * Resource provider registration: the simulator refuses a call into an unregistered namespace with
 * ARM's 409 MissingSubscriptionRegistration, serves the providers API the SDK uses (GET, register)
 * with Registering lasting on the virtual clock, and the standard world registers exactly what the
 * azd preprovision hook and the TEST/PROD onboarding register (infra/providers.json).
 */
import { ResourceManagementClient } from '@azure/arm-resources';
import { ImageBuilderClient } from '@azure/arm-imagebuilder';
import { VirtualClock } from '../../src/shared/clock';
import { registeredProviders } from '../../src/domain/resource-providers';
import { REGISTRATION_REQUIRED } from '../../src/local/azure-sim/providers/registration';
import { errorOf, startEnv, type Env } from './helpers';
import { expectFactoryError, startHarness, type Harness } from '../adapters/helpers';

describe('resource provider registration (simulator, SDK clients)', () => {
  let env: Env;
  const clock = new VirtualClock();
  beforeAll(async () => {
    env = await startEnv({ clock, durations: { providerRegistrationMs: 5 * 60_000 } });
  });
  afterAll(() => env.sim.stop());

  it('refuses a call into an unregistered namespace with MissingSubscriptionRegistration, then registers it over time', async () => {
    const { sim, world } = env;
    const sub = world.eng.subscriptionId;
    sim.unregisterProvider(sub, 'Microsoft.VirtualMachineImages');
    const credential = env.secretCredential(world.eng.tenantId);
    const aib = new ImageBuilderClient(credential, sub, env.clientOptions());
    const resources = new ResourceManagementClient(credential, sub, env.clientOptions());
    // registering is a deployer's act (Contributor/Owner on the subscription), not the factory's
    sim.assignRole({
      principalId: world.eng.factoryPrincipalId,
      role: 'Contributor',
      scope: `/subscriptions/${sub}`,
    });

    const refused = await errorOf(aib.virtualMachineImageTemplates.get(world.templateResourceGroup, 'it-x'));
    expect(refused).toEqual({
      statusCode: 409,
      code: 'MissingSubscriptionRegistration',
      message:
        "The subscription registration is in 'Unregistered' state. The subscription must be registered to use namespace 'Microsoft.VirtualMachineImages'. See https://aka.ms/rps-not-found for how to register subscriptions.",
    });
    expect((await resources.providers.get('Microsoft.VirtualMachineImages')).registrationState).toBe(
      'Unregistered',
    );

    // az provider register: Registering for a while (virtual time), calls still refused meanwhile
    const started = await resources.providers.register('microsoft.virtualmachineimages');
    expect(started).toMatchObject({
      namespace: 'Microsoft.VirtualMachineImages',
      registrationState: 'Registering',
      id: `/subscriptions/${sub}/providers/Microsoft.VirtualMachineImages`,
    });
    const meanwhile = await errorOf(
      aib.virtualMachineImageTemplates.get(world.templateResourceGroup, 'it-x'),
    );
    expect(meanwhile.code).toBe('MissingSubscriptionRegistration');
    expect(meanwhile.message).toContain("The subscription registration is in 'Registering' state.");
    clock.advanceBy(5 * 60_000 - 1);
    expect(sim.providerRegistrationState(sub, 'Microsoft.VirtualMachineImages')).toBe('Registering');
    clock.advanceBy(1);
    expect((await resources.providers.get('Microsoft.VirtualMachineImages')).registrationState).toBe(
      'Registered',
    );
    // registered: the call reaches Image Builder, which answers for the missing template
    expect(
      (await errorOf(aib.virtualMachineImageTemplates.get(world.templateResourceGroup, 'it-x'))).statusCode,
    ).toBe(404);
  });

  it('answers the first-time text for a namespace never registered', async () => {
    const { sim, world } = env;
    const sub = world.test.subscriptionId;
    expect(sim.providerRegistrationState(sub, 'Microsoft.VirtualMachineImages')).toBe('NotRegistered');
    const aib = new ImageBuilderClient(env.secretCredential(world.test.tenantId), sub, env.clientOptions());
    const refused = await errorOf(aib.virtualMachineImageTemplates.get('rg-images', 'it-x'));
    expect(refused).toMatchObject({ statusCode: 409, code: 'MissingSubscriptionRegistration' });
    expect(refused.message).toBe(
      "The subscription is not registered to use namespace 'Microsoft.VirtualMachineImages'. See https://aka.ms/rps-not-found for how to register subscriptions.",
    );
    const logged = sim
      .requests()
      .filter((r) => r.status === 409 && r.path.startsWith(`/subscriptions/${sub}`));
    expect(logged.length).toBeGreaterThan(0);
  });

  it('checks Microsoft.Resources/subscriptions/providers/read and <namespace>/register/action on the subscription', async () => {
    const { world } = env;
    const sub = world.prod.subscriptionId;
    const resources = new ResourceManagementClient(
      env.secretCredential(world.prod.tenantId),
      sub,
      env.clientOptions(),
    );
    // the factory holds Reader on the PROD subscription: it may read, not register
    expect((await resources.providers.get('Microsoft.Compute')).registrationState).toBe('Registered');
    const register = await errorOf(resources.providers.register('Microsoft.VirtualMachineImages'));
    expect(register.statusCode).toBe(403);
    expect(register.message).toContain(
      `does not have authorization to perform action 'Microsoft.VirtualMachineImages/register/action' over scope '/subscriptions/${sub}'`,
    );
    expect((await errorOf(resources.providers.get('Microsoft.NoSuchThing'))).code).toBe(
      'InvalidResourceNamespace',
    );
  });

  it('the world registers exactly infra/providers.json: the ENG list in ENG, the stage list in TEST and PROD', () => {
    const { sim, world } = env;
    for (const [sub, kind] of [
      [world.eng.subscriptionId, 'eng'],
      [world.test.subscriptionId, 'stage'],
      [world.prod.subscriptionId, 'stage'],
    ] as const) {
      const registered = REGISTRATION_REQUIRED.filter(
        (ns) =>
          ns !== 'Microsoft.VirtualMachineImages' && // changed by the first test
          sim.providerRegistrationState(sub, ns) === 'Registered',
      );
      expect(registered).toEqual(
        registeredProviders(kind).filter((ns) => ns !== 'Microsoft.VirtualMachineImages'),
      );
    }
    // the simulator tracks every namespace the list names
    for (const kind of ['eng', 'stage'] as const)
      for (const ns of registeredProviders(kind)) expect(REGISTRATION_REQUIRED).toContain(ns);
  });
});

describe('resource provider registration (adapters)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('an adapter call into an unregistered namespace fails ProviderNotRegistered with the az command', async () => {
    const sub = h.world.eng.subscriptionId;
    h.sim.unregisterProvider(sub, 'Microsoft.Compute');
    const error = await expectFactoryError(() =>
      h.ports.galleries('eng').getImageDefinition({
        subscriptionId: sub,
        resourceGroup: h.world.eng.galleryResourceGroup,
        gallery: h.world.eng.galleryName,
        image: 'ubuntu-2204',
      }),
    );
    expect(error.code).toBe('ProviderNotRegistered');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('MissingSubscriptionRegistration');
    expect(error.hint).toBe(
      `register the resource provider (once per subscription): az provider register --namespace Microsoft.Compute --subscription ${sub}`,
    );
    expect(await h.ports.resourceProviders('eng').registrationState(sub, 'Microsoft.Compute')).toBe(
      'Unregistered',
    );
    h.sim.registerProvider(sub, 'Microsoft.Compute');
    expect(await h.ports.resourceProviders('eng').registrationState(sub, 'Microsoft.Compute')).toBe(
      'Registered',
    );
  });
});
