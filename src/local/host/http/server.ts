/**
 * Stand-in for the Functions host's HTTP front end: serves the app's captured HTTP triggers on
 * `/api/<route>` (route templates, methods, authLevel keys, body limit), hands each handler a real
 * `HttpRequest` and `InvocationContext`, writes back its `HttpResponse`/`HttpResponseInit`, injects
 * durable client binding data, and serves the Durable Functions HTTP management API under
 * `/runtime/webhooks/durabletask/` (plus the extension's local RPC endpoint, as the real host does
 * for Node apps). See src/local/host/README.md "HTTP front end and timers" for the differences.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, HttpResponse, type Cookie } from '@azure/functions';
import type { CapturedFunction, FunctionRegistry, OrchestrationEngine } from '../contracts';
import {
  RPC_PATH,
  WEBHOOK_PATH,
  durableClientBindingData,
  handleDurableApi,
  type ApiResponse,
  type DurableApiOptions,
} from './durable-api';
import { compareRoutes, matchRoute, parseRouteTemplate, type RouteTemplate } from './routes';

export type InvokeFunction = (
  name: string,
  triggerInput: unknown,
  options: { triggerMetadata?: Record<string, unknown>; extraInputs?: Record<string, unknown> },
) => Promise<unknown>;

export interface HttpFrontEndKeys {
  /** Function name → key accepted for that function (authLevel 'function'). */
  functionKeys: Record<string, string>;
  /** Accepted everywhere (function, admin, durable webhooks). */
  masterKey: string;
  /** Host-level function keys (`default` in Azure): accepted for every authLevel 'function' route. */
  hostKeys?: Record<string, string>;
  /** The durabletask extension's system key, put into webhook URLs as `code=`; random when omitted. */
  durableTaskExtensionKey?: string;
}

export interface HttpFrontEndOptions {
  registry: FunctionRegistry;
  engine: OrchestrationEngine;
  invoke: InvokeFunction;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  host?: '127.0.0.1';
  keys: HttpFrontEndKeys;
  taskHubName: string;
  log?: (line: string) => void;
  /** host.json extensions.http.routePrefix; default 'api'. */
  routePrefix?: string;
  /** Requests with a larger body get 413; default 104857600 (the host's 100 MB). */
  maxRequestBodySize?: number;
  /**
   * Answer for a path that matches a route but not its methods. The brief asks for 405 (the
   * default); the real host's router treats it as no match, i.e. 404.
   */
  wrongMethodStatus?: 404 | 405;
  /**
   * The durable extension's local RPC endpoint (rpcBaseUrl in the client binding), which the real
   * host enables for non-.NET apps; the JS client then uses it instead of the webhook URLs.
   * Default true. When false, set WEBSITE_HOSTNAME to this server's host:port, because
   * df.getClient rewrites the webhook origin to localhost:7071 otherwise (as it does in Azure).
   */
  localRpcEndpoint?: boolean;
  /**
   * Port of the local RPC endpoint. Default 0, a free port: the real host's fixed 17071 made a
   * second host on the machine fail (issue 14). The app learns the port from its binding data.
   */
  rpcPort?: number;
  /** The settings `port` and `rpcPort` come from, named when a port is taken. */
  portSettings?: { http?: string; rpc?: string };
  /** Connection name in management URLs; default 'Storage'. */
  connectionName?: string;
}

export interface HttpFrontEnd {
  /** e.g. http://127.0.0.1:7071 */
  url: string;
  /**
   * e.g. http://127.0.0.1:40123/durabletask/<system key>/ (undefined when disabled): the JS
   * durable client sends no key of its own, so the system key travels in the base URL's path.
   */
  rpcBaseUrl: string | undefined;
  close(): Promise<void>;
}

interface HttpRoute {
  fn: CapturedFunction;
  route: RouteTemplate;
  methods: string[];
  authLevel: 'anonymous' | 'function' | 'admin';
}

