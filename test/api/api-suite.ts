/**
 * The one set-up of the API suites that call the app's HTTP front end with one host key (api,
 * builds-query, drain, overrides-and-secrets): it owns the factory and front end of a describe block
 * (started in beforeAll, stopped in afterAll), the keyed JSON call and the count of instances the
 * engine holds (what "starts nothing" is checked against). What each suite sends and checks stays
 * in the suite.
 */
import type { HttpFrontEnd } from '../../src/local/host/http/server';
import { startFactory, startFrontEnd, type Factory } from '../pipeline/harness';

export interface ApiAnswer {
  status: number;
  /** The parsed body; undefined when empty (or, with tolerateNonJson, not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  headers: Headers;
}

export interface ApiSuiteOptions {
  /** The host key every call sends (x-functions-key). */
  hostKey: string;
  masterKey: string;
  /** Settings on top of the factory's, read in beforeAll (after the suite's own earlier hooks). */
  settings?: () => Record<string, string>;
  /** Answers that are not JSON (HTML pages) get json undefined instead of failing the call. */
  tolerateNonJson?: boolean;
}

/** Registers beforeAll/afterAll in the describe block it is called in. */
export function apiSuite(options: ApiSuiteOptions) {
  let factory: Factory | undefined;
  let front: HttpFrontEnd | undefined;
  beforeAll(async () => {
    factory = await startFactory({}, options.settings?.() ?? {});
    front = await startFrontEnd(factory, { host: options.hostKey, master: options.masterKey });
  });
  afterAll(async () => {
    await front?.close();
    await factory?.stop();
  });
  const parse = (text: string): unknown => {
    if (!options.tolerateNonJson) return text ? JSON.parse(text) : undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const suite = {
    get factory(): Factory {
      if (factory === undefined) throw new Error('the factory starts in beforeAll');
      return factory;
    },
    get front(): HttpFrontEnd {
      if (front === undefined) throw new Error('the front end starts in beforeAll');
      return front;
    },
    /** `body` as JSON, or a string sent as it is; `headers` on top of the key and content type. */
    call: async (
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<ApiAnswer> => {
      const response = await fetch(`${suite.front.url}${path}`, {
        method,
        headers: {
          'x-functions-key': options.hostKey,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, json: parse(text), text, headers: response.headers };
    },
    instanceCount: async (): Promise<number> => (await suite.factory.host.engine.list({})).instances.length,
  };
  return suite;
}
