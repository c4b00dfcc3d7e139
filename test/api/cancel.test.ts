/**
 * cancelBuild's decisions over a small in-memory BuildsClient (the durable client's far end):
 * a build that has already decided its outcome and is only cleaning up is not sent a cancel.
 * The full path (real df client, local host, compensation) is in api.test.ts.
 */
import { DEFAULT_API_POLICY } from '../../src/api/abuse';
import { cancelBuild, type ApiRequest, type BuildsClient, type InstanceView } from '../../src/api/builds-api';
import { BUILD_ORCHESTRATION, CANCEL_EVENT } from '../../src/domain/build-status';

function clientWith(instance: InstanceView) {
  const raised: { id: string; name: string; data: unknown }[] = [];
  const client: BuildsClient = {
    startNew: () => Promise.reject(new Error('not expected')),
    getStatus: (id) => Promise.resolve(id === instance.instanceId ? instance : undefined),
    list: () => Promise.resolve([instance]),
    raiseEvent: (id, name, data) => {
      raised.push({ id, name, data });
      return Promise.resolve();
    },
    statusLinks: (id) => ({ statusQueryGetUri: `http://host/status/${id}` }),
  };
  return { client, raised };
}

const request = (id: string): ApiRequest => ({
  method: 'POST',
  url: `http://host/api/builds/${id}/cancel`,
  headers: { 'content-type': 'application/json', 'x-ms-client-principal-name': 'dana@contoso.com' },
  params: { id },
  query: {},
  body: JSON.stringify({ reason: 'not needed' }),
});

const instance = (outcome: string | undefined, runtimeStatus = 'Running'): InstanceView => ({
  instanceId: 'ubuntu-2204-base-abc',
  name: BUILD_ORCHESTRATION,
  runtimeStatus,
  customStatus: outcome === undefined ? null : { outcome, step: 'compensate', stages: [] },
  output: null,
  input: null,
  createdTime: '2026-11-10T06:00:00Z',
  lastUpdatedTime: '2026-11-10T06:10:00Z',
});

describe('POST /api/builds/{id}/cancel decisions', () => {
  it.each(['failed', 'rejected', 'timedOut', 'canceled'])(
    'a running build whose outcome is %s (cleaning up) gets 409 and no event',
    async (outcome) => {
      const { client, raised } = clientWith(instance(outcome));
      const response = await cancelBuild(request('ubuntu-2204-base-abc'), client);
      expect(response.status).toBe(409);
      expect(response.headers?.['content-type']).toBe('application/problem+json');
      expect(JSON.stringify(response.jsonBody)).toContain(outcome);
      expect(raised).toEqual([]);
    },
  );

  it.each([
    ['running', 'Running'],
    [undefined, 'Pending'],
  ])(
    'a build with outcome %s (%s) is sent the cancel event with reason and requester',
    async (outcome, runtime) => {
      const { client, raised } = clientWith(instance(outcome, runtime));
      const easyAuth = { ...DEFAULT_API_POLICY, trustEasyAuth: true };
      const response = await cancelBuild(request('ubuntu-2204-base-abc'), client, easyAuth);
      expect(response.status).toBe(202);
      expect(raised).toEqual([
        {
          id: 'ubuntu-2204-base-abc',
          name: CANCEL_EVENT,
          data: { reason: 'not needed', requestedBy: 'dana@contoso.com' },
        },
      ]);
    },
  );

  it('a finished build gets 409, an unknown one 404, a bad id 400 — none is sent an event', async () => {
    const { client, raised } = clientWith(instance('succeeded', 'Completed'));
    expect((await cancelBuild(request('ubuntu-2204-base-abc'), client)).status).toBe(409);
    expect((await cancelBuild(request('other-build'), client)).status).toBe(404);
    expect((await cancelBuild(request('../x'), client)).status).toBe(400);
    expect(raised).toEqual([]);
  });
});