const DEFAULT_MAX_BODY = 104_857_600;

class BodyTooLarge extends Error {}

function buildRoutes(registry: FunctionRegistry, routePrefix: string): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const fn of registry.byTriggerType('httpTrigger')) {
    const trigger = fn.trigger;
    const template = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : fn.name;
    const prefixed = routePrefix === '' ? template : `${routePrefix}/${template.replace(/^\/+/, '')}`;
    const methods = Array.isArray(trigger.methods) ? trigger.methods.map((m) => String(m).toUpperCase()) : []; // none listed: every method, as in function.json
    const level = (typeof trigger.authLevel === 'string' ? trigger.authLevel : 'function').toLowerCase();
    if (level !== 'anonymous' && level !== 'function' && level !== 'admin') {
      throw new Error(`Function '${fn.name}': unknown authLevel '${level}'`);
    }
    routes.push({ fn, route: parseRouteTemplate(prefixed), methods, authLevel: level });
  }
  return routes.sort((a, b) => compareRoutes(a.route, b.route));
}

function keyEquals(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined || expected === '') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function presentedKey(url: URL, headers: http.IncomingHttpHeaders): string | undefined {
  const header = headers['x-functions-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader ?? url.searchParams.get('code') ?? undefined;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function formatCookie(cookie: Cookie): string {
  const parts = [`${cookie.name}=${cookie.value}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.path) parts.push(`Path=${cookie.path}`);
  if (cookie.expires !== undefined) {
    const expires = typeof cookie.expires === 'number' ? new Date(cookie.expires) : cookie.expires;
    parts.push(`Expires=${expires.toUTCString()}`);
  }
  if (cookie.maxAge !== undefined) parts.push(`Max-Age=${cookie.maxAge}`);
  if (cookie.secure) parts.push('Secure');
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.sameSite) parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}

function sendApi(res: http.ServerResponse, answer: ApiResponse): void {
  const body = answer.body === undefined ? undefined : Buffer.from(answer.body, 'utf8');
  res.writeHead(answer.status, { ...answer.headers, 'Content-Length': String(body?.length ?? 0) });
  res.end(body);
}

function sendEmpty(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': '0' });
  res.end();
}

async function writeFunctionResult(res: http.ServerResponse, result: unknown): Promise<void> {
  if (result === undefined || result === null) {
    // No value for the http output binding: the host answers an empty 200.
    sendEmpty(res, 200);
    return;
  }
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (response.cookies.length > 0) headers['set-cookie'] = response.cookies.map(formatCookie);
  const body = response.body;
  if (body === null) {
    res.writeHead(response.status, { ...headers, 'content-length': '0' });
    res.end();
    return;
  }
  res.writeHead(response.status, headers);
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

function listen(
  server: http.Server,
  port: number,
  host: string,
  what: string,
  setting: string | undefined,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      // Say which listener, which port and where it was set: EADDRINUSE alone names no cause.
      reject(
        new Error(
          `The ${what} cannot listen on ${host}:${port}: the port is taken by another process` +
            (setting === undefined
              ? ''
              : ` (port set by ${setting}; free it, choose another, or set 0 for any free port)`),
          { cause: error },
        ),
      );
    });
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e ? reject(e) : resolve()));
    server.closeAllConnections();
  });
}

export async function startHttpFrontEnd(options: HttpFrontEndOptions): Promise<HttpFrontEnd> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  const routePrefix = (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
  const maxBody = options.maxRequestBodySize ?? DEFAULT_MAX_BODY;
  const wrongMethodStatus = options.wrongMethodStatus ?? 405;
  const routes = buildRoutes(options.registry, routePrefix);
  const systemKey = options.keys.durableTaskExtensionKey ?? randomBytes(32).toString('base64url');
  const durable: DurableApiOptions = {
    engine: options.engine,
    taskHubName: options.taskHubName,
    connectionName: options.connectionName ?? 'Storage',
    systemKey,
  };
  let rpcBaseUrl: string | undefined;

  const handle = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    origin: string,
  ): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const method = (req.method ?? 'GET').toUpperCase();
    // Never log the query string: it may carry `code=`.
    log(`[http] ${method} ${url.pathname}`);
    const path = url.pathname;

    if (path === WEBHOOK_PATH || path.startsWith(`${WEBHOOK_PATH}/`)) {
      const key = presentedKey(url, req.headers);
      if (!keyEquals(key, systemKey) && !keyEquals(key, options.keys.masterKey)) {
        sendEmpty(res, 401);
        return;
      }
      const body = await readBody(req, maxBody);
      sendApi(
        res,
        await handleDurableApi(durable, {
          method,
          path: path.slice(WEBHOOK_PATH.length),
          query: url.searchParams,
          headers: req.headers,
          body,
          origin,
          url: url.href,
        }),
      );
      return;
    }

    if (path === '/' && (method === 'GET' || method === 'HEAD')) {
      const page = Buffer.from(
        '<html><body>Your Functions 4.0 app is up and running (local host)</body></html>',
      );
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': String(page.length) });
      res.end(method === 'HEAD' ? undefined : page);
      return;
    }

    let segments: string[];
    try {
      segments = path.replace(/^\/+/, '').split('/').map(decodeURIComponent);
    } catch {
      sendEmpty(res, 400);
      return;
    }
    if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
    const candidates = routes
      .map((r) => ({ r, values: matchRoute(r.route, segments) }))
      .filter((c): c is { r: HttpRoute; values: Record<string, string> } => c.values !== undefined);
    if (candidates.length === 0) {
      sendEmpty(res, 404);
      return;
    }
    const chosen = candidates.find((c) => c.r.methods.length === 0 || c.r.methods.includes(method));
    if (chosen === undefined) {
      const allow = [...new Set(candidates.flatMap((c) => c.r.methods))].join(', ');
      sendEmpty(res, wrongMethodStatus, wrongMethodStatus === 405 ? { Allow: allow } : {});
      return;
    }
    const { r: route, values: params } = chosen;

    if (route.authLevel !== 'anonymous') {
      const key = presentedKey(url, req.headers);
      const hostKeys = Object.values(options.keys.hostKeys ?? {});
      const ok =
        keyEquals(key, options.keys.masterKey) ||
        (route.authLevel === 'function' &&
          (keyEquals(key, options.keys.functionKeys[route.fn.name]) ||
            hostKeys.some((k) => keyEquals(key, k))));
      if (!ok) {
        sendEmpty(res, 401);
        return;
      }
    }

    const body = await readBody(req, maxBody);
    const headers = flatHeaders(req.headers);
    const request = new HttpRequest({
      method,
      url: url.href,
      headers,
      params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = value;
    const triggerMetadata: Record<string, unknown> = {
      ...params,
      Query: query,
      Headers: headers,
      sys: {
        MethodName: route.fn.name,
        UtcNow: new Date(options.engine.clock.now()).toISOString(),
        RandGuid: randomUUID(),
      },
    };
    const extraInputs: Record<string, unknown> = {};
    for (const [bindingName, binding] of Object.entries(route.fn.bindings)) {
      if (
        binding.direction === 'in' &&
        (binding.type === 'durableClient' || binding.type === 'orchestrationClient')
      ) {
        extraInputs[bindingName] = durableClientBindingData(durable, origin, rpcBaseUrl);
      }
    }
    let result: unknown;
    try {
      result = await options.invoke(route.fn.name, request, { triggerMetadata, extraInputs });
    } catch (e) {
      log(`[http] ${route.fn.name} failed: ${e instanceof Error ? e.message : String(e)}`);
      sendEmpty(res, 500);
      return;
    }
    try {
      await writeFunctionResult(res, result);
    } catch (e) {
      log(
        `[http] ${route.fn.name} returned an unusable response: ${e instanceof Error ? e.message : String(e)}`,
      );
      if (!res.headersSent) sendEmpty(res, 500);
      else res.destroy();
    }
  };

  const guarded =
    (
      origin: () => string,
      handler: (req: http.IncomingMessage, res: http.ServerResponse, origin: string) => Promise<void>,
    ) =>
    (req: http.IncomingMessage, res: http.ServerResponse): void => {
      handler(req, res, origin()).catch((e: unknown) => {
        if (e instanceof BodyTooLarge) {
          if (!res.headersSent) {
            res.writeHead(413, { 'Content-Length': '0', Connection: 'close' });
            res.end();
          }
          req.resume();
          return;
        }
        log(`[http] internal error: ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) sendEmpty(res, 500);
        else res.destroy();
      });
    };

  let origin = '';
  const server = http.createServer(guarded(() => origin, handle));
  const port = await listen(server, options.port ?? 7071, host, 'HTTP front end', options.portSettings?.http);
  origin = `http://${host}:${port}`;

  let rpcServer: http.Server | undefined;
  let rpcOrigin = '';
  if (options.localRpcEndpoint ?? true) {
    // The extension's LocalHttpListener: loopback only, same handler under /durabletask/. The real
    // one takes no key; here every local user of a shared machine could reach it, and it can start
    // any orchestration, so it requires the system key (issue 14): in the path (how the app's
    // client sends it, from rpcBaseUrl), or as x-functions-key / code= for other callers.
    const rpcPathAfterKey = (url: URL, headers: http.IncomingHttpHeaders): string | undefined => {
      const rest = url.pathname.slice(RPC_PATH.length);
      if (keyEquals(presentedKey(url, headers), systemKey)) return rest;
      const slash = rest.indexOf('/');
      if (slash > 0 && keyEquals(safeDecode(rest.slice(0, slash)), systemKey)) return rest.slice(slash + 1);
      return undefined;
    };
    rpcServer = http.createServer(
      guarded(
        () => rpcOrigin,
        async (req, res) => {
          const url = new URL(req.url ?? '/', rpcOrigin);
          if (!url.pathname.startsWith(RPC_PATH)) {
            log(`[http rpc] ${req.method ?? 'GET'} ${url.pathname}`);
            sendEmpty(res, 404);
            return;
          }
          const apiPath = rpcPathAfterKey(url, req.headers);
          // Never log the key: only the path after it.
          log(`[http rpc] ${req.method ?? 'GET'} ${RPC_PATH}…/${apiPath ?? '(no valid key)'}`);
          if (apiPath === undefined) {
            sendEmpty(res, 401);
            return;
          }
          const body = await readBody(req, maxBody);
          // Links in answers point at the public webhook, as the extension builds them from its webhook URI.
          sendApi(
            res,
            await handleDurableApi(durable, {
              method: (req.method ?? 'GET').toUpperCase(),
              path: apiPath,
              query: url.searchParams,
              headers: req.headers,
              body,
              origin,
              url: url.href,
            }),
          );
        },
      ),
    );
    try {
      const rpcPort = await listen(
        rpcServer,
        options.rpcPort ?? 0,
        host,
        'durable RPC listener',
        options.portSettings?.rpc,
      );
      rpcOrigin = `http://${host}:${rpcPort}`;
      rpcBaseUrl = `${rpcOrigin}${RPC_PATH}${encodeURIComponent(systemKey)}/`;
    } catch (e) {
      await closeServer(server);
      throw e;
    }
  }
  log(`[http] listening on ${origin}${rpcBaseUrl === undefined ? '' : ` (durable RPC ${rpcOrigin})`}`);

  return {
    url: origin,
    rpcBaseUrl,
    async close() {
      await Promise.all([
        closeServer(server),
        rpcServer === undefined ? Promise.resolve() : closeServer(rpcServer),
      ]);
    },
  };
}
