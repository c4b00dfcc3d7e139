/**
 * A small ServiceNow instance for tests and `npm run bridge`: the parts of the Change Management API,
 * the Table API and the OAuth token endpoint the bridge uses, with the documented field names,
 * states, approval values, error bodies, pagination and rate limiting. Every behaviour and its
 * source is listed in bridge/FIDELITY.md; what it leaves out is listed there too.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A record as the Table API returns it by default: every value a string (internal format). */
export type SimRecord = Record<string, string>;

export interface ServiceNowSimOptions {
  port?: number;
  /** Basic-auth users (user name → password). */
  users?: Record<string, string>;
  /** OAuth clients (client id → { secret, user }): the OAuth Application User the token acts as. */
  oauthClients?: Record<string, { secret: string; user: string }>;
  /** Access token lifetime in seconds (ServiceNow's default is 1800). */
  tokenLifetimeSeconds?: number;
  /** The instance's clock (virtual in tests); milliseconds since the epoch. */
  now?: () => number;
  /**
   * `npm run bridge` only: POST /local/changes/{number}/approve|reject|cancel?by=…&comment=… plays
   * the CAB, since the simulator has no UI. Not a ServiceNow API; off in tests.
   */
  controlRoutes?: boolean;
}

export interface ServiceNowSim {
  url: string;
  port: number;
  /** Records of a table (live objects; tests read them, never write them). */
  table(name: string): SimRecord[];
  /** A CAB member approves / rejects the change (an approver record plus the change's approval). */
  approve(number: string, approver: string, comment?: string): void;
  reject(number: string, approver: string, comment?: string): void;
  /** Someone cancels the change (state 4 Canceled). */
  cancel(number: string, by: string): void;
  workNotes(number: string): string[];
  /** Next answers: `status` for every request until cleared (e.g. 503), or 429 with Retry-After. */
  failWith(status: number | undefined): void;
  rateLimit(count: number, retryAfterSeconds: number): void;
  /** Called after a change is created, before the answer is sent (a test can crash the bridge there). */
  afterCreate?: (change: SimRecord) => void | Promise<void>;
  /** Answers a request with this status instead of handling it, when it returns one (fault injection). */
  intercept?: (method: string, path: string) => number | undefined;
  /** Requests seen (method and path), for assertions on what the bridge called. */
  calls: string[];
  /** Stops listening (connections are refused); `start()` listens on the same port again. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** glide_date_time in the Table API's internal format: UTC, 'YYYY-MM-DD HH:MM:SS'. */
export const glideTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

const failure = (message: string, detail: string) => ({ error: { message, detail }, status: 'failure' });

interface Condition {
  field: string;
  op: '=' | '!=' | 'LIKE' | 'STARTSWITH' | 'IN';
  value: string;
}

/** Encoded queries: conditions joined by ^ (AND); ORDERBY/ORDERBYDESC terms sort. */
function parseQuery(query: string): { conditions: Condition[]; order: { field: string; desc: boolean }[] } {
  const conditions: Condition[] = [];
  const order: { field: string; desc: boolean }[] = [];
  for (const term of query.split('^').filter((t) => t !== '')) {
    if (term.startsWith('ORDERBYDESC')) order.push({ field: term.slice(11), desc: true });
    else if (term.startsWith('ORDERBY')) order.push({ field: term.slice(7), desc: false });
    else {
      const match = /^([a-z_.]+?)(!=|=|LIKE|STARTSWITH|IN)(.*)$/.exec(term);
      if (!match) throw new Error(`unsupported query term ${term}`);
      conditions.push({ field: match[1]!, op: match[2] as Condition['op'], value: match[3]! });
    }
  }
  return { conditions, order };
}

export async function startServiceNowSim(options: ServiceNowSimOptions = {}): Promise<ServiceNowSim> {
  const now = options.now ?? (() => Date.now());
  const users = options.users ?? {};
  const oauthClients = options.oauthClients ?? {};
  const lifetime = options.tokenLifetimeSeconds ?? 1800;
  const tables = new Map<string, SimRecord[]>();
  const tokens = new Map<string, { user: string; expires: number }>();
  let changeCounter = 1000;
  let failStatus: number | undefined;
  let limited: { count: number; retryAfter: number } | undefined;
  const table = (name: string): SimRecord[] => {
    let rows = tables.get(name);
    if (!rows) tables.set(name, (rows = []));
    return rows;
  };
  const sysId = () => randomBytes(16).toString('hex');
  const userRecord = (userName: string): SimRecord => {
    const found = table('sys_user').find((u) => u.user_name === userName);
    if (found) return found;
    const created = { sys_id: sysId(), user_name: userName, name: userName };
    table('sys_user').push(created);
    return created;
  };
  const stamp = (record: SimRecord, by: string) => {
    record.sys_updated_on = glideTime(now());
    record.sys_updated_by = by;
    record.sys_mod_count = String(Number(record.sys_mod_count ?? '0') + 1);
  };
  const journal = (record: SimRecord, tableName: string, element: string, value: string, by: string) =>
    table('sys_journal_field').push({
      sys_id: sysId(),
      name: tableName,
      element_id: record.sys_id!,
      element,
      value,
      sys_created_on: glideTime(now()),
      sys_created_by: by,
    });
  /** Dot-walking on reference fields (approver.user_name) as sysparm_fields and queries allow it. */
  const valueOf = (record: SimRecord, field: string): string => {
    const [head, ...rest] = field.split('.');
    if (rest.length === 0) return record[field] ?? '';
    const ref = head === 'approver' ? table('sys_user').find((u) => u.sys_id === record[head]) : undefined;
    return ref ? valueOf(ref, rest.join('.')) : '';
  };
  const matches = (record: SimRecord, c: Condition): boolean => {
    const v = valueOf(record, c.field);
    switch (c.op) {
      case '=':
        return v === c.value;
      case '!=':
        return v !== c.value;
      case 'LIKE':
        return v.toLowerCase().includes(c.value.toLowerCase());
      case 'STARTSWITH':
        return v.toLowerCase().startsWith(c.value.toLowerCase());
      case 'IN':
        return c.value.split(',').includes(v);
    }
  };
  const project = (record: SimRecord, fields: string[] | undefined): SimRecord => {
    if (!fields) return { ...record };
    const out: SimRecord = {};
    for (const f of fields) out[f] = valueOf(record, f);
    return out;
  };
  const decide = (number: string, approverName: string, state: 'approved' | 'rejected', comment?: string) => {
    const change = table('change_request').find((c) => c.number === number);
    if (!change) throw new Error(`no change ${number}`);
    const approver = userRecord(approverName);
    const record: SimRecord = {
      sys_id: sysId(),
      sysapproval: change.sys_id!,
      source_table: 'change_request',
      approver: approver.sys_id!,
      state,
      comments: comment ?? '',
      sys_created_on: glideTime(now()),
    };
    stamp(record, approverName);
    table('sysapproval_approver').push(record);
    change.approval = state;
    // Approved at Authorize moves a normal change to Scheduled; a rejection returns it to New.
    change.state = state === 'approved' ? '-2' : '-5';
    stamp(change, approverName);
  };

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const authenticate = (req: IncomingMessage): string | undefined => {
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer (.+)$/i.exec(header);
    if (bearer) {
      const token = tokens.get(bearer[1]!);
      return token && token.expires > now() ? token.user : undefined;
    }
    const basic = /^Basic (.+)$/i.exec(header);
    if (!basic) return undefined;
    const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    const expected = users[user ?? ''];
    const given = Buffer.from(rest.join(':'));
    return expected !== undefined &&
      given.length === Buffer.byteLength(expected) &&
      timingSafeEqual(given, Buffer.from(expected))
      ? user
      : undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sim');
    sim.calls.push(`${req.method} ${url.pathname}`);
    const injected = sim.intercept?.(req.method ?? 'GET', url.pathname);
    if (injected !== undefined)
      return send(res, injected, failure('Internal server error', 'injected by the test'));
    // Refused rights are an ACL matter of the APIs; the token endpoint still answers.
    if (failStatus === 403 && url.pathname.startsWith('/api/'))
      return send(res, 403, failure('User Not Authorized', 'Failed API level ACL Validation'));
    if (failStatus !== undefined && failStatus !== 403)
      return send(res, failStatus, failure('Service Unavailable', 'The instance is not available'));
    if (limited && limited.count > 0) {
      limited.count--;
      return send(
        res,
        429,
        failure('Rate limit exceeded', 'Too many requests; retry after the time in Retry-After'),
        { 'retry-after': String(limited.retryAfter) },
      );
    }
    if (options.controlRoutes === true && req.method === 'GET' && url.pathname === '/local/changes')
      return send(res, 200, { result: table('change_request') });
    const control = /^\/local\/changes\/(CHG\d+)\/(approve|reject|cancel)$/.exec(url.pathname);
    if (options.controlRoutes === true && req.method === 'POST' && control) {
      const by = url.searchParams.get('by') ?? 'cab.member';
      const comment = url.searchParams.get('comment') ?? undefined;
      try {
        if (control[2] === 'cancel') sim.cancel(control[1]!, by);
        else decide(control[1]!, by, control[2] === 'approve' ? 'approved' : 'rejected', comment);
      } catch (error) {
        return send(res, 404, failure('No Record found', (error as Error).message));
      }
      return send(res, 200, { result: table('change_request').find((c) => c.number === control[1]) });
    }
    if (req.method === 'POST' && url.pathname === '/oauth_token.do') {
      const form = new URLSearchParams(await readBody(req));
      const client = oauthClients[form.get('client_id') ?? ''];
      if (
        form.get('grant_type') !== 'client_credentials' ||
        !client ||
        client.secret !== form.get('client_secret')
      )
        return send(res, 401, { error_description: 'access_denied', error: 'server_error' });
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, { user: client.user, expires: now() + lifetime * 1000 });
      return send(res, 200, {
        access_token: token,
        scope: 'useraccount',
        token_type: 'Bearer',
        expires_in: lifetime,
      });
    }
    const user = authenticate(req);
    if (user === undefined)
      return send(res, 401, failure('User Not Authenticated', 'Required to provide Auth information'));

    if (req.method === 'POST' && url.pathname === '/api/sn_chg_rest/change/normal') {
      let fields: Record<string, unknown>;
      try {
        fields = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
      } catch {
        return send(res, 400, failure('Exception while reading request', 'The payload is not valid JSON.'));
      }
      const change: SimRecord = {};
      for (const [k, v] of Object.entries(fields)) if (typeof v === 'string') change[k] = v;
      Object.assign(change, {
        sys_id: sysId(),
        number: `CHG${String(++changeCounter).padStart(7, '0')}`,
        type: 'normal',
        state: '-5',
        approval: 'not requested',
        sys_created_on: glideTime(now()),
        sys_created_by: user,
      });
      stamp(change, user);
      const workNote = change.work_notes;
      delete change.work_notes;
      table('change_request').push(change);
      if (workNote) journal(change, 'change_request', 'work_notes', workNote, user);
      await sim.afterCreate?.(change);
      // The Change Management API answers each field as { value, display_value }.
      const result: Record<string, { value: string; display_value: string }> = {};
      for (const [k, v] of Object.entries(change)) result[k] = { value: v, display_value: v };
      return send(res, 200, { result });
    }

    const tablePath = /^\/api\/now\/(?:v1\/)?table\/([a-z_]+)(?:\/([0-9a-f]{32}))?$/.exec(url.pathname);
    if (!tablePath) return send(res, 400, failure('Requested URI does not represent any resource', 'N/A'));
    const [, tableName, id] = tablePath as unknown as [string, string, string | undefined];
    if (!['change_request', 'sysapproval_approver', 'sys_journal_field', 'sys_user'].includes(tableName))
      return send(res, 400, failure('Invalid table ' + tableName, 'N/A'));
    const rows = table(tableName);
    const fields = url.searchParams
      .get('sysparm_fields')
      ?.split(',')
      .filter((f) => f !== '');
    const notFound = () =>
      send(
        res,
        404,
        failure('No Record found', "Record doesn't exist or ACL restricts the record retrieval"),
      );
    if (id !== undefined) {
      const record = rows.find((r) => r.sys_id === id);
      if (!record) return notFound();
      if (req.method === 'GET') return send(res, 200, { result: project(record, fields) });
      if (req.method === 'PATCH' || req.method === 'PUT') {
        let update: Record<string, unknown>;
        try {
          update = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
        } catch {
          return send(res, 400, failure('Exception while reading request', 'The payload is not valid JSON.'));
        }
        for (const [k, v] of Object.entries(update)) {
          if (typeof v !== 'string') continue;
          // Journal fields are not stored on the record: each write is a sys_journal_field entry.
          if (k === 'work_notes' || k === 'comments') journal(record, tableName, k, v, user);
          else record[k] = v;
        }
        stamp(record, user);
        return send(res, 200, { result: project(record, fields) });
      }
      return send(res, 405, failure('Method not Supported', `${req.method} is not supported`));
    }
    if (req.method !== 'GET')
      return send(res, 405, failure('Method not Supported', `${req.method} is not supported`));
    const limitText = url.searchParams.get('sysparm_limit');
    const offsetText = url.searchParams.get('sysparm_offset');
    const limit = limitText === null ? 10000 : Number(limitText);
    const offset = offsetText === null ? 0 : Number(offsetText);
    if (!Number.isInteger(offset) || offset < 0)
      return send(res, 400, failure(`offset is ${offsetText}`, 'Negative offset is not supported'));
    if (!Number.isInteger(limit) || limit < 1)
      return send(res, 400, failure(`limit is ${limitText}`, 'Limit must be a positive number'));
    let query: ReturnType<typeof parseQuery>;
    try {
      query = parseQuery(url.searchParams.get('sysparm_query') ?? '');
    } catch (error) {
      return send(res, 400, failure('Invalid query', (error as Error).message));
    }
    const hits = rows.filter((r) => query.conditions.every((c) => matches(r, c)));
    for (const o of [...query.order].reverse())
      hits.sort((a, b) => (valueOf(a, o.field) < valueOf(b, o.field) ? -1 : 1) * (o.desc ? -1 : 1));
    const page = hits.slice(offset, offset + limit);
    // Link header (first/prev/next/last, prev and next only when they exist) and X-Total-Count.
    const link = (rel: string, at: number) => {
      const u = new URL(url.toString().replace('http://sim', sim.url));
      u.searchParams.set('sysparm_offset', String(at));
      u.searchParams.set('sysparm_limit', String(limit));
      return `<${u.toString()}>;rel="${rel}"`;
    };
    const links = [link('first', 0)];
    if (offset > 0) links.push(link('prev', Math.max(0, offset - limit)));
    if (offset + limit < hits.length) links.push(link('next', offset + limit));
    links.push(link('last', Math.max(0, Math.floor((hits.length - 1) / limit) * limit)));
    const headers: Record<string, string> = { 'x-total-count': String(hits.length) };
    if (hits.length > limit) headers.link = links.join(',');
    return send(res, 200, { result: page.map((r) => project(r, fields)) }, headers);
  };

  let server: Server | undefined;
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer((req, res) => {
        handle(req, res).catch((error: unknown) =>
          send(res, 500, failure('Internal error', error instanceof Error ? error.message : String(error))),
        );
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  server = await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const sim: ServiceNowSim = {
    url: `http://127.0.0.1:${port}`,
    port,
    table,
    approve: (number, approver, comment) => decide(number, approver, 'approved', comment),
    reject: (number, approver, comment) => decide(number, approver, 'rejected', comment),
    cancel: (number, by) => {
      const change = table('change_request').find((c) => c.number === number);
      if (!change) throw new Error(`no change ${number}`);
      change.state = '4';
      stamp(change, by);
    },
    workNotes: (number) => {
      const change = table('change_request').find((c) => c.number === number);
      return table('sys_journal_field')
        .filter((j) => j.element_id === change?.sys_id && j.element === 'work_notes')
        .map((j) => j.value!);
    },
    failWith: (status) => {
      failStatus = status;
    },
    rateLimit: (count, retryAfter) => {
      limited = { count, retryAfter };
    },
    calls: [],
    stop: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    start: async () => {
      if (!server) server = await listen(port);
    },
  };
  return sim;
}
