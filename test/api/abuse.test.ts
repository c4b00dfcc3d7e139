/**
 * Abuse of the HTTP API (issue 14 item 5), over the API's own functions and a small in-memory
 * BuildsClient (the durable client's far end) on a virtual clock: a flood from one caller is
 * refused with 429 + Retry-After and does not stop other callers' builds; queued builds are capped
 * per pipeline and per staging target; the audit believes principal headers only behind Easy Auth;
 * links come from the configured host; bodies are capped before they are buffered; JSON answers and
 * the status page carry the security headers. The same wiring over HTTP: abuse-http.test.ts.
 */
import { VirtualClock } from '../../src/shared/clock';
import { DEFAULT_API_POLICY, apiPolicy, rateLimited, type ApiPolicy } from '../../src/api/abuse';
import {
  cancelBuild,
  startBuild,
  viewBuild,
  type ApiRequest,
  type ApiResponse,
  type BuildsClient,
  type InstanceView,
  type Pipelines,
} from '../../src/api/builds-api';
import { keyFingerprint } from '../../src/api/caller';
import { RateLimiter } from '../../src/api/rate-limit';
import { readCappedBody } from '../../src/api/request-body';
import { BUILD_ORCHESTRATION, CANCEL_EVENT } from '../../src/domain/build-status';
import { loadPipelines } from '../../src/domain/pipeline/loader';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { EXAMPLE_PIPELINE_SETTINGS } from '../pipeline/harness';

/** Settings the example pipelines refer to. */
const env: Record<string, string> = { ...EXAMPLE_PIPELINE_SETTINGS };

function served(extra: PipelineDefinition[] = []): Pipelines {
  const loaded = loadPipelines('pipelines', env);
  const valid = new Map(loaded.pipelines);
  for (const definition of extra) valid.set(definition.name, definition);
  return { valid, invalid: loaded.invalid };
}

function memoryClient() {
  const instances = new Map<string, InstanceView>();
  const raised: { id: string; name: string; data: unknown }[] = [];
  const client: BuildsClient = {
    startNew(name, instanceId, input) {
      instances.set(instanceId, {
        instanceId,
        name,
        runtimeStatus: 'Running',
        customStatus: null,
        output: null,
        input,
        createdTime: '2026-11-10T06:00:00Z',
        lastUpdatedTime: '2026-11-10T06:00:00Z',
      });
      return Promise.resolve();
    },
    getStatus: (id) => Promise.resolve(instances.get(id)),
    list: () => Promise.resolve([...instances.values()]),
    raiseEvent(id, name, data) {
      raised.push({ id, name, data });
      return Promise.resolve();
    },
    statusLinks: (id) => ({ statusQueryGetUri: `https://func-x.azurewebsites.net/runtime/status/${id}` }),
  };
  return { client, instances, raised };
}

const post = (body: unknown, key: string, extra: Record<string, string> = {}): ApiRequest => ({
  method: 'POST',
  url: 'https://func-x.azurewebsites.net/api/builds',
  headers: { 'content-type': 'application/json', 'x-functions-key': key, ...extra },
  params: {},
  query: {},
  body: JSON.stringify(body),
});

/** What src/functions/http-api.ts does for a POST: the rate limit first, then the handler. */
const serve =
  (policy: ApiPolicy, limiter: RateLimiter, client: BuildsClient, pipelines: Pipelines) =>
  async (request: ApiRequest): Promise<ApiResponse> =>
    rateLimited(request, policy, limiter) ?? (await startBuild(request, client, pipelines, policy));

const detail = (response: ApiResponse) => (response.jsonBody as { detail: string }).detail;

