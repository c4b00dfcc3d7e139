/**
 * GET /api/builds/{id}/sbom over a recorded history (the durable status API is the far end): the
 * media type's version is the served document's own, so builds recorded before the SBOM came from
 * the CycloneDX library (hand-written 1.5 documents) are not mislabelled as 1.6.
 */
import { getSbom, type SbomSource } from '../../src/api/sbom';
import type { ApiRequest } from '../../src/api/builds-api';
import { BUILD_ORCHESTRATION } from '../../src/domain/build-status';

const request = (id: string): ApiRequest => ({
  method: 'GET',
  url: `http://localhost/api/builds/${id}/sbom`,
  headers: {},
  params: { id },
  query: {},
  body: '',
});

/** One recorded getSecurityGateResult completion whose output carries the BOM (done.sbom). */
const historyWith = (bom: Record<string, unknown>): SbomSource => ({
  history: (instanceId) =>
    Promise.resolve(
      instanceId === 'build-1'
        ? {
            name: BUILD_ORCHESTRATION,
            events: [
              { EventType: 'ExecutionStarted' },
              { EventType: 'TaskCompleted', Result: JSON.stringify({ done: { sbom: bom } }) },
            ],
          }
        : undefined,
    ),
});

describe('GET /api/builds/{id}/sbom', () => {
  it('labels the document with its own spec version: 1.6 now, 1.5 for builds recorded before', async () => {
    for (const specVersion of ['1.6', '1.5']) {
      const bom = { bomFormat: 'CycloneDX', specVersion, version: 1, components: [] };
      const response = await getSbom(request('build-1'), historyWith(bom));
      expect(response).toEqual({
        status: 200,
        headers: { 'content-type': `application/vnd.cyclonedx+json; version=${specVersion}` },
        jsonBody: bom,
      });
    }
  });

  it("prefers the complete BOM (customization.log's) over a newer truncated one (the gate's); else the newest", async () => {
    const truncated = (value: string) => ({
      properties: [{ name: 'imagefactory:inventoryTruncated', value }],
    });
    const full = {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      serialNumber: 'full',
      metadata: truncated('false'),
    };
    const gate = {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      serialNumber: 'gate',
      metadata: truncated('true'),
    };
    const source = (boms: Record<string, unknown>[]): SbomSource => ({
      history: () =>
        Promise.resolve({
          name: BUILD_ORCHESTRATION,
          events: boms.map((bom) => ({ EventType: 'TaskCompleted', Result: JSON.stringify(bom) })),
        }),
    });
    expect((await getSbom(request('build-1'), source([full, gate]))).jsonBody).toEqual(full);
    expect((await getSbom(request('build-1'), source([gate]))).jsonBody).toEqual(gate);
  });

  it('no such build: 404', async () => {
    const response = await getSbom(request('build-2'), historyWith({ bomFormat: 'CycloneDX' }));
    expect(response.status).toBe(404);
  });
});
