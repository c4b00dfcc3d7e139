/**
 * GET /api/builds paging and filters, the build record (reason, requester, approvals), and the
 * Idempotency-Key under concurrency — through the real front end, df client and local host.
 */
import { apiSuite } from './api-suite';

const KEY = 'query-test-key';

describe('builds list, build record and idempotency', () => {
  // As behind App Service authentication: the principal headers name the requester.
  const suite = apiSuite({
    hostKey: KEY,
    masterKey: 'master-key-query',
    settings: () => ({ API_EASY_AUTH: 'true' }),
  });
  const { call, instanceCount } = suite;

  it.each([
    ['unknown parameter', '/api/builds?state=running', '(query) state'],
    ['bad continuation token', '/api/builds?continuation=not-a-token', '(query) continuation'],
    ['bad pipeline name', '/api/builds?pipeline=Bad%20Name', '(query) pipeline'],
    ['page size 0', '/api/builds?top=0', '(query) top'],
  ])('list refuses %s with a problem naming it', async (_name, path, field) => {
    const before = await instanceCount();
    const response = await call('GET', path);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.json.errors.map((e: { path: string }) => e.path)).toEqual([field]);
    expect(await instanceCount()).toBe(before);
  });

  it('the status page does not let a crafted id inject markup', async () => {
    const evil = encodeURIComponent('</script><script>alert(1)</script>');
    const response = await fetch(`${suite.front.url}/api/builds/${evil}/view?code=${KEY}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const html = await response.text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('</script><script>');
  });

  it('the same Idempotency-Key sent twice at once starts one build', async () => {
    const before = await instanceCount();
    const body = { pipeline: 'ubuntu-2204-base', reason: 'twice at once' };
    const [a, b] = await Promise.all([
      call('POST', '/api/builds', body, { 'Idempotency-Key': 'same-time' }),
      call('POST', '/api/builds', body, { 'Idempotency-Key': 'same-time' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(a.json.id).toBe(b.json.id);
    expect(await instanceCount()).toBe(before + 1);
    // The same key for another pipeline is another build.
    const other = await call(
      'POST',
      '/api/builds',
      { pipeline: 'windows-2022-base', reason: 'twice at once' },
      { 'Idempotency-Key': 'same-time' },
    );
    expect(other.status).toBe(202);
    expect(other.json.id).not.toBe(a.json.id);
  });

  it('a build record shows reason and requester at once, then approvals with approver and ticket', async () => {
    const started = await call(
      'POST',
      '/api/builds',
      { pipeline: 'ubuntu-2204-base', reason: 'monthly patch' },
      { 'x-ms-client-principal-name': 'dana@contoso.com' },
    );
    const id = started.json.id as string;
    const early = await call('GET', `/api/builds/${id}`);
    expect(early.status).toBe(200);
    expect(early.json).toMatchObject({
      id,
      pipeline: 'ubuntu-2204-base',
      reason: 'monthly patch',
      requestedBy: 'dana@contoso.com',
      outcome: 'running',
    });
    expect(early.json.stages.map((s: { name: string }) => s.name)).toEqual(['ENG', 'TEST', 'PROD']);

    await suite.factory.untilApprovalPending(id, 'TEST');
    await suite.factory.decide(id, 'TEST', 'approved', 'erin@contoso.com');
    await suite.factory.untilApprovalPending(id, 'PROD');
    const record = await call('GET', `/api/builds/${id}`);
    expect(record.json.approvals).toEqual([
      expect.objectContaining({
        stage: 'TEST',
        decision: 'approved',
        approver: 'erin@contoso.com',
        changeTicket: 'CHG0012345',
      }),
      expect.objectContaining({ stage: 'PROD', requestedAt: expect.any(String) }),
    ]);
    expect(record.json.approvals[1].decision).toBeUndefined();
    expect(record.json.pendingApproval.stage).toBe('PROD');
    expect(record.json.versions.map((v: { stage: string }) => v.stage)).toEqual(['ENG', 'TEST']);

    const cancel = await call('POST', `/api/builds/${id}/cancel`, { reason: 'superseded' });
    expect(cancel.status).toBe(202);
    await suite.factory.host.waitFor(id);
    const done = await call('GET', `/api/builds/${id}`);
    expect(done.json.outcome).toBe('canceled');
    expect(done.json.failure.message).toContain('superseded');
  });

  it('pages newest first with a continuation token, filtered by pipeline and status', async () => {
    const all = await call('GET', '/api/builds?pipeline=ubuntu-2204-base');
    const ids = all.json.builds.map((b: { id: string }) => b.id) as string[];
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const seen: string[] = [];
    let path = '/api/builds?pipeline=ubuntu-2204-base&top=1';
    for (let pages = 0; pages < 10; pages++) {
      const page = await call('GET', path);
      expect(page.status).toBe(200);
      expect(page.json.builds).toHaveLength(1);
      seen.push(page.json.builds[0].id);
      if (!page.json.continuation) break;
      path = `/api/builds?pipeline=ubuntu-2204-base&top=1&continuation=${page.json.continuation}`;
    }
    expect(seen).toEqual(ids);
    const canceled = await call('GET', '/api/builds?status=canceled');
    expect(canceled.json.builds.length).toBeGreaterThanOrEqual(1);
    for (const build of canceled.json.builds) expect(build.outcome).toBe('canceled');
    const windows = await call('GET', '/api/builds?pipeline=windows-2022-base');
    for (const build of windows.json.builds) expect(build.pipeline).toBe('windows-2022-base');
  });
});
