/**
 * A gated build whose customization.log stays unreachable through the host's retries, when it reads
 * the build inventory: every storage connection is reset. A build stamped 0.8.0 fails there, after a
 * successful Image Builder run (its last action before compensation was the read's last attempt);
 * from 0.9.0 (UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE) the inventory is unavailable, as a refused
 * read has been since 0.4.0, and the build goes on to its tests and its TEST approval.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { AZURE_CALL_RETRY } from '../../src/domain/pipeline/activities';
import { UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE } from '../../src/orchestrations/build/release-gates';
import { compareVersions } from '../../src/shared/orchestration-version';
import { CURRENT_VERSION, divergences, releaseBench, waitingFor } from './release-harness';

const APP = 'src/functions/index.ts';
const BLOB_READ = 'GET blob';

describe('a build inventory that storage never answers for', () => {
  const bench = releaseBench('unreadable-inventory');

  /** Starts a gated build on `version` with every storage connection reset; drives until `done`. */
  async function buildWithoutStorage(
    version: string,
    id: string,
    pipeline: PipelineDefinition,
    done: (status: BuildCustomStatus | null) => boolean,
  ) {
    const release = await bench.open({ appEntry: APP, version, reason: 'unreadable inventory test' });
    bench.factory.sim.setFaults({ rate: 1, kinds: ['reset'], operations: [BLOB_READ] });
    const readsBefore = bench.factory.sim.callCounts()[BLOB_READ] ?? 0;
    try {
      await release.start(id, pipeline);
      await release.until([id], done);
      expect(divergences(release)).toEqual([]);
      return {
        status: await release.custom(id),
        blobReads: (bench.factory.sim.callCounts()[BLOB_READ] ?? 0) - readsBefore,
      };
    } finally {
      bench.factory.sim.setFaults(undefined);
      await release.host.stop();
    }
  }

  it('fails a 0.8.0 build; from 0.9.0 the inventory is unavailable and the build goes on', async () => {
    expect(UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE).toBe('0.9.0');
    expect(
      compareVersions(CURRENT_VERSION, UNREADABLE_INVENTORY_IS_UNAVAILABLE_SINCE),
    ).toBeGreaterThanOrEqual(0);
    const gated = bench.serveGatedSample();

    const older = await buildWithoutStorage('0.8.0', 'inventory-080', gated, (s) => s?.outcome === 'failed');
    expect(older.status).toMatchObject({ factoryVersion: '0.8.0', outcome: 'failed' });
    expect(older.status?.failure).toMatchObject({ code: 'ConnectionFault', step: 'build' });
    expect(older.status?.failure?.message).toContain('readBuildInventory');
    // Every attempt the host made reached storage and was reset.
    expect(older.blobReads).toBe(AZURE_CALL_RETRY.maxNumberOfAttempts);

    const current = await buildWithoutStorage(CURRENT_VERSION, 'inventory-now', gated, waitingFor('TEST'));
    expect(current.status).toMatchObject({ factoryVersion: CURRENT_VERSION, outcome: 'running' });
    expect(JSON.stringify(current.status)).toContain(
      'software inventory not in customization.log (customization.log could not be read: ConnectionFault)',
    );
    expect(current.status?.securityGate).toMatchObject({ passed: true });
    expect(current.blobReads).toBe(AZURE_CALL_RETRY.maxNumberOfAttempts);
  });
});
