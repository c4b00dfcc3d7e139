/**
 * 10% of ARM calls fail transiently (429 with Retry-After, 500, 503, connection reset), seeded:
 * every pipeline still completes, and no side effect happens twice: one template run, one test VM
 * and one version per gallery per build; nothing left behind but the promoted versions.
 */
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { startFactory, type Factory } from './harness';

const PIPELINES = Number(process.env.FAULT_SUITE_PIPELINES ?? 8);

describe('transient ARM faults', () => {
  let factory: Factory;
  beforeAll(async () => {
    factory = await startFactory({
      seed: 2026,
      faults: { rate: 0.1, kinds: ['429', '500', '503', 'reset'], retryAfterSeconds: 1 },
    });
  });
  afterAll(async () => {
    await factory.stop();
  });

  it(`${PIPELINES} pipelines complete with exactly one run, one VM and one version per gallery each`, async () => {
    // Concurrent builds need Image Builder's own staging groups (a custom one must be empty).
    const withoutStaging = (p: PipelineDefinition): PipelineDefinition => {
      const { stagingResourceGroupId: _unused, ...build } = p.build;
      return { ...p, build };
    };
    const pipelines = [
      withoutStaging(factory.pipelines.get('ubuntu-2204-base')!),
      factory.pipelines.get('windows-2022-base')!,
    ];
    const ids: string[] = [];
    for (let i = 0; i < PIPELINES; i++) ids.push(await factory.start(pipelines[i % 2]!, `fault-${i}`));
    await factory.host.drive({
      until: async () => {
        let open = 0;
        for (const id of ids) {
          const status = await factory.host.getStatus(id);
          if (status?.runtimeStatus === 'Running' || status?.runtimeStatus === 'Pending') open++;
          const pending = (status?.customStatus as { pendingApproval?: { stage: string } } | null)
            ?.pendingApproval;
          if (pending) await factory.decide(id, pending.stage, 'approved');
        }
        return open === 0;
      },
    });
    const outcomes = await Promise.all(
      ids.map(async (id) => [(await factory.host.getStatus(id))?.runtimeStatus, id]),
    );
    const failed = outcomes.filter(([status]) => status !== 'Completed');
    if (failed.length > 0)
      console.log(
        await Promise.all(
          failed.map(async ([, id]) =>
            JSON.stringify((await factory.host.getStatus(id!))?.output).slice(0, 400),
          ),
        ),
      );
    expect(failed).toEqual([]);

    const requests = factory.sim.requests();
    const faulted = requests.filter((r) => r.status === 429 || r.status >= 500).length;
    expect(faulted).toBeGreaterThan(10); // the faults really happened
    const accepted = (method: string, pattern: RegExp) =>
      requests.filter(
        (r) => r.method === method && pattern.test(r.path) && r.status >= 200 && r.status < 300,
      );
    const runs = accepted('POST', /imageTemplates\/[^/]+\/run$/);
    expect(runs).toHaveLength(PIPELINES);
    // One run per template, one template per build: no run was started twice by a retried activity.
    const runsPerTemplate = new Map<string, number>();
    for (const run of runs) runsPerTemplate.set(run.path, (runsPerTemplate.get(run.path) ?? 0) + 1);
    expect([...runsPerTemplate.values()]).toEqual(Array(PIPELINES).fill(1));
    // Every version was created by one accepted PUT per gallery per build (ENG by Image Builder).
    const versionPuts = accepted('PUT', /galleries\/[^/]+\/images\/[^/]+\/versions\/[^/]+$/);
    expect(new Set(versionPuts.map((r) => r.path)).size).toBe(PIPELINES * 2);
    const vmCreates = accepted('PUT', /virtualMachines\/[^/]+$/).filter(
      (r) => r.status === 201 || r.status === 200,
    );
    expect(new Set(vmCreates.map((r) => r.path)).size).toBe(PIPELINES);
    const versions = factory.sim
      .inventory()
      .filter((r) => r.type === 'microsoft.compute/galleries/images/versions');
    expect(versions).toHaveLength(PIPELINES * 3);
    for (const id of ids)
      expect(versions.filter((v) => v.tags['imagefactory.buildId'] === id)).toHaveLength(3);
    const leftovers = factory.sim
      .inventory()
      .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks/.test(r.type));
    expect(leftovers).toEqual([]);
  });
});
