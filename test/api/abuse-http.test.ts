/**
 * The abuse limits as wired in src/functions/http-api.ts, through the local host front end and the
 * real durable client (real clock: the flood takes a second or two, far inside one refill):
 * one key's flood of POST /api/builds gets 429 + Retry-After problems and starts at most the
 * pipeline cap, another key's build of another pipeline still starts, and answers carry the
 * security headers. The limits' arithmetic on a virtual clock is in abuse.test.ts.
 */
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { BUILD_ORCHESTRATION } from '../../src/domain/build-status';
import { startFactory, type Factory } from '../pipeline/harness';

const FLOOD_KEY = 'flood-key-0123456789';
const TEAM_KEY = 'team-key-0123456789';

describe('a flood of POST /api/builds through the front end', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  const post = async (key: string, body: unknown) => {
    const response = await fetch(`${front.url}/api/builds`, {
      method: 'POST',
      headers: { 'x-functions-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
  const builds = async () =>
    (await factory.host.engine.list({})).instances.filter((i) => i.name === BUILD_ORCHESTRATION);

  beforeAll(async () => {
    factory = await startFactory();
    front = await startHttpFrontEnd({
      registry: factory.host.registry,
      engine: factory.host.engine,
      invoke: factory.host.invokeFunction.bind(factory.host),
      port: 0,
      keys: { functionKeys: {}, hostKeys: { flood: FLOOD_KEY, team: TEAM_KEY }, masterKey: 'master-abuse' },
      taskHubName: 'ImageFactoryTest',
    });
  });
  afterAll(async () => {
    await front.close();
    await factory.stop();
  });

  it('300 POSTs: most get 429 with Retry-After, at most the pipeline cap start, another caller still starts', async () => {
    const answers: Awaited<ReturnType<typeof post>>[] = [];
    for (let batch = 0; batch < 10; batch++)
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 30 }, () => post(FLOOD_KEY, { pipeline: 'ubuntu-2204-base' })),
        )),
      );
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted.length + refused.length).toBe(300);
    expect(accepted.length).toBeLessThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(290);
    for (const answer of refused) {
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.text).not.toContain(FLOOD_KEY);
    }
    expect((await builds()).length).toBe(accepted.length);

    const other = await post(TEAM_KEY, { pipeline: 'windows-2022-base' });
    expect(other.status).toBe(202);
    expect(other.headers.get('x-content-type-options')).toBe('nosniff');
    expect(other.headers.get('cache-control')).toBe('no-store');
    expect((await builds()).length).toBe(accepted.length + 1);
  });

  it('a declared body over the limit gets a 413 problem and starts nothing', async () => {
    const before = (await builds()).length;
    const response = await fetch(`${front.url}/api/builds`, {
      method: 'POST',
      headers: { 'x-functions-key': TEAM_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ pipeline: 'ubuntu-2204-base', reason: 'x'.repeat(200_000) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await builds()).length).toBe(before);
  });

  it('the status page is served with a nonce CSP that forbids framing', async () => {
    const response = await fetch(`${front.url}/api/builds/some-build/view`, {
      headers: { 'x-functions-key': TEAM_KEY },
    });
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]{16,}'/);
    expect(csp).toContain("frame-ancestors 'none'");
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1] ?? 'none';
    expect(await response.text()).toContain(`<script nonce="${nonce}">`);
  });
});
