/**
 * The durable RPC listener (the extension's LocalHttpListener, rpcBaseUrl in the client binding):
 * any free port unless one is configured, the system key required, and a clear error naming the
 * port and its setting when a configured port is taken (issue 14 item 2).
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { clientScripts } from './fixtures/http-app';
import { KEYS, startHttpHost, useHttpHost } from './helpers';

const { host, front } = useHttpHost();

test('the RPC listener refuses a request without the system key, and a function or master key is not enough', async () => {
  const origin = new URL(front.rpcBaseUrl!).origin;
  expect(new URL(front.rpcBaseUrl!).port).not.toBe('17071');
  const start = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
  expect((await start(`${origin}/durabletask/orchestrators/quick`)).status).toBe(401);
  expect(
    (await start(`${origin}/durabletask/orchestrators/quick`, { 'x-functions-key': KEYS.masterKey })).status,
  ).toBe(401);
  expect((await start(`${origin}/durabletask/wrong-key/orchestrators/quick`)).status).toBe(401);
  expect((await fetch(`${origin}/durabletask/instances/`)).status).toBe(401);
  // Nothing was started by the refused calls.
  expect((await host.engine.list({})).instances).toHaveLength(0);
  // With the system key (as x-functions-key, for callers other than the app) it works.
  expect(
    (
      await start(`${origin}/durabletask/orchestrators/quick`, {
        'x-functions-key': KEYS.durableTaskExtensionKey,
      })
    ).status,
  ).toBe(202);
});

test("the app's durable client reaches the listener with the key its binding data carries", async () => {
  clientScripts.set('rpc-start', async (client) => {
    const id = await client.startNew('waitForApproval', { input: { who: 'rpc' } });
    return { id, status: (await client.getStatus(id)).runtimeStatus };
  });
  const res = await fetch(`${front.url}/api/client/rpc-start`, { method: 'POST' });
  const body = (await res.json()) as { ok: boolean; value?: { id: string; status: string }; error?: string };
  expect(body.error).toBeUndefined();
  expect(body.value?.status).toMatch(/Pending|Running/);
});

/** A port that was free a moment ago (the front end needs a fixed HTTP port for this case). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

test('two front ends on fixed HTTP ports both start: each RPC listener takes a free port, not 17071', async () => {
  const first = await startHttpHost({ port: await freePort() });
  try {
    const second = await startHttpHost({ port: await freePort() });
    try {
      const ports = [first.front.rpcBaseUrl, second.front.rpcBaseUrl].map((u) => new URL(u!).port);
      expect(ports[0]).not.toBe(ports[1]);
      expect(ports).not.toContain('17071');
    } finally {
      await second.front.close();
      await second.host.stop();
    }
  } finally {
    await first.front.close();
    await first.host.stop();
  }
});

test('a configured RPC port that is taken fails with an error naming the port and the setting', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as AddressInfo).port;
  try {
    await expect(
      startHttpHost({ rpcPort: taken, portSettings: { rpc: 'LOCAL_DURABLE_RPC_PORT' } }),
    ).rejects.toThrow(
      new RegExp(`durable RPC listener cannot listen on 127\\.0\\.0\\.1:${taken}.*LOCAL_DURABLE_RPC_PORT`),
    );
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});