describe('a flood of POST /api/builds', () => {
  it('300 POSTs in 8 s from one caller: all but a few get 429 with Retry-After; another caller still starts a build', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 10, 10, 6));
    const limiter = new RateLimiter(() => clock.now());
    const { client, instances } = memoryClient();
    const send = serve(DEFAULT_API_POLICY, limiter, client, served());

    const answers: ApiResponse[] = [];
    for (let i = 0; i < 300; i++) {
      answers.push(await send(post({ pipeline: 'ubuntu-2204-base' }, 'flood-key')));
      clock.advanceBy(8000 / 300);
    }
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted.length + refused.length).toBe(300);
    // The pipeline cap (5) stops it before the rate limit's burst (10) does.
    expect(accepted).toHaveLength(DEFAULT_API_POLICY.maxQueuedPerPipeline);
    for (const answer of refused) {
      expect(answer.headers?.['content-type']).toBe('application/problem+json');
      expect(Number(answer.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    const byRate = refused.filter((a) => detail(a).includes('API_RATE_LIMIT_BURST'));
    const byCap = refused.filter((a) => detail(a).includes('MAX_QUEUED_BUILDS_PER_PIPELINE'));
    expect(byRate.length).toBeGreaterThan(280);
    expect(byCap.length).toBeGreaterThan(0);
    expect(byRate.length + byCap.length).toBe(refused.length);
    expect(instances.size).toBe(5);

    // Another caller's build of another pipeline starts.
    const other = await send(post({ pipeline: 'windows-2022-base' }, 'release-team-key'));
    expect(other.status).toBe(202);
    expect(instances.size).toBe(6);
  });

  it('the bucket refills at the configured rate: Retry-After says when the next request is allowed', () => {
    const clock = new VirtualClock(Date.UTC(2026, 10, 10, 6));
    const limiter = new RateLimiter(() => clock.now());
    const settings = { perMinute: 6, burst: 2 };
    expect(limiter.take('a', settings)).toEqual({ allowed: true });
    expect(limiter.take('a', settings)).toEqual({ allowed: true });
    expect(limiter.take('a', settings)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(limiter.take('b', settings)).toEqual({ allowed: true });
    clock.advanceBy(9_000);
    expect(limiter.take('a', settings)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.advanceBy(1_000);
    expect(limiter.take('a', settings)).toEqual({ allowed: true });
  });

  it('caps queued builds per staging target (ENG subscription + region), naming the setting', async () => {
    const pipelines = served();
    const ubuntu = pipelines.valid.get('ubuntu-2204-base') as PipelineDefinition;
    const north: PipelineDefinition = {
      ...ubuntu,
      name: 'ubuntu-north',
      build: { ...ubuntu.build, location: 'northeurope' },
    };
    const withNorth = served([north]);
    const policy: ApiPolicy = { ...DEFAULT_API_POLICY, maxQueuedPerPipeline: 100, maxQueuedPerBuildSlot: 3 };
    const { client, instances } = memoryClient();
    const start = (pipeline: string) => startBuild(post({ pipeline }, 'k'), client, withNorth, policy);
    for (let i = 0; i < 3; i++) expect((await start('ubuntu-2204-base')).status).toBe(202);
    // windows-2022-base builds in the same subscription and region: its slot pool is full.
    const full = await start('windows-2022-base');
    expect(full.status).toBe(429);
    expect(full.headers?.['retry-after']).toBe('60');
    expect(detail(full)).toContain('MAX_QUEUED_BUILDS_PER_BUILD_SLOT');
    expect(detail(full)).toContain('/westeurope');
    // Another region is another pool.
    expect((await start('ubuntu-north')).status).toBe(202);
    expect(instances.size).toBe(4);
  });
});

describe('who the audit names', () => {
  const running: InstanceView = {
    instanceId: 'ubuntu-2204-base-abc',
    name: BUILD_ORCHESTRATION,
    runtimeStatus: 'Running',
    customStatus: null,
    output: null,
    input: null,
    createdTime: '2026-11-10T06:00:00Z',
    lastUpdatedTime: '2026-11-10T06:00:00Z',
  };
  const cancel = (policy: ApiPolicy) => {
    const { client, raised } = memoryClient();
    client.getStatus = () => Promise.resolve(running);
    const request: ApiRequest = {
      ...post({ reason: 'not needed' }, 'ops-key', { 'x-ms-client-principal-name': 'ceo@contoso.com' }),
      params: { id: running.instanceId },
    };
    return cancelBuild(request, client, policy).then((response) => ({ response, raised }));
  };

  it('without Easy Auth a forged x-ms-client-principal-name is ignored: the key fingerprint is recorded', async () => {
    const { response, raised } = await cancel(DEFAULT_API_POLICY);
    expect(response.status).toBe(202);
    expect(raised).toEqual([
      {
        id: running.instanceId,
        name: CANCEL_EVENT,
        data: { reason: 'not needed', requestedBy: `key:${keyFingerprint('ops-key')}` },
      },
    ]);
    expect(JSON.stringify(raised)).not.toContain('ops-key');
  });

  it('behind Easy Auth (API_EASY_AUTH=true) the principal is recorded', async () => {
    const { raised } = await cancel({ ...DEFAULT_API_POLICY, trustEasyAuth: true });
    expect((raised[0]?.data as { requestedBy: string }).requestedBy).toBe('ceo@contoso.com');
  });
});

describe('links and headers', () => {
  it('links come from the configured host name, not from the request target or Host', async () => {
    const policy = apiPolicy(
      {
        API_EASY_AUTH: 'false',
        API_PUBLIC_HOST_NAME: '',
        API_RATE_LIMIT_PER_MINUTE: 30,
        API_RATE_LIMIT_BURST: 10,
        MAX_QUEUED_BUILDS_PER_PIPELINE: 5,
        MAX_QUEUED_BUILDS_PER_BUILD_SLOT: 20,
      },
      'func-x.azurewebsites.net',
    );
    const { client } = memoryClient();
    const forged: ApiRequest = {
      ...post({ pipeline: 'ubuntu-2204-base' }, 'k', { host: 'evil.example' }),
      url: 'https://evil.example/api/builds',
    };
    const answer = await startBuild(forged, client, served(), policy);
    const body = answer.jsonBody as { id: string; buildUri: string; viewUri: string };
    expect(body.buildUri).toBe(`https://func-x.azurewebsites.net/api/builds/${body.id}`);
    expect(body.viewUri).toBe(`https://func-x.azurewebsites.net/api/builds/${body.id}/view`);
    expect(JSON.stringify(answer)).not.toContain('evil.example');
  });

  it('the status page has a fresh nonce on every script and style, and may not be framed', () => {
    const request: ApiRequest = {
      method: 'GET',
      url: 'https://func-x.azurewebsites.net/api/builds/b-1/view',
      headers: {},
      params: { id: 'b-1' },
      query: {},
      body: '',
    };
    const first = viewBuild(request);
    const second = viewBuild(request);
    const csp = first.headers?.['content-security-policy'] ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(second.headers?.['content-security-policy']).not.toContain(nonce);
    const tags = [...(first.body ?? '').matchAll(/<(script|style)\b[^>]*>/g)].map((m) => m[0]);
    expect(tags.length).toBeGreaterThanOrEqual(2);
    for (const tag of tags) expect(tag).toContain(`nonce="${nonce}"`);
    expect(first.headers?.['x-content-type-options']).toBe('nosniff');
    expect(first.headers?.['cache-control']).toBe('no-store');
  });

  it('refuses a reason with control characters (CR/LF, ANSI) before anything starts', async () => {
    const { client, instances } = memoryClient();
    const answer = await startBuild(
      post(
        { pipeline: 'ubuntu-2204-base', reason: 'ok\r\n12:00:00 (sim 06:00:00) x Completed: \u001b[32mdone' },
        'k',
      ),
      client,
      served(),
    );
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.jsonBody)).toContain('reason');
    expect(instances.size).toBe(0);
  });
});

