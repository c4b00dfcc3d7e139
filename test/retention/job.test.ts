/**
 * The retention job against the simulated Azure, through the real adapters and SDK clients: the
 * dry run changes nothing, a run sets endOfLifeDate on old versions, a run after the grace period
 * deletes them, a version a VM still uses is skipped and reported, and the newest, the latest and
 * the last good version are never touched. A bad policy is refused when the pipeline is loaded.
 */
import { readFileSync } from 'node:fs';
import { loadPipelinesOrThrow, parsePipelineText } from '../../src/domain/pipeline/loader';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { pipelineSettingsForWorld } from '../../src/local/world-settings';
import { runRetention } from '../../src/retention-runner/run';
import { startHarness, type Harness } from '../adapters/helpers';

const DAY = 24 * 60 * 60_000;
/** Settings that resolve every placeholder of the sample pipeline (values only need to be well-formed). */
let pipelineEnv: Record<string, string> = {};
const IMAGE = 'ubuntu-2204-base';

describe('retention job (simulator)', () => {
  let h: Harness;
  let pipeline: PipelineDefinition;
  const versions = ['1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5', '1.0.6'];
  const idOf = (v: string) => `${h.world.eng.galleryId}/images/${IMAGE}/versions/${v}`;
  const changes = () =>
    h.sim
      .requests()
      .filter(
        (r) =>
          (r.method === 'PATCH' || r.method === 'DELETE') &&
          /\/galleries\/[^/]+\/images\/[^/]+\/versions\//i.test(r.path),
      )
      .map((r) => `${r.method} ${r.path.split('/').pop() ?? ''}`);

  beforeAll(async () => {
    h = await startHarness({ tokenLifetimeMs: 60 * DAY });
    const env = { ...h.env, ...pipelineSettingsForWorld(h.world) };
    pipelineEnv = env;
    const loaded = loadPipelinesOrThrow('pipelines', env).get(IMAGE);
    if (loaded === undefined) throw new Error(`pipelines/${IMAGE}.yaml is missing`);
    // ENG only: the stages differ by gallery, not by rule.
    pipeline = { ...loaded, stages: loaded.stages.slice(0, 1), retention: { keepNewest: 2, graceDays: 7 } };
    const eng = h.world.eng;
    const ref = {
      subscriptionId: eng.subscriptionId,
      resourceGroup: eng.galleryResourceGroup,
      gallery: eng.galleryName,
      image: IMAGE,
    };
    await h.ports.galleries('eng').ensureImageDefinition({
      ...ref,
      location: eng.location,
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      securityType: 'TrustedLaunch',
      identifier: loaded.image.identifier,
    });
    for (const version of versions)
      await h.ports.galleries('eng').beginCreateVersion({
        ...ref,
        version,
        location: eng.location,
        source: { kind: 'managedImage', id: h.world.managedImageId },
        targetRegions: [{ name: eng.location, replicaCount: 1, storageAccountType: 'Standard_LRS' }],
        // 1.0.5 and 1.0.6 failed their tests: never latest. 1.0.3 passed (the last good one);
        // 1.0.4 is latest without a recorded pass.
        excludeFromLatest: version === '1.0.5' || version === '1.0.6',
        tags: version === '1.0.3' ? { 'imagefactory.testResult': 'passed' } : {},
      });
    h.clock.advanceBy(2 * 60 * 60_000);
    // Someone runs a VM from 1.0.1 elsewhere in the subscription.
    h.sim.addImageConsumer({
      subscriptionId: eng.subscriptionId,
      resourceGroup: 'rg-apps',
      name: 'vm-app',
      location: eng.location,
      imageVersionId: idOf('1.0.1'),
      kind: 'vm',
    });
  });
  afterAll(() => h.stop());

  const run = (dryRun: boolean, logs: string[] = []) =>
    runRetention({
      pipelines: [pipeline],
      azure: h.ports,
      now: new Date(h.clock.now()).toISOString(),
      dryRun,
      log: (line) => logs.push(line),
    });

  it('dry run: reports the plan and changes nothing', async () => {
    const before = changes().length;
    const report = await run(true);
    expect(report.stages).toHaveLength(1);
    const byVersion = Object.fromEntries(
      (report.stages[0]?.actions ?? []).map((a) => [
        a.id.split('/').pop() ?? '',
        a.kind === 'keep' ? a.why : a.kind,
      ]),
    );
    expect(byVersion).toEqual({
      '1.0.6': 'newest',
      '1.0.5': 'newest',
      '1.0.4': 'latest',
      '1.0.3': 'lastGood',
      '1.0.2': 'setEndOfLife',
      '1.0.1': 'setEndOfLife',
    });
    expect(changes().length).toBe(before);
  });

  it('the run sets endOfLifeDate, then deletes after the grace period, skipping and reporting a version in use', async () => {
    const first: string[] = [];
    await run(false, first);
    expect(changes()).toEqual(['PATCH 1.0.2', 'PATCH 1.0.1']);
    expect(first.filter((l) => /set endOfLifeDate/.test(l))).toHaveLength(2);
    // Within the grace period nothing more happens.
    h.clock.advanceBy(6 * DAY);
    await run(false);
    expect(changes()).toEqual(['PATCH 1.0.2', 'PATCH 1.0.1']);

    h.clock.advanceBy(2 * DAY);
    const logs: string[] = [];
    const report = await run(false, logs);
    expect(changes()).toEqual(['PATCH 1.0.2', 'PATCH 1.0.1', 'DELETE 1.0.2']);
    const vm = `/subscriptions/${h.world.eng.subscriptionId}/resourceGroups/rg-apps/providers/Microsoft.Compute/virtualMachines/vm-app`;
    expect(report.stages[0]?.actions).toContainEqual(
      expect.objectContaining({ kind: 'skipInUse', id: idOf('1.0.1'), usedBy: [vm] }),
    );
    expect(logs).toContainEqual(expect.stringMatching(new RegExp(`1\\.0\\.1: not deleted, in use by ${vm}`)));
    expect(logs).toContainEqual(expect.stringMatching(/1\.0\.2: delete/));
    // The newest two, the latest and the last good one were never touched.
    for (const kept of ['1.0.3', '1.0.4', '1.0.5', '1.0.6'])
      expect(changes().some((c) => c.endsWith(` ${kept}`))).toBe(false);
    h.clock.advanceBy(10 * 60_000);
    const left = (
      await h.ports.galleries('eng').listVersions({
        subscriptionId: h.world.eng.subscriptionId,
        resourceGroup: h.world.eng.galleryResourceGroup,
        gallery: h.world.eng.galleryName,
        image: IMAGE,
      })
    ).map((v) => v.id.split('/').pop());
    expect(left.sort()).toEqual(['1.0.1', '1.0.3', '1.0.4', '1.0.5', '1.0.6']);
  });
});

describe('retention policy in the pipeline definition', () => {
  it('refuses a bad policy at load, naming each field', () => {
    const text = readFileSync('pipelines/ubuntu-2204-base.yaml', 'utf8');
    const env = { ...pipelineEnv };
    const good = parsePipelineText(text, 'ubuntu-2204-base.yaml', env);
    expect(good.problems).toEqual([]);
    const bad = parsePipelineText(
      `${text}\nretention:\n  keepNewest: 0\n  graceDays: 1.5\n  keepOldest: 3\n`,
      'ubuntu-2204-base.yaml',
      env,
    );
    expect(bad.definition).toBeUndefined();
    expect(bad.problems.map((p) => p.path).sort()).toEqual([
      'retention',
      'retention.graceDays',
      'retention.keepNewest',
    ]);
    expect(bad.problems.find((p) => p.path === 'retention.graceDays')?.message).toMatch(/whole number/);
    expect(bad.problems.find((p) => p.path === 'retention')?.message).toMatch(/keepOldest/);
  });
});
