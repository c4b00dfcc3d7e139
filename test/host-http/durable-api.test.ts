/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are probed field by field */
import type { HttpFrontEnd } from '../../src/local/host/http/server';
import { clientScripts } from './fixtures/http-app';
import { KEYS, useHttpHost } from './helpers';

interface CheckStatus {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

async function runScript(
  front: HttpFrontEnd,
  name: string,
): Promise<{ status: number; body: { ok: boolean; value?: any; error?: string } }> {
  const res = await fetch(`${front.url}/api/client/${name}`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as { ok: boolean; value?: any; error?: string } };
}

describe('Durable HTTP management API through the real durable-functions client', () => {
  const { host, front } = useHttpHost();

  it('injects client binding data with the host JSON shape and a local RPC endpoint', async () => {
    clientScripts.set('binding', (client) =>
      Promise.resolve((client as unknown as { clientData: unknown }).clientData),
    );
    const { body } = await runScript(front, 'binding');
    const data = body.value;
    expect(data.taskHubName).toBe('ImageFactoryHub');
    expect(data.rpcBaseUrl).toBe(front.rpcBaseUrl);
    expect(data.baseUrl).toBe(`${front.url}/runtime/webhooks/durabletask`);
    expect(data.requiredQueryStringParameters).toBe(`code=${KEYS.durableTaskExtensionKey}`);
    // df.getClient rewrites creation/management origins to localhost:7071 when WEBSITE_HOSTNAME
    // is unset, as it does in Azure; the RPC endpoint above is what the client really calls.
    expect(data.creationUrls.createNewInstancePostUri).toBe(
      `http://localhost:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]?code=${KEYS.durableTaskExtensionKey}`,
    );
    expect(data.managementUrls.id).toBe('INSTANCEID');
    expect(data.managementUrls.sendEventPostUri).toBe(
      `http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/raiseEvent/{eventName}?taskHub=ImageFactoryHub&connection=Storage&code=${KEYS.durableTaskExtensionKey}`,
    );
  });

  it('createCheckStatusResponse URLs are followable: status, raise event, completion, purge', async () => {
    const started = await fetch(`${front.url}/api/flows/waitForApproval/approval-1`, {
      method: 'POST',
      body: JSON.stringify({ who: 'alice' }),
    });
    expect(started.status).toBe(202);
    const links = (await started.json()) as CheckStatus;
    expect(links.id).toBe('approval-1');
    expect(started.headers.get('location')).toBe(links.statusQueryGetUri);
    expect(started.headers.get('retry-after')).toBe('10');
    expect(links.statusQueryGetUri).toBe(
      `${front.url}/runtime/webhooks/durabletask/instances/approval-1?taskHub=ImageFactoryHub&connection=Storage&code=${KEYS.durableTaskExtensionKey}`,
    );
    await host.engine.whenIdle();

    const running = await fetch(links.statusQueryGetUri);
    expect(running.status).toBe(202);
    expect(running.headers.get('retry-after')).toBe('5');
    expect(running.headers.get('location')).toBe(links.statusQueryGetUri);
    const runningBody = (await running.json()) as Record<string, unknown>;
    expect(runningBody).toMatchObject({
      name: 'waitForApproval',
      instanceId: 'approval-1',
      runtimeStatus: 'Running',
      input: { who: 'alice' },
      customStatus: { stage: 'waiting', who: 'alice' },
      output: null,
    });
    expect(runningBody.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Without a key the webhook is closed.
    expect((await fetch(links.statusQueryGetUri.replace(/&code=.*$/, ''))).status).toBe(401);

    const raised = await fetch(links.sendEventPostUri.replace('{eventName}', 'Approval'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'bob' }),
    });
    expect(raised.status).toBe(202);
    await host.engine.whenIdle();

    const done = await fetch(`${links.statusQueryGetUri}&showHistory=true&showHistoryOutput=true`);
    expect(done.status).toBe(200);
    const doneBody = (await done.json()) as {
      runtimeStatus: string;
      output: unknown;
      historyEvents: { EventType: string }[];
    };
    expect(doneBody.runtimeStatus).toBe('Completed');
    expect(doneBody.output).toEqual({ approved: { by: 'bob' }, who: 'alice' });
    expect(doneBody.historyEvents.map((e) => e.EventType)).toContain('EventRaised');

    // A finished instance: raising an event or terminating answers 410 Gone.
    const late = await fetch(links.sendEventPostUri.replace('{eventName}', 'Approval'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(late.status).toBe(410);
    expect((await fetch(links.terminatePostUri.replace('{text}', 'late'), { method: 'POST' })).status).toBe(
      410,
    );

    const purged = await fetch(links.purgeHistoryDeleteUri, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
    expect((await fetch(links.statusQueryGetUri)).status).toBe(404);
  });

  it('rejects a raised event that is not JSON content, and a second start of a running instance', async () => {
    const started = await fetch(`${front.url}/api/flows/waitForApproval/approval-2`, {
      method: 'POST',
      body: '{"who":"carol"}',
    });
    const links = (await started.json()) as CheckStatus;
    await host.engine.whenIdle();
    const wrongType = await fetch(links.sendEventPostUri.replace('{eventName}', 'Approval'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'yes',
    });
    expect(wrongType.status).toBe(400);
    const again = await fetch(
      `${front.url}/runtime/webhooks/durabletask/orchestrators/waitForApproval/approval-2?code=${KEYS.masterKey}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"who":"x"}' },
    );
    expect(again.status).toBe(409);
    const unknown = await fetch(
      `${front.url}/runtime/webhooks/durabletask/orchestrators/noSuchThing?code=${KEYS.masterKey}`,
      {
        method: 'POST',
      },
    );
    expect(unknown.status).toBe(400);
    // Purging a running instance is refused with 412.
    expect((await fetch(links.purgeHistoryDeleteUri, { method: 'DELETE' })).status).toBe(412);
    const terminated = await fetch(links.terminatePostUri.replace('{text}', 'cleanup'), { method: 'POST' });
    expect(terminated.status).toBe(202);
  });

  it("client.startNew's version reaches the instance (ExecutionStarted.Version, context.df.version)", async () => {
    clientScripts.set('versioned', (client) =>
      client.startNew('quick', { instanceId: 'versioned-1', input: 'Vera', version: '2.5.0' }),
    );
    const { body } = await runScript(front, 'versioned');
    expect(body.value).toBe('versioned-1');
    await host.engine.whenIdle();
    const status = await host.getStatus('versioned-1', { showHistory: true });
    expect(status?.history?.find((event) => event.EventType === 'ExecutionStarted')).toMatchObject({
      Version: '2.5.0',
    });
  });
  it.each([
    ['a leading @', '%40entity', 'must not start with @'],
    ['a #', 'a%23b', 'must not contain /, \\, #, ?, or control characters'],
    ['a ?', 'a%3Fb', 'must not contain /, \\, #, ?, or control characters'],
    ['a backslash', 'a%5Cb', 'must not contain /, \\, #, ?, or control characters'],
    ['a CR/LF', 'a%0D%0Ab', 'must not contain /, \\, #, ?, or control characters'],
    ['an ANSI escape', 'a%1B%5B2Jb', 'must not contain /, \\, #, ?, or control characters'],
    ['257 characters', 'x'.repeat(257), 'must not exceed 256 characters'],
  ])(
    'refuses to start an instance id with %s, as the extension does, and starts nothing',
    async (_n, id, says) => {
      const before = (await host.engine.list({})).instances.length;
      const res = await fetch(
        `${front.url}/runtime/webhooks/durabletask/orchestrators/waitForApproval/${id}?code=${KEYS.masterKey}`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"who":"x"}' },
      );
      expect(res.status).toBe(400);
      const body = (await res.json()) as { Message: string; ExceptionMessage: string };
      expect(body.Message).toBe('One or more of the arguments submitted is incorrect');
      expect(body.ExceptionMessage).toContain(says);
      expect((await host.engine.list({})).instances.length).toBe(before);
    },
  );

  it('client code works unchanged: startNew, getStatus, raiseEvent, terminate, getStatusBy/All, purge', async () => {
    clientScripts.set('lifecycle', async (client) => {
      const a = await client.startNew('waitForApproval', { instanceId: 'life-a', input: { who: 'dora' } });
      const b = await client.startNew('waitForApproval', { input: { who: 'eve' } });
      const c = await client.startNew('quick', { input: 'Frank' });
      await host.engine.whenIdle();
      const running = await client.getStatus(a, { showInput: false });
      await client.raiseEvent(a, 'Approval', 'ok');
      await client.terminate(b, 'not needed');
      await host.engine.whenIdle();
      const afterA = await client.getStatus(a, { showHistory: true, showHistoryOutput: true });
      const afterB = await client.getStatus(b);
      const afterC = await client.getStatus(c);
      const completed = await client.getStatusBy({ runtimeStatus: ['Completed' as never] });
      const all = await client.getStatusAll();
      const purge = await client.purgeInstanceHistory(c);
      let missing = '';
      try {
        await client.getStatus('no-such-instance');
      } catch (e) {
        missing = (e as Error).message;
      }
      let raiseMissing = '';
      try {
        await client.raiseEvent('no-such-instance', 'Approval', 1);
      } catch (e) {
        raiseMissing = (e as Error).message;
      }
      return {
        running,
        afterA,
        afterB,
        afterC,
        completed,
        all,
        purge,
        missing,
        raiseMissing,
        ids: [a, b, c],
      };
    });
    const { status, body } = await runScript(front, 'lifecycle');
    expect(body.error).toBeUndefined();
    expect(status).toBe(200);
    const v = body.value;
    expect(v.ids[0]).toBe('life-a');
    expect(v.ids[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(v.running.runtimeStatus).toBe('Running');
    // Over the RPC endpoint the 3.5.0 client only sends showInput when it is true, so input stays.
    expect(v.running.input).toEqual({ who: 'dora' });
    expect(v.afterA.runtimeStatus).toBe('Completed');
    expect(v.afterA.output).toEqual({ approved: 'ok', who: 'dora' });
    expect(v.afterB.runtimeStatus).toBe('Terminated');
    expect(v.afterB.output).toBe('not needed');
    // String inputs reach activities JSON-encoded once more, as with the real host (platform facts).
    expect(v.afterC.output).toBe('Hello "Frank"');
    const completedIds = (v.completed as { instanceId: string }[]).map((s) => s.instanceId);
    expect(completedIds).toEqual(expect.arrayContaining(['life-a', v.ids[2]]));
    expect(completedIds).not.toContain(v.ids[1]);
    expect((v.all as unknown[]).length).toBeGreaterThanOrEqual(3);
    expect(v.purge).toEqual({ instancesDeleted: 1 });
    expect(v.missing).toContain('HTTP 404');
    expect(v.raiseMissing).toBe("No instance with ID 'no-such-instance' found.");
  });

  it('pages a list with top and the x-ms-continuation-token header, which getStatusAll follows', async () => {
    const base = `${front.url}/runtime/webhooks/durabletask/instances/?code=${KEYS.masterKey}`;
    const everything = (await (await fetch(base)).json()) as { instanceId: string }[];
    expect(everything.length).toBeGreaterThanOrEqual(3);
    const first = await fetch(`${base}&top=2`);
    const token = first.headers.get('x-ms-continuation-token');
    expect(token).toBeTruthy();
    const page1 = (await first.json()) as { instanceId: string }[];
    expect(page1).toHaveLength(2);
    const second = await fetch(`${base}&top=2`, { headers: { 'x-ms-continuation-token': token ?? '' } });
    const page2 = (await second.json()) as { instanceId: string }[];
    expect(page2[0]?.instanceId).toBe(everything[2]?.instanceId);
    const noInput = (await (await fetch(`${base}&showInput=false`)).json()) as { input: unknown }[];
    expect(noInput.every((s) => s.input === null)).toBe(true);
    expect(everything.some((s) => (s as { input?: unknown }).input !== null)).toBe(true);
    const filtered = (await (await fetch(`${base}&runtimeStatus=Terminated`)).json()) as {
      runtimeStatus: string;
    }[];
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((s) => s.runtimeStatus === 'Terminated')).toBe(true);
  });
});

describe('Durable client without the local RPC endpoint (webhook URLs)', () => {
  const saved = process.env.WEBSITE_HOSTNAME;
  // Declared before useHttpHost: afterAll hooks run in declaration order, so the setting is put
  // back before the host stops.
  afterAll(() => {
    if (saved === undefined) delete process.env.WEBSITE_HOSTNAME;
    else process.env.WEBSITE_HOSTNAME = saved;
  });
  const { host, front } = useHttpHost({ localRpcEndpoint: false });
  beforeAll(() => {
    // As in Azure: df.getClient keeps the webhook origin only when WEBSITE_HOSTNAME names the app.
    process.env.WEBSITE_HOSTNAME = new URL(front.url).host;
  });

  it('starts, queries and terminates through creationUrls and managementUrls', async () => {
    expect(front.rpcBaseUrl).toBeUndefined();
    clientScripts.set('webhooks', async (client) => {
      const id = await client.startNew('waitForApproval', { input: { who: 'gus' } });
      await host.engine.whenIdle();
      const running = await client.getStatus(id);
      await client.terminate(id, 'stop');
      await host.engine.whenIdle();
      const after = await client.getStatus(id);
      const listed = await client.getStatusBy({ runtimeStatus: ['Terminated' as never] });
      return {
        rpc: (client as unknown as { clientData: { rpcBaseUrl?: string } }).clientData.rpcBaseUrl ?? null,
        running,
        after,
        listed,
      };
    });
    const { body } = await runScript(front, 'webhooks');
    expect(body.error).toBeUndefined();
    expect(body.value.rpc).toBeNull();
    expect(body.value.running.runtimeStatus).toBe('Running');
    expect(body.value.after.runtimeStatus).toBe('Terminated');
    expect(body.value.listed).toHaveLength(1);
  });

  it("answers a failed instance's status with the host's output, 500 only when asked", async () => {
    const id = await host.startNew('explodes');
    await host.waitFor(id);
    const url = `${front.url}/runtime/webhooks/durabletask/instances/${id}?code=${KEYS.durableTaskExtensionKey}`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { runtimeStatus: string; output: unknown };
    // OutOfProcOrchestrationShim: "Orchestrator function '<name>' failed: <error>".
    expect(body).toMatchObject({
      runtimeStatus: 'Failed',
      output: "Orchestrator function 'explodes' failed: kaboom",
    });
    expect((await fetch(`${url}&returnInternalServerErrorOnFailure=true`)).status).toBe(500);
  });
});
