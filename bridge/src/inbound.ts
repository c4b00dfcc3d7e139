/**
 * The small endpoint a ServiceNow outbound REST message (e.g. a business rule on change_request
 * after update of approval or state) calls: POST /servicenow/change-events with {"sys_id": "…"}.
 * The body is only a hint: the bridge re-reads the change from ServiceNow and decides from that,
 * so a forged call can at most make the bridge look at a change early. Authentication: a shared
 * secret in the X-Bridge-Secret header, or basic auth; compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CheckResult } from './bridge';

export type InboundAuth =
  { kind: 'secret'; secret: string } | { kind: 'basic'; user: string; password: string };

export interface InboundEndpoint {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;
// Hashing first makes the comparison length-independent.
const same = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

function authorized(req: IncomingMessage, auth: InboundAuth): boolean {
  if (auth.kind === 'secret') {
    const given = req.headers['x-bridge-secret'];
    return typeof given === 'string' && same(given, auth.secret);
  }
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  return (
    basic !== null && same(Buffer.from(basic[1]!, 'base64').toString('utf8'), `${auth.user}:${auth.password}`)
  );
}

export async function startInboundEndpoint(options: {
  port: number;
  host?: string;
  auth: InboundAuth;
  check: (sysId: string) => Promise<CheckResult>;
  log: (line: string) => void;
}): Promise<InboundEndpoint> {
  const server: Server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/servicenow/change-events')
      return answer(404, { error: 'POST /servicenow/change-events only' });
    if (!authorized(req, options.auth)) {
      options.log('inbound: refused a call without valid credentials');
      return answer(401, { error: 'unauthorized' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      let sysId: unknown;
      try {
        sysId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { sys_id?: unknown }).sys_id;
      } catch {
        sysId = undefined;
      }
      if (typeof sysId !== 'string' || !/^[0-9a-f]{32}$/.test(sysId))
        return answer(400, { error: 'body must be {"sys_id": "<32 hex characters>"}' });
      options.check(sysId).then(
        (result) => answer(200, { result }),
        (error: unknown) => {
          // Polling will look at the change again; ServiceNow may retry the message.
          options.log(
            `inbound: checking ${sysId} failed (${error instanceof Error ? error.message : String(error)})`,
          );
          answer(503, { error: 'not checked now; the bridge polls again' });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/servicenow/change-events`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
