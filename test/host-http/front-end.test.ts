import { KEYS, useHttpHost } from './helpers';

describe('local host HTTP front end: routes, methods, keys, bodies', () => {
  const { front, log } = useHttpHost({ maxRequestBodySize: 1024 });

  it('serves a route template with an int constraint, an optional parameter, query, headers and body', async () => {
    const res = await fetch(`${front.url}/api/items/42/widget?color=red`, {
      method: 'POST',
      headers: { 'x-custom': 'yes', 'content-type': 'text/plain' },
      body: 'hello body',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-from')).toBe('echo');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({
      method: 'POST',
      params: { id: '42', name: 'widget' },
      query: { color: 'red' },
      header: 'yes',
      body: 'hello body',
      triggerMetadataId: '42',
      functionName: 'echo',
    });
  });

  it('leaves an optional parameter out when the segment is missing', async () => {
    const res = await fetch(`${front.url}/api/items/7`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { params: unknown }).params).toEqual({ id: '7' });
  });

  it('answers 404 when a constraint does not hold, and prefers a literal route over a parameter', async () => {
    expect((await fetch(`${front.url}/api/items/abc`)).status).toBe(404);
    const literal = await fetch(`${front.url}/api/items/special`);
    expect(literal.status).toBe(200);
    expect(await literal.text()).toBe('literal wins');
  });

  it('uses the function name as the default route and writes status, body and cookies back', async () => {
    const res = await fetch(`${front.url}/api/defaultRoute`);
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('made');
    expect(res.headers.get('set-cookie')).toBe('a=b; HttpOnly');
    // Routes are case-insensitive, as in ASP.NET routing.
    expect((await fetch(`${front.url}/api/DEFAULTROUTE`)).status).toBe(201);
  });

  it('answers 404 for unknown paths and 405 with Allow for a method the route does not take', async () => {
    expect((await fetch(`${front.url}/api/nope`)).status).toBe(404);
    expect((await fetch(`${front.url}/elsewhere`)).status).toBe(404);
    const wrong = await fetch(`${front.url}/api/items/special`, { method: 'DELETE' });
    // items/{id:int} does not match 'special', so only the GET-only literal route matches the path.
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
  });

  it('enforces authLevel function: 401 without a key, function key or master key by ?code= or header', async () => {
    const missing = await fetch(`${front.url}/api/secured`);
    expect(missing.status).toBe(401);
    expect(await missing.text()).toBe('');
    expect((await fetch(`${front.url}/api/secured?code=wrong`)).status).toBe(401);
    expect((await fetch(`${front.url}/api/secured?code=${KEYS.functionKeys.secured}`)).status).toBe(200);
    expect(
      (await fetch(`${front.url}/api/secured`, { headers: { 'x-functions-key': KEYS.masterKey } })).status,
    ).toBe(200);
  });

  it('enforces authLevel admin: a function key is not enough, the master key is', async () => {
    const withFunctionKey = await fetch(`${front.url}/api/admin-only?code=${KEYS.functionKeys.secured}`, {
      method: 'DELETE',
    });
    expect(withFunctionKey.status).toBe(401);
    const withMaster = await fetch(`${front.url}/api/admin-only`, {
      method: 'DELETE',
      headers: { 'x-functions-key': KEYS.masterKey },
    });
    expect(withMaster.status).toBe(204);
  });

  it('never writes keys into its log', () => {
    const all = log.join('\n');
    expect(all).toContain('/api/secured');
    expect(all).not.toContain(KEYS.masterKey);
    expect(all).not.toContain(KEYS.functionKeys.secured);
  });

  it('accepts a body up to the limit and answers 413 above it', async () => {
    const ok = await fetch(`${front.url}/api/upload`, { method: 'PUT', body: Buffer.alloc(1024, 1) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ bytes: 1024 });
    const tooBig = await fetch(`${front.url}/api/upload`, { method: 'PUT', body: Buffer.alloc(1025, 1) });
    expect(tooBig.status).toBe(413);
  });

  it('answers 500 with an empty body when the handler throws, and logs the message', async () => {
    const res = await fetch(`${front.url}/api/boom`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
    expect(log.join('\n')).toContain('handler exploded');
  });

  it('answers an empty 200 when the handler returns nothing', async () => {
    const res = await fetch(`${front.url}/api/nothing`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});
