import { apiSuite } from './api-suite';

const KEY = 'api-test-key';
/** Revoke is authLevel admin: the master key. */
const ADMIN = { 'x-functions-key': 'master-key' };

describe('HTTP API through the local host front end and the real durable client', () => {
  // One key sends every request of this suite; the limits have their own suite (abuse.test.ts).
  const suite = apiSuite({
    hostKey: KEY,
    masterKey: 'master-key',
    settings: () => ({ API_RATE_LIMIT_BURST: '1000' }),
    tolerateNonJson: true,
  });
  const { call, instanceCount } = suite;

  describe('bad input gets a clear 4xx and starts nothing', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cases: [string, () => Promise<{ status: number; json: any }>, number, string | undefined][] = [
      ['malformed JSON', () => call('POST', '/api/builds', '{"pipeline": '), 400, undefined],
      [
        'unknown field',
        () => call('POST', '/api/builds', { pipeline: 'ubuntu-2204-base', colour: 'red' }),
        400,
        'colour',
      ],
      ['wrong type', () => call('POST', '/api/builds', { pipeline: 42 }), 400, 'pipeline'],
      ['missing pipeline', () => call('POST', '/api/builds', {}), 400, 'pipeline'],
      [
        'bad override',
        () =>
          call('POST', '/api/builds', {
            pipeline: 'ubuntu-2204-base',
            overrides: { buildTimeoutMinutes: 5000 },
          }),
        400,
        'overrides.buildTimeoutMinutes',
      ],
      ['unknown pipeline', () => call('POST', '/api/builds', { pipeline: 'no-such-image' }), 404, 'pipeline'],
      [
        'wrong content type',
        () => call('POST', '/api/builds', undefined, { 'content-type': 'text/plain' }),
        415,
        '(header) content-type',
      ],
      [
        'oversized body',
        () => call('POST', '/api/builds', { pipeline: 'ubuntu-2204-base', reason: 'x'.repeat(70_000) }),
        413,
        undefined,
      ],
      [
        'no function key',
        () => call('POST', '/api/builds', { pipeline: 'ubuntu-2204-base' }, { 'x-functions-key': 'wrong' }),
        401,
        undefined,
      ],
      ['cancel without reason', () => call('POST', '/api/builds/some-build/cancel', {}), 400, 'reason'],
      [
        'cancel with an unknown field',
        () => call('POST', '/api/builds/some-build/cancel', { reason: 'x', force: true }),
        400,
        'force',
      ],
      ['body that is not an object', () => call('POST', '/api/builds', '[1,2]'), 400, '(body)'],
      ['invalid build id', () => call('GET', '/api/builds/bad%20id!'), 400, '(route) id'],
      [
        'revoke of a malformed version',
        () => call('POST', '/api/versions/ubuntu-2204-base/latest/revoke', { reason: 'bad' }, ADMIN),
        400,
        '(route) version',
      ],
      [
        'revoke for an unknown pipeline',
        () => call('POST', '/api/versions/no-such-image/1.0.0/revoke', { reason: 'bad' }, ADMIN),
        404,
        undefined,
      ],
      [
        'revoke without a reason',
        () => call('POST', '/api/versions/ubuntu-2204-base/1.0.0/revoke', {}, ADMIN),
        400,
        'reason',
      ],
      ['unknown pipeline definition', () => call('GET', '/api/pipelines/no-such-image'), 404, undefined],
      ['unknown build', () => call('GET', '/api/builds/nope-123'), 404, undefined],
      ['bad status filter', () => call('GET', '/api/builds?status=done'), 400, '(query) status'],
    ];
    it.each(cases)('%s', async (_name, request, status, path) => {
      const before = await instanceCount();
      const response = await request();
      expect(response.status).toBe(status);
      if (status !== 401) expect(response.json.status).toBe(status);
      if (path) expect(response.json.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(await instanceCount()).toBe(before);
    });
  });

  it('repeats no huge input and no key in a refusal', async () => {
    const huge = `H${'x'.repeat(9_999)}`;
    const answers = [
      await call('POST', '/api/builds', { pipeline: 'ubuntu-2204-base', [huge]: 1 }),
      await call('POST', '/api/builds', '{}', { 'content-type': `application/${huge}` }),
      await call('GET', `/api/pipelines/${huge}`),
      await call('POST', `/api/versions/${huge}/1.0.0/revoke`, { reason: 'bad' }, ADMIN),
      await call('POST', '/api/builds', { pipeline: 'master-key' }),
      await call('POST', '/api/builds', { pipeline: 'Master_Key_1' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([400, 415, 404, 404, 404, 404]);
    for (const answer of answers) expect(answer.text).not.toContain(huge);
    expect(answers[0]!.json.errors[0].path).toMatch(/^Hxxx.*\(10000 characters\)$/);
    // A name that could be a pipeline's is named; anything else (a key pasted in the wrong place) is not.
    expect(answers[4]!.json.detail).toContain("'master-key'");
    expect(answers[5]!.text).not.toContain('Master_Key_1');
  });

  it('lists and shows the validated pipelines', async () => {
    const list = await call('GET', '/api/pipelines');
    expect(list.status).toBe(200);
    expect(list.json.pipelines.map((p: { name: string }) => p.name).sort()).toEqual([
      'ubuntu-2204-base',
      'windows-2022-base',
    ]);
    const one = await call('GET', '/api/pipelines/windows-2022-base');
    expect(one.json.image.osType).toBe('Windows');
  });

  it('starts a build idempotently, shows its progress and cancels it with compensation', async () => {
    const started = await call(
      'POST',
      '/api/builds',
      { pipeline: 'ubuntu-2204-base', reason: 'api test' },
      { 'Idempotency-Key': 'k-1' },
    );
    expect(started.status).toBe(202);
    expect(started.json.statusQueryGetUri).toContain(started.json.id);
    // The durable management links come without the extension's system key (it grants terminate,
    // purge and raising any event, approvals included).
    expect(started.json.statusQueryGetUri).toMatch(/\?taskHub=ImageFactoryTest&connection=Storage$/);
    expect(started.json.sendEventPostUri).toMatch(
      /\/raiseEvent\/\{eventName\}\?taskHub=[^&]+&connection=Storage$/,
    );
    expect(started.headers.get('location')).toBe(started.json.statusQueryGetUri);
    expect(started.text).not.toMatch(/[?&]code=/);
    const again = await call(
      'POST',
      '/api/builds',
      { pipeline: 'ubuntu-2204-base', reason: 'api test' },
      { 'Idempotency-Key': 'k-1' },
    );
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(started.json.id);
    const conflict = await call(
      'POST',
      '/api/builds',
      { pipeline: 'ubuntu-2204-base', reason: 'other' },
      { 'Idempotency-Key': 'k-1' },
    );
    expect(conflict.status).toBe(409);
    const id = started.json.id as string;

    await suite.factory.untilApprovalPending(id, 'TEST');
    const build = await call('GET', `/api/builds/${id}`);
    expect(build.json.pipeline).toBe('ubuntu-2204-base');
    expect(build.json.step).toBe('approve');
    expect(build.json.pendingApproval.stage).toBe('TEST');
    expect(build.json.stages.map((s: { state: string }) => s.state)).toEqual([
      'done',
      'awaitingApproval',
      'pending',
    ]);

    const listed = await call('GET', '/api/builds?status=running&pipeline=ubuntu-2204-base');
    expect(listed.json.builds.map((b: { id: string }) => b.id)).toContain(id);

    const page = await call('GET', `/api/builds/${id}/view?code=${KEY}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.text).toContain(JSON.stringify(id));

    const cancel = await call('POST', `/api/builds/${id}/cancel`, { reason: 'changed my mind' });
    expect(cancel.status).toBe(202);
    expect(cancel.text).not.toMatch(/[?&]code=/);
    await suite.factory.host.waitFor(id);
    const canceled = await call('GET', `/api/builds/${id}`);
    expect(canceled.json.outcome).toBe('canceled');
    expect(canceled.text).not.toMatch(/[?&]code=/);
    expect(canceled.json.failure.message).toContain('changed my mind');
    expect((await call('POST', `/api/builds/${id}/cancel`, { reason: 'again' })).status).toBe(409);
    const leftovers = suite.factory.sim
      .inventory()
      .filter((r) => /imagetemplates|virtualmachines|networkinterfaces|disks|versions/.test(r.type));
    expect(leftovers).toEqual([]);
  });

  it('revokes a promoted version in every tenant, idempotently', async () => {
    const started = await call('POST', '/api/builds', { pipeline: 'windows-2022-base' });
    const id = started.json.id as string;
    for (const stage of ['TEST', 'PROD']) {
      await suite.factory.untilApprovalPending(id, stage);
      await suite.factory.decide(id, stage, 'approved');
    }
    await suite.factory.host.waitFor(id);
    const done = await call('GET', `/api/builds/${id}`);
    expect(done.json.outcome).toBe('succeeded');
    const version = done.json.imageVersion as string;
    // A function key (the one that starts builds) may not revoke: authLevel admin wants the master key.
    const withFunctionKey = await call('POST', `/api/versions/windows-2022-base/${version}/revoke`, {
      reason: 'boot loop',
    });
    expect(withFunctionKey.status).toBe(401);
    const revoke = await call(
      'POST',
      `/api/versions/windows-2022-base/${version}/revoke`,
      { reason: 'boot loop' },
      ADMIN,
    );
    expect(revoke.status).toBe(202);
    await suite.factory.host.waitFor(revoke.json.id);
    const again = await call(
      'POST',
      `/api/versions/windows-2022-base/${version}/revoke`,
      { reason: 'boot loop' },
      ADMIN,
    );
    expect(again.json.id).toBe(revoke.json.id);
    const versions = suite.factory.sim
      .inventory()
      .filter((r) => r.type.endsWith('/versions') && r.id.endsWith(version));
    expect(versions).toHaveLength(3);
    for (const v of versions) expect(v.tags['imagefactory.revoked']).toBe('boot loop');
  });
});
