/**
 * ServiceNow adapter: the Change Management API to create normal changes, the Table API to find,
 * read and annotate them. Transient failures (429 with Retry-After, 5xx, refused or reset
 * connections) are retried with exponential back-off on the bridge's clock; anything else throws a
 * ServiceNowError with a stable code. Credentials never appear in errors or logs.
 */
import type { Clock } from './clock';

export type ServiceNowAuth =
  | { kind: 'oauth'; clientId: string; clientSecret: string }
  | { kind: 'basic'; user: string; password: string };

export interface ServiceNowOptions {
  instanceUrl: string;
  auth: ServiceNowAuth;
  clock: Clock;
  /** Back-off: first wait, cap, and how many attempts before giving up (the caller retries later). */
  retry?: { firstDelayMs: number; maxDelayMs: number; attempts: number };
  /** Page size for Table API lists (sysparm_limit). */
  pageSize?: number;
  log?: (line: string) => void;
}

export class ServiceNowError extends Error {
  constructor(
    readonly code: 'ServiceNowUnavailable' | 'ServiceNowAuthFailed' | 'ServiceNowRequestFailed',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ServiceNowError';
  }
}

/** A change as the bridge reads it (Table API, internal values). */
export interface Change {
  sys_id: string;
  number: string;
  state: string;
  approval: string;
  correlation_id: string;
  correlation_display: string;
  description: string;
  sys_updated_on: string;
  sys_updated_by: string;
}

export interface ApproverRecord {
  state: string;
  comments: string;
  sys_updated_on: string;
  'approver.user_name': string;
}

const CHANGE_FIELDS = [
  'sys_id',
  'number',
  'state',
  'approval',
  'correlation_id',
  'correlation_display',
  'description',
  'sys_updated_on',
  'sys_updated_by',
];

/** The Table API's internal date-time format is UTC 'YYYY-MM-DD HH:MM:SS'. */
export const fromGlideTime = (value: string): string => `${value.replace(' ', 'T')}Z`;
export const toGlideTime = (iso: string): string =>
  new Date(iso).toISOString().slice(0, 19).replace('T', ' ');

/** Encoded-query values cannot carry '^' (the AND separator); ids the factory sends never do. */
const queryValue = (value: string): string => {
  if (value.includes('^') || value.includes(',')) throw new Error(`value not usable in a query: ${value}`);
  return value;
};

export class ServiceNowClient {
  private token: { value: string; expires: number } | undefined;
  private readonly retry: { firstDelayMs: number; maxDelayMs: number; attempts: number };
  private readonly base: string;

  constructor(private readonly options: ServiceNowOptions) {
    this.retry = options.retry ?? { firstDelayMs: 1000, maxDelayMs: 60_000, attempts: 8 };
    this.base = options.instanceUrl.replace(/\/+$/, '');
  }

