/**
 * The Durable Task Scheduler as the deployed backend (issue 18 item 4): infra/main.bicep's
 * durableBackend selects it by default, function.bicep points the host at it with an identity-only
 * connection (host.json override of storageProvider.type), and infra/access.json gives the factory
 * identity Durable Task Data Contributor on the scheduler, deployed by roles.bicep. Each mutation
 * below removes one piece and shows the checker names it.
 */
import { checkInfra } from './checker';
import { infraSources, read } from './infra-sources';

const sources = infraSources;

const FUNCTION = 'infra/app/function.bicep';

describe('Durable Task Scheduler backend in infra', () => {
  it('is the default backend, with its scheduler, connection and role in place', () => {
    const s = sources();
    expect(checkInfra(s)).toEqual([]);
    const main = s.bicep['infra/main.bicep']!;
    expect(main).toMatch(/^param durableBackend 'azureManaged' \| 'azureStorage' = 'azureManaged'$/m);
    expect(main).toMatch(
      /module durableTaskScheduler 'app\/durable-task-scheduler.bicep' = if \(durableBackend == 'azureManaged'\)/,
    );
    expect(read('infra/main.parameters.json')).toContain('"${DURABLE_BACKEND=azureManaged}"');
    const scheduler = s.bicep['infra/app/durable-task-scheduler.bicep']!;
    expect(scheduler).toContain("resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01'");
    expect(scheduler).toContain("resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01'");
    expect(s.access.deployments.eng.assignments).toContainEqual(
      expect.objectContaining({
        name: 'factory-durable-task-data-contributor',
        principal: 'factory',
        role: 'Durable Task Data Contributor',
        scope: 'durableTaskScheduler',
      }),
    );
  });

  it('fails when the factory loses Durable Task Data Contributor on the scheduler', () => {
    const s = sources();
    s.access.deployments.eng.assignments = s.access.deployments.eng.assignments.filter(
      (a) => a.name !== 'factory-durable-task-data-contributor',
    );
    expect(checkInfra(s)).toEqual([
      'DurableFunctionsHost needs Microsoft.DurableTask/* for factory, which no role in infra/access.json grants',
    ]);
  });

  it('fails when roles.bicep cannot resolve the scheduler scope (the assignment would be skipped)', () => {
    const s = sources();
    s.bicep['infra/app/roles.bicep'] = s.bicep['infra/app/roles.bicep']!.replace(
      /^ {2}durableTaskScheduler: \{.*$/m,
      '',
    );
    expect(checkInfra(s)).toEqual([
      'infra/app/roles.bicep: does not resolve scope durableTaskScheduler, so assignment factory-durable-task-data-contributor would not be deployed',
    ]);
  });

  it('fails when the scheduler connection setting is missing', () => {
    const s = sources();
    s.bicep[FUNCTION] = s.bicep[FUNCTION]!.replace(/^\s*DURABLE_TASK_SCHEDULER_CONNECTION_STRING:.*$/m, '');
    expect(checkInfra(s)).toEqual([
      "infra/app/function.bicep: DURABLE_TASK_SCHEDULER_CONNECTION_STRING must be 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${factoryIdentityClientId}' (identity only, the factory identity), not ''",
    ]);
  });

  it('fails when the connection is not identity-based or not the factory identity', () => {
    const s = sources();
    s.bicep[FUNCTION] = s.bicep[FUNCTION]!.replace(
      'Authentication=ManagedIdentity;ClientID=${factoryIdentityClientId}',
      'Authentication=None',
    );
    expect(checkInfra(s)).toEqual([
      "infra/app/function.bicep: DURABLE_TASK_SCHEDULER_CONNECTION_STRING must be 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${factoryIdentityClientId}' (identity only, the factory identity), not 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=None'",
    ]);
  });

  it('fails when the host.json override no longer selects the scheduler', () => {
    const s = sources();
    s.bicep[FUNCTION] = s.bicep[FUNCTION]!.replace(
      /^\s*AzureFunctionsJobHost__extensions__durableTask__storageProvider__type:.*$/m,
      '',
    );
    expect(checkInfra(s)).toEqual([
      "infra/app/function.bicep: durableTaskSchedulerSettings must set AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'",
    ]);
  });

  it('fails when the scheduler allows an empty ipAllowlist (every call would be 403)', () => {
    const s = sources();
    s.bicep['infra/app/durable-task-scheduler.bicep'] = s.bicep[
      'infra/app/durable-task-scheduler.bicep'
    ]!.replace('@minLength(1)\nparam ipAllowlist', 'param ipAllowlist');
    expect(checkInfra(s)).toEqual([
      'infra/app/durable-task-scheduler.bicep: ipAllowlist must be a parameter with @minLength(1) (an empty allow list denies every call)',
    ]);
  });

  it('host.json keeps Azure Storage (no type): the backend is chosen by infra, not by the package', () => {
    const host = JSON.parse(read('host.json')) as {
      extensions: { durableTask: { hubName: string; storageProvider: Record<string, unknown> } };
    };
    expect(host.extensions.durableTask.hubName).toBe('%TASK_HUB_NAME%');
    expect(host.extensions.durableTask.storageProvider.type).toBeUndefined();
  });
});
