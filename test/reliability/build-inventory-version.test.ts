/**
 * The build inventory read from customization.log ships behind sinceVersion('0.4.0') (issue 18,
 * build-inventory.ts): a gated build started on 0.3.0 and waiting for its TEST approval when the
 * host restarts on 0.4.0 (same SQLite file) replays its build step without the inventory customizer
 * and without the readBuildInventory call, with no divergence, and finishes; a build started on
 * 0.4.0 gets both. Same app both times; only the version decides.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import { INVENTORY_CUSTOMIZER_NAME } from '../../src/domain/pipeline/build-inventory';
import { releaseBench, waitingFor, divergences } from './release-harness';

const APP = 'src/functions/index.ts';

describe('build inventory: builds started before 0.4.0 keep their steps', () => {
  const bench = releaseBench('build-inventory-version');

  const open = (version: string) =>
    bench.open({ appEntry: APP, version, reason: 'build inventory version test' });

  /** Image templates created with the inventory customizer. */
  const templatesWithInventory = () =>
    bench.factory.sim
      .requests()
      .filter(
        (r) =>
          r.method === 'PUT' &&
          /\/imageTemplates\/[^/]+$/i.test(r.path) &&
          JSON.stringify(r.body ?? '').includes(INVENTORY_CUSTOMIZER_NAME),
      ).length;

  it('replays a 0.3.0 build at its TEST approval without the inventory; a 0.4.0 build reads it', async () => {
    const gated = bench.serveGatedSample();

    const before = await open('0.3.0');
    await before.start('inventory-old', gated);
    await before.until(['inventory-old'], waitingFor('TEST'));
    expect((await before.custom('inventory-old'))?.securityGate).toMatchObject({ passed: true });
    expect(templatesWithInventory()).toBe(0);
    await before.host.stop();

    const now = await open('0.4.0');
    try {
      await now.start('inventory-new', gated);
      await now.until(['inventory-new'], waitingFor('TEST'));
      expect(templatesWithInventory()).toBe(1);
      const fresh = await now.custom('inventory-new');
      expect(JSON.stringify(fresh)).toMatch(/software inventory read from customization\.log: \d+ packages/);
      await now.decide('inventory-old', 'TEST', 'rejected');
      await now.decide('inventory-new', 'TEST', 'rejected');
      const old = await now.host.waitFor('inventory-old');
      expect(divergences(now)).toEqual([]);
      expect((old.customStatus as BuildCustomStatus).failure).toMatchObject({ code: 'ApprovalRejected' });
      expect(templatesWithInventory()).toBe(1);
      await now.host.waitFor('inventory-new');
    } finally {
      await now.host.stop();
    }
  });
});