  private async authorization(refresh = false): Promise<string> {
    const { auth } = this.options;
    if (auth.kind === 'basic')
      return `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    if (!refresh && this.token && this.token.expires > this.options.clock.now())
      return `Bearer ${this.token.value}`;
    const response = await this.fetchOnce(`${this.base}/oauth_token.do`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: auth.clientId,
        client_secret: auth.clientSecret,
      }).toString(),
    });
    if (response.status === 400 || response.status === 401 || response.status === 403)
      throw new ServiceNowError(
        'ServiceNowAuthFailed',
        `ServiceNow refused the OAuth client credentials (HTTP ${response.status}): check SERVICENOW_CLIENT_ID/SECRET and that the client-credentials grant is enabled`,
        response.status,
      );
    if (!response.ok) throw this.transient(response.status, 'POST /oauth_token.do');
    const body = (await response.json()) as { access_token?: string; expires_in?: number };
    if (typeof body.access_token !== 'string')
      throw new ServiceNowError('ServiceNowAuthFailed', 'ServiceNow returned no access token');
    // Renew a minute early so a token never expires in flight.
    const lifetimeMs = Math.max(0, (body.expires_in ?? 1800) - 60) * 1000;
    this.token = { value: body.access_token, expires: this.options.clock.now() + lifetimeMs };
    return `Bearer ${body.access_token}`;
  }

  private transient(
    status: number | undefined,
    what: string,
    retryAfterMs?: number,
  ): ServiceNowError & {
    retryAfterMs?: number;
  } {
    const error = new ServiceNowError(
      'ServiceNowUnavailable',
      `${what}: ${status === undefined ? 'no connection' : `HTTP ${status}`}`,
      status,
    ) as ServiceNowError & { retryAfterMs?: number };
    if (retryAfterMs !== undefined) error.retryAfterMs = retryAfterMs;
    return error;
  }

  private async fetchOnce(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch {
      // Refused, reset or DNS failure: the message has no secrets, but keep it generic anyway.
      throw this.transient(undefined, `${init.method ?? 'GET'} ${new URL(url).pathname}`);
    }
  }

  /** One API call with retries; returns the parsed body and the response headers. */
  async call<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ body: T; headers: Headers; status: number }> {
    let delay = this.retry.firstDelayMs;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let error: (ServiceNowError & { retryAfterMs?: number }) | undefined;
      try {
        const response = await this.fetchOnce(`${this.base}${path}`, {
          method,
          headers: {
            authorization: await this.authorization(),
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        if (response.status === 401 && this.options.auth.kind === 'oauth' && !refreshed) {
          // The token may have been revoked or expired early: one fresh token, then give up.
          refreshed = true;
          await this.authorization(true);
          attempt--;
          continue;
        }
        if (response.status === 429 || response.status >= 500) {
          const retryAfter = Number(response.headers.get('retry-after'));
          error = this.transient(
            response.status,
            `${method} ${path.split('?')[0]}`,
            Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
          );
        } else {
          const text = await response.text();
          const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
          if (!response.ok) {
            const detail = (parsed as { error?: { message?: string; detail?: string } } | undefined)?.error;
            throw new ServiceNowError(
              response.status === 401 || response.status === 403
                ? 'ServiceNowAuthFailed'
                : 'ServiceNowRequestFailed',
              `${method} ${path.split('?')[0]}: HTTP ${response.status} ${detail?.message ?? ''}${detail?.detail ? ` (${detail.detail})` : ''}`,
              response.status,
            );
          }
          return { body: parsed as T, headers: response.headers, status: response.status };
        }
      } catch (caught) {
        if (!(caught instanceof ServiceNowError) || caught.code !== 'ServiceNowUnavailable') throw caught;
        error = caught;
      }
      if (attempt >= this.retry.attempts) throw error;
      const wait = Math.max(error.retryAfterMs ?? 0, delay);
      this.options.log?.(`servicenow: ${error.message}; retrying in ${wait} ms (attempt ${attempt})`);
      await this.options.clock.sleep(wait);
      delay = Math.min(delay * 2, this.retry.maxDelayMs);
    }
  }

  /** Every record of a Table API query, page by page (sysparm_limit/offset, following Link rel="next"). */
  async list<T>(table: string, query: string, fields: string[]): Promise<T[]> {
    const out: T[] = [];
    const limit = this.options.pageSize ?? 100;
    let path: string | undefined = `/api/now/table/${table}?${new URLSearchParams({
      sysparm_query: query,
      sysparm_fields: fields.join(','),
      sysparm_limit: String(limit),
      sysparm_offset: '0',
      sysparm_exclude_reference_link: 'true',
    }).toString()}`;
    while (path !== undefined) {
      const page: { body: { result: T[] }; headers: Headers } = await this.call<{ result: T[] }>('GET', path);
      out.push(...page.body.result);
      const next = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get('link') ?? '');
      path = next ? new URL(next[1]!).pathname + new URL(next[1]!).search : undefined;
    }
    return out;
  }

  async findChangeByCorrelationId(correlationId: string): Promise<Change | undefined> {
    const found = await this.list<Change>(
      'change_request',
      `correlation_id=${queryValue(correlationId)}^ORDERBYsys_created_on`,
      CHANGE_FIELDS,
    );
    return found[0];
  }

  async changesWithMarker(marker: string): Promise<Change[]> {
    return this.list<Change>('change_request', `correlation_display=${queryValue(marker)}`, CHANGE_FIELDS);
  }

  async getChange(sysId: string): Promise<Change | undefined> {
    try {
      const { body } = await this.call<{ result: Change }>(
        'GET',
        `/api/now/table/change_request/${encodeURIComponent(sysId)}?sysparm_fields=${CHANGE_FIELDS.join(',')}`,
      );
      return body.result;
    } catch (error) {
      if (error instanceof ServiceNowError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** POST /api/sn_chg_rest/change/normal: fields as name-value pairs; answers { value, display_value } per field. */
  async createNormalChange(fields: Record<string, string>): Promise<{ sys_id: string; number: string }> {
    const { body } = await this.call<{ result: Record<string, { value: string }> }>(
      'POST',
      '/api/sn_chg_rest/change/normal',
      fields,
    );
    const sysId = body.result.sys_id?.value;
    const number = body.result.number?.value;
    if (!sysId || !number)
      throw new ServiceNowError('ServiceNowRequestFailed', 'change created without sys_id/number');
    return { sys_id: sysId, number };
  }

  async updateChange(sysId: string, fields: Record<string, string>): Promise<void> {
    await this.call(
      'PATCH',
      `/api/now/table/change_request/${encodeURIComponent(sysId)}?sysparm_fields=sys_id`,
      fields,
    );
  }

  /** The decided approver records of a change, newest first. */
  async approvers(sysId: string): Promise<ApproverRecord[]> {
    return this.list<ApproverRecord>(
      'sysapproval_approver',
      `sysapproval=${queryValue(sysId)}^stateINapproved,rejected^ORDERBYDESCsys_updated_on`,
      ['state', 'comments', 'sys_updated_on', 'approver.user_name'],
    );
  }

  /** Whether a work note containing `marker` is already on the change (so a note is written once). */
  async hasWorkNote(sysId: string, marker: string): Promise<boolean> {
    const notes = await this.list<{ value: string }>(
      'sys_journal_field',
      `element_id=${queryValue(sysId)}^element=work_notes^valueLIKE${queryValue(marker)}`,
      ['value'],
    );
    return notes.length > 0;
  }
}
