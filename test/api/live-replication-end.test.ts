/**
 * GET /api/builds/{id} over a small in-memory BuildsClient (the durable client's far end): while a
 * stage names its replication wait, the answer shows the regions of that wait's last read, also in
 * the moment between the wait's end and the build's next episode (from factory 0.7.0 the build
 * hears of replication at the end only, so its own stage holds no regions until then); never the
 * read of a wait that failed or was terminated. The full path: live-replication.test.ts.
 */
import { getBuild, type ApiRequest, type BuildsClient, type InstanceView } from '../../src/api/builds-api';
import { BUILD_ORCHESTRATION } from '../../src/domain/build-status';

const BUILD = 'ubuntu-2204-base-live';
const WAIT = `${BUILD}:replicate:2`;
const lastRead = [
  { name: 'westeurope', state: 'Completed', progress: 100 },
  { name: 'northeurope', state: 'Replicating', progress: 60 },
];

const view = (
  instanceId: string,
  name: string,
  runtimeStatus: string,
  customStatus: unknown,
): InstanceView => ({
  instanceId,
  name,
  runtimeStatus,
  customStatus,
  output: null,
  input: null,
  createdTime: '2026-11-10T06:00:00Z',
  lastUpdatedTime: '2026-11-10T09:10:00Z',
});

/** A running build promoting to TEST, whose stage names the wait; the wait in `waitStatus`. */
function clientWith(waitStatus: string): BuildsClient {
  const build = view(BUILD, BUILD_ORCHESTRATION, 'Running', {
    buildId: BUILD,
    outcome: 'running',
    step: 'promote',
    currentStage: 'TEST',
    stages: [
      { name: 'ENG', tenantId: 't-eng', state: 'done' },
      { name: 'TEST', tenantId: 't-test', state: 'promoting', replicationWait: WAIT },
    ],
  });
  const wait = view(WAIT, 'waitForVersionReplication', waitStatus, { stage: 'TEST', regions: lastRead });
  const instances = new Map([build, wait].map((i) => [i.instanceId, i]));
  return {
    startNew: () => Promise.reject(new Error('not expected')),
    getStatus: (id) => Promise.resolve(instances.get(id)),
    list: () => Promise.resolve([...instances.values()]),
    raiseEvent: () => Promise.reject(new Error('not expected')),
    statusLinks: (id) => ({ statusQueryGetUri: `http://host/status/${id}` }),
  };
}

const request: ApiRequest = {
  method: 'GET',
  url: `http://host/api/builds/${BUILD}`,
  headers: {},
  params: { id: BUILD },
  query: {},
  body: '',
};

const testStage = async (client: BuildsClient) => {
  const answer = await getBuild(request, client);
  expect(answer.status).toBe(200);
  const stages = (answer.jsonBody as { stages: { name: string; regions?: unknown }[] }).stages;
  expect(JSON.stringify(answer.jsonBody)).not.toContain(WAIT);
  return stages.find((s) => s.name === 'TEST');
};

describe("GET /api/builds/{id}: a stage shows its replication wait's last read", () => {
  it.each(['Running', 'ContinuedAsNew', 'Completed'])('while the wait is %s', async (status) => {
    expect((await testStage(clientWith(status)))?.regions).toEqual(lastRead);
  });

  it.each(['Failed', 'Terminated'])('not once the wait is %s', async (status) => {
    expect((await testStage(clientWith(status)))?.regions).toBeUndefined();
  });
});