describe('request bodies are capped before they are buffered', () => {
  const streamOf = (chunks: number, chunkSize: number) => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled === chunks) controller.close();
          else {
            pulled++;
            controller.enqueue(new Uint8Array(chunkSize).fill(0x61));
          }
        },
      },
      // Nothing is pulled before someone reads.
      { highWaterMark: 0 },
    );
    return { body, pulled: () => pulled };
  };

  it('a Content-Length over the limit gets 413 without a byte read', async () => {
    const stream = streamOf(1000, 1024);
    const result = await readCappedBody(
      { headers: new Headers({ 'content-length': String(1024 * 1024 * 1024) }), body: stream.body },
      64 * 1024,
    );
    expect('error' in result && result.error.status).toBe(413);
    expect(stream.pulled()).toBe(0);
  });

  it('a body without a length that streams past the limit is cut off at the limit', async () => {
    const stream = streamOf(1000, 1024);
    const result = await readCappedBody({ headers: new Headers(), body: stream.body }, 64 * 1024);
    expect('error' in result && result.error.status).toBe(413);
    expect(stream.pulled()).toBeLessThanOrEqual(66);
  });

  it('a body within the limit is read whole', async () => {
    const stream = streamOf(3, 10);
    const result = await readCappedBody({ headers: new Headers(), body: stream.body }, 64 * 1024);
    expect(result).toEqual({ text: 'a'.repeat(30) });
  });
});
