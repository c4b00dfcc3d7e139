/**
 * The simulator is checked against the SDK packages' models (src/local/azure-sim/contract): the
 * models are what the installed SDKs define, the check catches what Azure's API definition does not
 * allow, and a simulator answer that broke the definition (a canceled run's invented sub-state) is
 * caught through the real SDK.
 */
import { ImageBuilderClient } from '@azure/arm-imagebuilder';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { checkExchange, setArmExchangeObserver, type ArmExchange } from '../../src/local/azure-sim/contract';
import { VirtualClock } from '../../src/shared/clock';
import { startEnv, type Env } from './helpers';

const templateAnswer = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/it',
  name: 'it',
  type: 'Microsoft.VirtualMachineImages/imageTemplates',
  location: 'westeurope',
  identity: { type: 'UserAssigned', userAssignedIdentities: { '/subscriptions/s/x': {} } },
  properties: {
    source: { type: 'PlatformImage', publisher: 'Canonical', offer: 'o', sku: 's', version: 'latest' },
    distribute: [{ type: 'SharedImage', galleryImageId: '/g', runOutputName: 'out' }],
    provisioningState: 'Succeeded',
    ...properties,
  },
  ...extra,
});

const exchange = (responseBody: unknown, over: Partial<ArmExchange> = {}): ArmExchange => ({
  method: 'GET',
  type: 'microsoft.virtualmachineimages/imagetemplates',
  verb: 'get',
  path: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/it',
  apiVersion: '2025-10-01',
  requestBody: undefined,
  status: 200,
  responseBody,
  ...over,
});

describe('ARM contract from the SDK models', () => {
  test('arm-models.json is what the installed SDK packages define (npm run contract after an upgrade)', () => {
    const root = path.join(__dirname, '..', '..');
    const run = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), 'scripts/generate-arm-contract.ts', '--check'],
      { cwd: root, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  test('a conforming answer passes; what the API definition does not allow is named with its path', () => {
    expect(checkExchange(exchange(templateAnswer({})))).toEqual([]);
    const { location: _, ...noLocation } = templateAnswer({});
    expect(checkExchange(exchange(noLocation))).toEqual([
      {
        path: 'response $.location',
        problem: expect.stringContaining('required by @azure/arm-imagebuilder@'),
      },
    ]);
    expect(checkExchange(exchange(templateAnswer({ stagingResourceGroupID: 'x' })))).toEqual([
      {
        path: 'response $.properties.stagingResourceGroupID',
        problem: expect.stringContaining('not a field of'),
      },
    ]);
    expect(
      checkExchange(
        exchange(templateAnswer({ lastRunStatus: { runState: 'Canceled', runSubState: 'Canceling' } })),
      ),
    ).toEqual([
      {
        path: 'response $.properties.lastRunStatus.runSubState',
        problem: expect.stringContaining("'Canceling' is not one of"),
      },
    ]);
    expect(checkExchange(exchange(templateAnswer({ buildTimeoutInMinutes: '60' })))).toEqual([
      { path: 'response $.properties.buildTimeoutInMinutes', problem: 'expected a number, got string' },
    ]);
  });

  test('requests: read-only fields are not required of them, and a PATCH body is partial', () => {
    const put = { method: 'PUT', verb: 'put', status: 201 };
    const { id: _id, name: _name, type: _type, ...body } = templateAnswer({});
    delete (body.properties as Record<string, unknown>).provisioningState;
    expect(
      checkExchange(exchange(undefined, { ...put, requestBody: body, responseBody: undefined })),
    ).toEqual([]);
    const patch: Partial<ArmExchange> = {
      method: 'PATCH',
      type: 'microsoft.compute/galleries/images/versions',
      verb: 'patch',
      requestBody: { properties: { publishingProfile: { excludeFromLatest: false } } },
      responseBody: undefined,
    };
    expect(checkExchange(exchange(undefined, patch))).toEqual([]);
    expect(
      checkExchange(
        exchange(undefined, {
          ...patch,
          requestBody: { properties: { publishingProfile: { excludeFromLatest: 'no' } } },
        }),
      ),
    ).toEqual([
      {
        path: 'request $.properties.publishingProfile.excludeFromLatest',
        problem: 'expected a boolean, got string',
      },
    ]);
  });

  test('lists carry value and nextLink only; errors carry ARM error envelopes', () => {
    const list = {
      verb: 'list',
      path: '/subscriptions/s/providers/Microsoft.VirtualMachineImages/imageTemplates',
    };
    expect(checkExchange(exchange({ value: [templateAnswer({})] }, list))).toEqual([]);
    expect(checkExchange(exchange({ value: [], count: 0 }, list))).toEqual([
      { path: 'response $.count', problem: 'a list answer has only value and nextLink' },
    ]);
    expect(checkExchange(exchange({ error: { code: 'NotFound', message: 'm' } }, { status: 404 }))).toEqual(
      [],
    );
    expect(checkExchange(exchange({ code: 'NotFound', message: 'm' }, { status: 404 }))).toHaveLength(1);
  });

  describe('through the real SDK against the simulator', () => {
    let env: Env;
    const clock = new VirtualClock();
    beforeAll(async () => {
      env = await startEnv({ clock });
    });
    afterAll(async () => {
      await env.sim.stop();
    });

    test('a canceling and a canceled run answer a lastRunStatus the API definition allows (no invented runSubState)', async () => {
      const seen: ArmExchange[] = [];
      const suite = setArmExchangeObserver((e) => {
        seen.push(e);
        suite?.(e);
      });
      try {
        const { world } = env;
        const client = new ImageBuilderClient(
          env.factoryCredential(),
          world.eng.subscriptionId,
          env.clientOptions(),
        );
        const poll = { updateIntervalInMs: 1 };
        const rg = world.templateResourceGroup;
        // ARM accepts; Image Builder provisions the template in ~30 s of (virtual) time.
        const creating = client.virtualMachineImageTemplates.createOrUpdate(
          rg,
          'it-cancel',
          {
            location: world.eng.location,
            identity: { type: 'UserAssigned', userAssignedIdentities: { [world.buildIdentity.id]: {} } },
            source: { type: 'PlatformImage', ...world.platformImages.ubuntu, version: 'latest' },
            customize: [{ type: 'Shell', name: 'ok', inline: ['true'] }],
            distribute: [
              {
                type: 'ManagedImage',
                imageId: `${world.managedImageId}-out`,
                location: world.eng.location,
                runOutputName: 'out',
              },
            ],
          },
          poll,
        );
        await creating.submitted();
        clock.advanceBy(60_000);
        await creating;
        await client.virtualMachineImageTemplates.run(rg, 'it-cancel', poll);
        clock.advanceBy(60_000);
        await client.virtualMachineImageTemplates.cancel(rg, 'it-cancel', poll);
        // Canceling for a while (h2's model: 15 virtual minutes), then Canceled: both answers checked.
        const states: (string | undefined)[] = [];
        for (let i = 0; i < 3; i++) {
          states.push(
            (await client.virtualMachineImageTemplates.get(rg, 'it-cancel')).lastRunStatus?.runState,
          );
          clock.advanceBy(10 * 60_000);
        }
        expect(states).toEqual(['Canceling', 'Canceling', 'Canceled']);
        const gets = seen.filter(
          (e) => e.verb === 'get' && e.type === 'microsoft.virtualmachineimages/imagetemplates',
        );
        expect(gets.length).toBeGreaterThan(0);
        expect(gets.flatMap((e) => checkExchange(e))).toEqual([]);
      } finally {
        setArmExchangeObserver(suite);
      }
    });
  });
});
