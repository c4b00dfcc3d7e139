/**
 * Build slots: BUILD_SLOTS_PER_SUBSCRIPTION_REGION caps the Image Builder runs per subscription and
 * region across pipelines. Queued builds show step 'waitingForBuildSlot', start in arrival order as
 * slots free up, and a build cancelled while queued leaves nothing behind.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { decideBuildSlot, slotPollDelayMs } from '../../src/domain/pipeline/build-slots';
import { templateNameFor } from '../../src/domain/pipeline/recipe';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { useFactory } from './harness';
import { buildSlotKey } from '../../src/domain/pipeline/build-slots';
import { Activities, type ClaimBuildSlotInput } from '../../src/domain/pipeline/activities';

describe('build slot decisions (pure)', () => {
  const t = (name: string, running = false) => ({ name, running });

  it('grants while running + queued-ahead stays under the cap, in arrival order', () => {
    const tickets = [t('it-1', true), t('it-2'), t('it-3')];
    expect(decideBuildSlot(tickets, 'it-2', 2)).toMatchObject({ granted: true, running: 1, ahead: 0 });
    expect(decideBuildSlot(tickets, 'it-3', 2)).toMatchObject({ granted: false, running: 1, ahead: 1 });
    expect(decideBuildSlot(tickets, 'it-3', 3).granted).toBe(true);
  });

  it('a running build keeps its slot even when a ticket sorting before it appears late', () => {
    const tickets = [t('it-1'), t('it-2', true)];
    expect(decideBuildSlot(tickets, 'it-2', 1).granted).toBe(true);
    // …and the late one counts the running one, whatever the order.
    expect(decideBuildSlot(tickets, 'it-1', 1)).toMatchObject({ granted: false, running: 1 });
  });

  it('no ticket, no slot: a build whose template is gone stops waiting', () => {
    expect(decideBuildSlot([t('it-1')], 'it-9', 5)).toMatchObject({ granted: false, ticketExists: false });
  });

  it('the next in line asks again every minute, builds further back less often, at most every 15', () => {
    const refused = (running: number, ahead: number) => ({
      granted: false,
      ticketExists: true,
      running,
      ahead,
      limit: 4,
    });
    expect(slotPollDelayMs(refused(4, 0))).toBe(60_000);
    expect(slotPollDelayMs(refused(2, 2))).toBe(60_000);
    expect(slotPollDelayMs(refused(4, 3))).toBe(4 * 60_000);
    expect(slotPollDelayMs(refused(4, 196))).toBe(15 * 60_000);
  });

  it('template names sort in arrival order and stay within 64 characters', () => {
    const hash = 'a'.repeat(64);
    const early = templateNameFor(
      'a-very-long-pipeline-name-for-testing-limits',
      'b1',
      hash,
      '2026-11-10T06:00:00Z',
    );
    const late = templateNameFor('short', 'b2', hash, '2026-11-10T06:00:01Z');
    expect(early < late).toBe(true);
    expect(early.length).toBeLessThanOrEqual(64);
    expect(early).toMatch(/^it-261110060000-/);
  });
});

describe('build slots on the local host', () => {
  const factory = useFactory({}, { BUILD_SLOTS_PER_SUBSCRIPTION_REGION: '1' });
  let ubuntu: PipelineDefinition;
  beforeAll(() => {
    ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
  });
  /** Starts a build, lets it record its arrival, and moves the clock on: distinct arrival stamps. */
  async function arrive(id: string): Promise<string> {
    await factory.start(ubuntu, id);
    await factory.host.drive({ until: async () => (await factory.status(id))?.buildId === id });
    factory.clock.advanceBy(1000);
    return id;
  }

  it('with one slot, three builds run Image Builder one at a time, in arrival order, and all finish', async () => {
    const ids = ['slot-a', 'slot-b', 'slot-c'];
    for (const id of ids) await arrive(id);
    let maxBuilding = 0;
    const sawQueued = new Set<string>();
    const startedOrder: string[] = [];
    await factory.host.drive({
      until: async () => {
        let open = 0;
        let building = 0;
        for (const id of ids) {
          const status = await factory.host.getStatus(id);
          const custom = status?.customStatus as BuildCustomStatus | null;
          if (status?.runtimeStatus === 'Running' || status?.runtimeStatus === 'Pending') open++;
          if (custom?.step === 'waitingForBuildSlot') sawQueued.add(id);
          if (custom?.step === 'build' && /building|starting/.test(custom.message ?? '')) {
            building++;
            if (!startedOrder.includes(id)) startedOrder.push(id);
          }
          if (custom?.pendingApproval) await factory.decide(id, custom.pendingApproval.stage, 'approved');
        }
        maxBuilding = Math.max(maxBuilding, building);
        return open === 0;
      },
    });
    for (const id of ids) expect((await factory.host.getStatus(id))?.runtimeStatus).toBe('Completed');
    expect(maxBuilding).toBe(1);
    expect([...sawQueued].sort()).toEqual(['slot-b', 'slot-c']);
    expect(startedOrder).toEqual(ids);
    // Runs never overlapped: each run was started after the previous template was deleted.
    const requests = factory.sim.requests();
    const runIndexes = requests
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.method === 'POST' && /imageTemplates\/[^/]+\/run$/.test(r.path) && r.status < 300);
    expect(runIndexes).toHaveLength(3);
    for (let k = 1; k < runIndexes.length; k++) {
      const previousTemplate = runIndexes[k - 1]!.r.path.replace(/\/run$/, '');
      const deletedAt = requests.findIndex(
        (r) => r.method === 'DELETE' && r.path === previousTemplate && r.status < 300,
      );
      expect(deletedAt).toBeGreaterThan(-1);
      expect(deletedAt).toBeLessThan(runIndexes[k]!.i);
    }
    const leftovers = factory.sim
      .inventory()
      .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks/.test(r.type));
    expect(leftovers).toEqual([]);
  });

  it('a build cancelled while queued for a slot ends canceled, its template (ticket) removed', async () => {
    const first = await arrive('slot-holder');
    const queued = await arrive('slot-queued');
    await factory.host.drive({
      until: async () =>
        (await factory.status(queued))?.step === 'waitingForBuildSlot' &&
        (await factory.status(first))?.step === 'build',
    });
    await factory.host.raiseEvent(queued, 'cancel', { reason: 'not needed', requestedBy: 'ops' });
    const final = await factory.host.waitFor(queued);
    const status = final.customStatus as BuildCustomStatus;
    expect(status.outcome).toBe('canceled');
    expect(status.failure?.step).toBe('waitingForBuildSlot');
    expect(status.failure?.message).toContain('by ops: not needed');
    // The queued build never ran; its template is gone; the holder is unaffected.
    const requests = factory.sim.requests();
    const queuedTemplate = requests.find(
      (r) =>
        r.method === 'PUT' &&
        /imageTemplates\/[^/]+$/.test(r.path) &&
        (r.body as { tags?: Record<string, string> }).tags?.['imagefactory.buildId'] === 'slot-queued',
    )?.path;
    expect(queuedTemplate).toBeDefined();
    const runs = requests.filter((r) => r.method === 'POST' && /imageTemplates\/[^/]+\/run$/.test(r.path));
    expect(runs.map((r) => r.path)).not.toContain(`${queuedTemplate}/run`);
    const templates = factory.sim
      .inventory()
      .filter((r) => r.type === 'microsoft.virtualmachineimages/imagetemplates');
    expect(templates.map((r) => r.tags['imagefactory.buildId'])).toEqual(['slot-holder']);
    await factory.host.raiseEvent(first, 'cancel', { reason: 'done testing', requestedBy: 'ops' });
    expect((await factory.host.waitFor(first)).runtimeStatus).toBe('Completed');
    const leftovers = factory.sim
      .inventory()
      .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks|versions/.test(r.type))
      .filter((r) => /^slot-(holder|queued)$/.test(r.tags['imagefactory.buildId'] ?? ''));
    expect(leftovers).toEqual([]);
  });

  it('asked again after its run started (an answer lost), the first ask keeps the slot, even behind a later ticket, and starts nothing more', async () => {
    const id = await arrive('slot-asked-twice');
    await factory.host.drive({
      until: async () => (await factory.status(id))?.message === 'Image Builder is building',
    });
    const put = factory.sim
      .requests()
      .find(
        (r) =>
          r.method === 'PUT' &&
          /imageTemplates\/[^/]+$/.test(r.path) &&
          (r.body as { tags?: Record<string, string> } | undefined)?.tags?.['imagefactory.buildId'] === id,
      );
    const templateName = put?.path.split('/').pop() ?? '';
    expect(templateName).toMatch(/^it-/);
    const runsOf = () =>
      factory.sim
        .requests()
        .filter(
          (r) =>
            r.method === 'POST' && r.path.endsWith(`/imageTemplates/${templateName}/run`) && r.status < 300,
        ).length;
    expect(runsOf()).toBe(1);
    // A ticket that sorts before this build's appears late (its create was slow to show): with one
    // slot, a fresh claim would now queue this build behind it, though its run is going.
    const templateWait =
      (await factory.host.getStatus(`${id}:await:1`, { showHistory: true }))?.history ?? [];
    const create = (templateWait as { EventType?: string; Name?: string; Input?: string }[]).find(
      (e) => e.EventType === 'TaskScheduled' && e.Name === Activities.createImageTemplate,
    );
    const { credential, spec } = JSON.parse(create?.Input ?? '{}') as {
      credential: string;
      spec: { name: string };
    };
    const earlier = { ...spec, name: `it-000000000000-${templateName.slice(16)}`.slice(0, 64) };
    expect(earlier.name < templateName).toBe(true);
    await factory.host.callActivity(Activities.createImageTemplate, { credential, spec: earlier });
    const subscriptionId = factory.world.eng.subscriptionId;
    const claim: ClaimBuildSlotInput = {
      credential: 'eng',
      scope: { subscriptionId, resourceGroup: ubuntu.build.resourceGroup },
      slotKey: buildSlotKey(subscriptionId, ubuntu.build.location),
      templateName,
    };
    expect(await factory.host.callActivity(Activities.claimBuildSlot, claim)).toMatchObject({
      granted: false,
    });
    const again = await factory.host.callActivity(Activities.startImageBuildInFreeSlot, claim);
    expect(again).toMatchObject({ granted: true, ticketExists: true });
    expect(runsOf()).toBe(1);
    await factory.host.callActivity(Activities.deleteImageTemplate, {
      credential,
      ref: { subscriptionId, resourceGroup: ubuntu.build.resourceGroup, name: earlier.name },
    });
    await factory.host.raiseEvent(id, 'cancel', { reason: 'done checking', requestedBy: 'test' });
    await factory.host.waitFor(id);
  });
});
