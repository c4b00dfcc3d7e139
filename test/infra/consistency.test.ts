import { checkInfra, type RequiredActions } from './checker';
import { infraSources } from './infra-sources';

const sources = infraSources;

describe('infra and code stay consistent', () => {
  it('every setting, queue, role id and required action is covered', () => {
    expect(checkInfra(sources())).toEqual([]);
  });

  it('fails when infra stops setting a setting the app reads', () => {
    const s = sources();
    const fn = s.bicep['infra/app/function.bicep']!;
    s.bicep['infra/app/function.bicep'] = fn.replace(/^\s*AZURE_CREDENTIALS:.*$/m, '');
    expect(checkInfra(s)).toEqual([
      'setting AZURE_CREDENTIALS is read by the app but not set in infra/app/function.bicep appSettings',
    ]);
  });

  it('fails when a schema gains a setting that infra and the sample do not set', () => {
    const s = sources();
    s.settingKeys.push('NEW_SETTING');
    expect(checkInfra(s)).toEqual([
      'setting NEW_SETTING is read by the app but not set in infra/app/function.bicep appSettings',
      'setting NEW_SETTING is missing from local.settings.sample.json',
      'setting NEW_SETTING has no line "- `NEW_SETTING` — meaning — example" in docs/settings.md',
    ]);
  });

  it('fails when a setting has no line in docs/settings.md', () => {
    const s = sources();
    s.settingsDoc = s.settingsDoc.replace(/^- `APPROVAL_REJECTS_QUEUE` .*$/m, '');
    expect(checkInfra(s)).toEqual([
      'setting APPROVAL_REJECTS_QUEUE has no line "- `APPROVAL_REJECTS_QUEUE` — meaning — example" in docs/settings.md',
    ]);
  });

  it('fails when a setting is missing from local.settings.sample.json', () => {
    const s = sources();
    delete s.sampleValues.PIPELINES_DIR;
    expect(checkInfra(s)).toEqual(['setting PIPELINES_DIR is missing from local.settings.sample.json']);
  });

  it('fails when a queue is not created', () => {
    const s = sources();
    s.bicep['infra/main.bicep'] = s.bicep['infra/main.bicep']!.replace("'approval-decisions'", "'decisions'");
    expect(checkInfra(s)).toEqual([
      'queue approval-decisions (config default) is not created by infra/main.bicep',
    ]);
  });

  it('fails on an unknown role id', () => {
    const s = sources();
    s.bicep['infra/app/keyvault.bicep'] = s.bicep['infra/app/keyvault.bicep']!.replace(
      '4633458b-17de-408a-b874-0445c86b69e6',
      '00000000-17de-408a-b874-0445c86b69e6',
    );
    expect(checkInfra(s)).toEqual([
      'infra/app/keyvault.bicep: role id 00000000-17de-408a-b874-0445c86b69e6 is not a known built-in role',
    ]);
  });

  it('fails when infra sets a setting nothing reads', () => {
    const s = sources();
    s.bicep['infra/app/function.bicep'] = s.bicep['infra/app/function.bicep']!.replace(
      '  TASK_HUB_NAME:',
      "  FORGOTTEN_SETTING: 'x'\n  TASK_HUB_NAME:",
    );
    expect(checkInfra(s)).toEqual([
      'setting FORGOTTEN_SETTING is set by infra but nothing reads it (stale, or add it to a schema)',
      'setting FORGOTTEN_SETTING has no line "- `FORGOTTEN_SETTING` — meaning — example" in docs/settings.md',
    ]);
  });

  it('fails when the approval queues lose duplicate detection', () => {
    const s = sources();
    s.bicep['infra/app/servicebus.bicep'] = s.bicep['infra/app/servicebus.bicep']!.replace(
      'requiresDuplicateDetection: true',
      'requiresDuplicateDetection: false',
    );
    expect(checkInfra(s)).toEqual([
      'infra/app/servicebus.bicep: the queues must have requiresDuplicateDetection: true (re-sent requests are dropped by message id)',
    ]);
  });

  it('fails when a role id is labelled with the wrong role name', () => {
    const s = sources();
    s.bicep['infra/app/servicebus.bicep'] = s.bicep['infra/app/servicebus.bicep']!.replace(
      "'69a216fc-b8fb-44d8-bc22-1f3c2cd27a39' // Azure Service Bus Data Sender",
      "'4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // Azure Service Bus Data Sender",
    );
    const problems = checkInfra(s);
    expect(problems[0]).toBe(
      'infra/app/servicebus.bicep: role id 4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0 is Azure Service Bus Data Receiver, but the comment says Azure Service Bus Data Sender',
    );
  });

  it('fails when the factory gets more Service Bus rights than send requests/rejects and receive decisions', () => {
    const s = sources();
    const sb = s.bicep['infra/app/servicebus.bicep']!;
    // The factory would receive the requests it sends (and could steal on-prem's messages).
    s.bicep['infra/app/servicebus.bicep'] = sb
      .replace(
        'guid(requestsQueue.id, factoryPrincipalId, dataSender)',
        'guid(requestsQueue.id, factoryPrincipalId, dataReceiver)',
      )
      .replace(
        "principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender) }\n  dependsOn: [queues]\n}\nresource factorySendsRejects",
        "principalId: factoryPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataReceiver) }\n  dependsOn: [queues]\n}\nresource factorySendsRejects",
      );
    expect(s.bicep['infra/app/servicebus.bicep']).not.toBe(sb);
    expect(checkInfra(s)).toEqual([
      'infra/app/servicebus.bicep: factoryPrincipalId has [decisions: Azure Service Bus Data Receiver; rejects: Azure Service Bus Data Sender; requests: Azure Service Bus Data Receiver], expected exactly [decisions: Azure Service Bus Data Receiver; rejects: Azure Service Bus Data Sender; requests: Azure Service Bus Data Sender]',
    ]);
  });

  it('fails when on-prem gets a right on the namespace', () => {
    const s = sources();
    s.bicep['infra/app/servicebus.bicep'] += `
resource onPremEverything 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: namespace
  name: guid(namespace.id, onPremPrincipalId, dataSender)
  properties: { principalId: onPremPrincipalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender) }
}
`;
    expect(checkInfra(s)).toEqual([
      'infra/app/servicebus.bicep: onPremPrincipalId has [decisions: Azure Service Bus Data Sender; namespace: Azure Service Bus Data Sender; requests: Azure Service Bus Data Receiver], expected exactly [decisions: Azure Service Bus Data Sender; requests: Azure Service Bus Data Receiver]',
    ]);
  });

  it('fails when no role grants a data action an adapter needs', () => {
    const s = sources();
    s.access.deployments.eng.roles.buildLogReader!.dataActions = [];
    expect(checkInfra(s)).toEqual([
      'ImageBuilderPort needs Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read for factory, which no role in infra/access.json grants',
    ]);
  });

  it('fails when a custom role loses an action an adapter calls', () => {
    const s = sources();
    const role = s.access.deployments.eng.roles.testVmOperator!;
    role.actions = role.actions.filter((a) => a !== 'Microsoft.Compute/virtualMachines/runCommands/write');
    expect(checkInfra(s)).toEqual([
      'TestVmPort needs Microsoft.Compute/virtualMachines/runCommands/write for factory, which no role in infra/access.json grants',
    ]);
  });

  it('defect 1: claimBuildSlot lists the template group: required, and granted at a scope covering it', () => {
    const needs = sources().requiredActions.TestVmPort as RequiredActions;
    expect(needs.needs).toContainEqual(
      expect.objectContaining({
        principal: 'factory',
        scope: 'templateGroup',
        actions: ['Microsoft.Resources/subscriptions/resourceGroups/resources/read'],
      }),
    );
    const s = sources();
    const assignment = s.access.deployments.eng.assignments.find(
      (a) => a.name === 'factory-build-log-reader',
    )!;
    assignment.scope = 'stagingGroup'; // the old grant: on the staging group only
    expect(checkInfra(s)).toEqual([
      'TestVmPort needs Microsoft.Resources/subscriptions/resourceGroups/resources/read for factory at templateGroup, but infra/access.json grants it only at stagingGroup',
      // and roles.bicep could not even deploy it: staging groups exist only once Image Builder makes them
      'infra/app/roles.bicep: does not resolve scope stagingGroup, so assignment factory-build-log-reader would not be deployed',
    ]);
  });

  it('is scope-aware: an action granted on the wrong scope fails (defect 6: subnet join on the subnet only)', () => {
    const s = sources();
    s.access.deployments.eng.assignments.find((a) => a.name === 'build-identity-joins-build-network')!.scope =
      'buildSubnet';
    expect(checkInfra(s)).toEqual([
      'ImageBuilderService needs Microsoft.Network/virtualNetworks/read for build at buildNetworkGroup, but infra/access.json grants it only at buildSubnet',
      'ImageBuilderService needs Microsoft.Network/virtualNetworks/subnets/join/action for build at buildNetworkGroup, but infra/access.json grants it only at buildSubnet',
      'infra/access.json assignment build-identity-joins-build-network: build needs nothing subnetJoiner grants in buildSubnet',
      'infra/access.json eng role subnetJoiner grants Microsoft.Network/virtualNetworks/read, which none of its assignees needs where it is assigned',
    ]);
  });

  it("defect 2: the app's ENG service principal must read the ENG gallery (auxiliary token of ENG → TEST)", () => {
    const s = sources();
    s.access.deployments.eng.assignments = s.access.deployments.eng.assignments.filter(
      (a) => a.name !== 'factory-app-eng-reads-eng-gallery',
    );
    expect(checkInfra(s)).toEqual([
      'GalleryPort needs Microsoft.Compute/galleries/images/versions/read for factoryAppEng, which no role in infra/access.json grants',
    ]);
    expect(sources().bicep['infra/main.bicep']).toMatch(/factoryAppEngPrincipalId: factoryAppEngPrincipalId/);
  });

  it('fails on a grant nobody needs', () => {
    const s = sources();
    s.access.deployments.eng.roles.testVmOperator!.actions.push(
      'Microsoft.Compute/virtualMachines/start/action',
    );
    expect(checkInfra(s)).toEqual([
      'infra/access.json eng role testVmOperator grants Microsoft.Compute/virtualMachines/start/action, which none of its assignees needs where it is assigned',
    ]);
  });

  it('fails on an assignment naming an unknown role, principal or scope', () => {
    const s = sources();
    s.access.deployments.eng.assignments.push({
      name: 'typo',
      principal: 'factroy' as 'factory',
      role: 'Contributer',
      scope: 'templateGroups',
      why: '',
    });
    expect(checkInfra(s)).toEqual([
      'infra/access.json eng assignment typo: unknown principal factroy',
      'infra/access.json eng assignment typo: unknown scope templateGroups',
      'infra/access.json eng assignment typo: unknown role Contributer',
    ]);
  });

  it('fails when Bicep lists role actions itself instead of deploying access.json', () => {
    const s = sources();
    s.bicep['infra/app/roles.bicep'] = s.bicep['infra/app/roles.bicep']!.replace(
      "var access = loadJsonContent('../access.json')",
      "var access = { deployments: { eng: { roles: { x: { actions: ['Microsoft.Compute/*'] } } } } }",
    );
    expect(checkInfra(s)).toEqual([
      "infra/app/roles.bicep: must deploy infra/access.json with loadJsonContent('../access.json')",
      'infra/app/roles.bicep: lists role actions itself; put them in infra/access.json',
    ]);
  });

  it('defect 7: custom role names include the environment; the purge-protected vault name changes per generation', () => {
    const s = sources();
    s.bicep['infra/app/roles.bicep'] = s.bicep['infra/app/roles.bicep']!.replace(
      "roleName: '${role.value.roleName} (${environmentName})'",
      "roleName: '${role.value.roleName}'",
    );
    s.bicep['infra/main.bicep'] = s.bicep['infra/main.bicep']!.replace(
      /name: keyVaultGeneration == '1' \? [^\n]+/,
      "name: '${abbrs.keyVault}${resourceToken}'",
    );
    expect(checkInfra(s)).toEqual([
      "infra/app/roles.bicep: custom role name '${role.value.roleName}' does not include the environment name",
      'infra/main.bicep: the Key Vault has purge protection, so its name must change per deployment generation (keyVaultGeneration)',
    ]);
  });
});
