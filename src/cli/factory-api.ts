/**
 * Where the CLI finds the factory and how it calls it: settings from local.settings.json (Values),
 * overridden by the environment (FACTORY_URL, FACTORY_KEY), so it answers `npm start` with no flags.
 */
import { readFileSync } from 'node:fs';

export type Settings = Record<string, string | undefined>;

export function cliSettings(env: NodeJS.ProcessEnv = process.env, file = 'local.settings.json'): Settings {
  let values: Record<string, string> = {};
  try {
    values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  } catch {
    // No local settings: the environment alone.
  }
  const merged: Settings = { ...values };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) merged[name] = value;
  // Empty means "not set", as in the Functions host.
  for (const [name, value] of Object.entries(merged)) if (value === '') delete merged[name];
  return merged;
}

/** An answer the factory gave that is not a success: its problem title and detail, and each field. */
export class FactoryAnswerError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const problem = body as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
    const fields = (problem?.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join('');
    super(
      `${what}: HTTP ${status}${problem?.title ? ` ${problem.title}` : ''}${problem?.detail ? ` - ${problem.detail}` : ''}${fields}`,
    );
    this.name = 'FactoryAnswerError';
  }
}

export interface FactoryApi {
  base: string;
  get(path: string): Promise<unknown>;
  /** GET that answers undefined for 404 (a build not there). */
  find(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

/** `keyOverride`: another key than the function key (revoke needs the master key, docs/security.md). */
export function factoryApi(settings: Settings, keyOverride?: string): FactoryApi {
  const base = (settings.FACTORY_URL ?? `http://localhost:${settings.LOCAL_HTTP_PORT ?? 7071}`).replace(
    /\/+$/,
    '',
  );
  const key = keyOverride ?? settings.FACTORY_KEY ?? settings.LOCAL_FUNCTION_KEY ?? 'local-dev-key';
  const call = async (method: string, path: string, body?: unknown) => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          'x-functions-key': key,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new Error(
        `cannot reach the factory at ${base} (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message}); is \`npm start\` running, or is FACTORY_URL right?`,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: kept as text for the error.
    }
    return { status: response.status, ok: response.ok, body: parsed };
  };
  const what = (method: string, path: string) => `${method} ${path.split('?')[0]}`;
  return {
    base,
    async get(path) {
      const answer = await call('GET', path);
      if (!answer.ok) throw new FactoryAnswerError(answer.status, answer.body, what('GET', path));
      return answer.body;
    },
    async find(path) {
      const answer = await call('GET', path);
      if (answer.status === 404) return undefined;
      if (!answer.ok) throw new FactoryAnswerError(answer.status, answer.body, what('GET', path));
      return answer.body;
    },
    async post(path, body) {
      const answer = await call('POST', path, body);
      if (!answer.ok) throw new FactoryAnswerError(answer.status, answer.body, what('POST', path));
      return answer.body;
    },
  };
}
