/**
 * The retention timer and the dry-run API as registered (src/functions/retention.ts), invoked on the
 * local host like the Functions host would, against the simulated Azure: the API answers the plan
 * and changes nothing, refuses bad input, and the timer applies the plan (PATCH endOfLifeDate) with
 * a log line per action.
 */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpRequest } from '@azure/functions';
import { createAzurePorts } from '../../src/adapters';
import { loadConfig } from '../../src/config';
import { startFactory, type Factory } from '../pipeline/harness';

const IMAGE = 'ubuntu-2204-base';

describe('retention timer and dry-run API on the local host', () => {
  let factory: Factory;
  const patches = () =>
    factory.sim
      .requests()
      .filter((r) => (r.method === 'PATCH' || r.method === 'DELETE') && /\/versions\//i.test(r.path))
      .map((r) => `${r.method} ${r.path.split('/').pop() ?? ''}`);
  const plan = async (query: string) =>
    (await factory.host.invokeFunction(
      'getRetentionPlan',
      new HttpRequest({ method: 'GET', url: `http://localhost/api/retention/plan${query}` }),
    )) as { status: number; jsonBody: Record<string, unknown> };

  beforeAll(async () => {
    factory = await startFactory({}, {});
    // This factory's served copy gets a policy: keep only the newest, no grace.
    const file = join(factory.env.PIPELINES_DIR ?? '', `${IMAGE}.yaml`);
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nretention:\n  keepNewest: 1\n  graceDays: 0\n`);
    utimesSync(file, new Date(Date.UTC(2021, 0, 1)), new Date(Date.UTC(2021, 0, 1)));
    const ports = createAzurePorts(loadConfig(factory.env), { env: factory.env, updateIntervalInMs: 1 });
    const eng = factory.world.eng;
    const ref = {
      subscriptionId: eng.subscriptionId,
      resourceGroup: eng.galleryResourceGroup,
      gallery: eng.galleryName,
      image: IMAGE,
    };
    await ports.galleries('eng').ensureImageDefinition({
      ...ref,
      location: eng.location,
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      securityType: 'TrustedLaunch',
      identifier: { publisher: 'Contoso', offer: 'ubuntu-base', sku: '22.04-gen2' },
    });
    for (const version of ['1.0.1', '1.0.2', '1.0.3'])
      await ports.galleries('eng').beginCreateVersion({
        ...ref,
        version,
        location: eng.location,
        source: { kind: 'managedImage', id: factory.world.managedImageId },
        targetRegions: [{ name: eng.location, replicaCount: 1, storageAccountType: 'Standard_LRS' }],
        excludeFromLatest: false,
        tags: {},
      });
    factory.clock.advanceBy(2 * 60 * 60_000);
  });
  afterAll(() => factory.stop());

  it('is registered on the %RETENTION_SCHEDULE% setting', () => {
    const timer = factory.host.registry.functions.get('retention');
    expect(timer?.trigger).toMatchObject({ type: 'timerTrigger', schedule: '%RETENTION_SCHEDULE%' });
    expect(factory.host.registry.functions.get('getRetentionPlan')?.trigger).toMatchObject({
      authLevel: 'function',
      route: 'retention/plan',
    });
  });

  it('GET /api/retention/plan answers the dry run and changes nothing', async () => {
    const before = patches().length;
    const answer = await plan(`?pipeline=${IMAGE}`);
    expect(answer.status).toBe(200);
    expect(answer.jsonBody).toMatchObject({ dryRun: true });
    const stages = answer.jsonBody.stages as { stage: string; actions: { kind: string; id: string }[] }[];
    const eng = stages.find((s) => s.stage === 'ENG');
    expect(eng?.actions.map((a) => `${a.kind} ${a.id.split('/').pop() ?? ''}`)).toEqual([
      'keep 1.0.3',
      'setEndOfLife 1.0.2',
      'setEndOfLife 1.0.1',
    ]);
    expect(patches().length).toBe(before);
  });

  it('refuses bad input clearly', async () => {
    expect(await plan('')).toMatchObject({
      status: 400,
      jsonBody: { detail: "The query parameter 'pipeline' is required." },
    });
    expect(await plan('?pipeline=no-such-image')).toMatchObject({
      status: 404,
      jsonBody: { detail: "There is no valid pipeline named 'no-such-image'." },
    });
    expect(await plan('?pipeline=Bad%20Name')).toMatchObject({ status: 400 });
    expect(await plan(`?pipeline=${IMAGE}&apply=true`)).toMatchObject({
      status: 400,
      jsonBody: { detail: "Unknown query parameter(s): apply; only 'pipeline' is accepted." },
    });
  });

  it('the timer applies the plan, one log line per action', async () => {
    const now = new Date(factory.clock.now()).toISOString();
    await factory.host.invokeFunction(
      'retention',
      { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: {} },
      { triggerMetadata: { sys: { UtcNow: now } } },
    );
    expect(patches()).toEqual(['PATCH 1.0.2', 'PATCH 1.0.1']);
    expect(factory.log.filter((l) => l.includes(`retention ${IMAGE}/ENG`))).toEqual([
      expect.stringContaining('1.0.3: kept (newest)'),
      expect.stringContaining(`1.0.2: set endOfLifeDate ${now}`),
      expect.stringContaining(`1.0.1: set endOfLifeDate ${now}`),
    ]);
  });
});
