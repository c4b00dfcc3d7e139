/**
 * errors.ts against error bodies Azure really sent (test/adapters/error-corpus.json, each with its
 * source), in the shapes the SDKs throw them:
 * - "rest", AutoRest clients (@azure/core-client: arm-network, -authorization): a RestError whose
 *   response keeps the raw body in `bodyAsText`;
 * - "rest", TypeSpec clients (@azure-rest/core-client: arm-imagebuilder 5, arm-compute 25): a
 *   RestError with `code` and the parsed body, `{ error }`, in `details`, and no `bodyAsText`;
 * - "lro": a failed long-running operation, which @azure/core-lro turns into a plain Error
 *   "The long-running operation has failed. <code>. <message>";
 * - "identity": an @azure/identity error carrying the AADSTS text.
 */
import { RestError, createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { classifyAzureError, type ErrorContext } from '../../src/adapters/errors';
import corpus from './error-corpus.json';

interface ArmBody {
  error: { code: string; message: string; target?: string; details?: unknown[] };
}
interface Entry {
  name: string;
  source: string;
  kind: 'rest' | 'lro' | 'identity';
  status?: number;
  headers?: Record<string, string>;
  body?: ArmBody;
  lroError?: { code: string; message: string };
  errorName?: string;
  message?: string;
  context?: Partial<ErrorContext>;
  expect: { code: string; retryable: boolean; hint: string | false; retryAfterMs?: number };
}

const entries = corpus.entries as Entry[];
const url = 'https://management.azure.com/subscriptions/s/resourceGroups/r?api-version=2025-04-01';

function response(entry: Entry, withText: boolean) {
  const request = createPipelineRequest({ url });
  return {
    request,
    status: entry.status ?? 0,
    headers: createHttpHeaders(entry.headers ?? {}),
    ...(withText ? { bodyAsText: JSON.stringify(entry.body) } : {}),
  };
}

/** The errors an SDK throws for this entry, labelled by shape. */
function thrown(entry: Entry): [string, unknown][] {
  if (entry.kind === 'lro') {
    const e = entry.lroError;
    return [
      ['core-lro', new Error(`The long-running operation has failed. ${e?.code ?? ''}. ${e?.message ?? ''}`)],
    ];
  }
  if (entry.kind === 'identity') {
    const error = new Error(entry.message);
    error.name = entry.errorName ?? 'AuthenticationError';
    return [['identity', error]];
  }
  const body = entry.body as ArmBody;
  const options = { code: body.error.code, statusCode: entry.status };
  const autorest = new RestError(body.error.message, { ...options, response: response(entry, true) });
  const typespec = new RestError(body.error.message, { ...options, response: response(entry, false) });
  typespec.details = { error: body.error };
  return [
    ['AutoRest', autorest],
    ['TypeSpec', typespec],
  ];
}

describe('errors.ts against real Azure error bodies (error-corpus.json)', () => {
  it('every entry names a public source', () => {
    for (const entry of entries)
      expect(entry.source).toMatch(/https:\/\/(github\.com|learn\.microsoft\.com)\//);
  });

  describe.each(entries.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
    it.each(thrown(entry))('thrown by %s: classified as expected', (_shape, error) => {
      const classified = classifyAzureError(error, { operation: 'call Azure', ...entry.context });
      expect(classified.code).toBe(entry.expect.code);
      expect(classified.retryable).toBe(entry.expect.retryable);
      if (entry.expect.retryAfterMs !== undefined)
        expect(classified.retryAfterMs).toBe(entry.expect.retryAfterMs);
      if (entry.expect.hint === false) expect(classified.hint).toBeUndefined();
      else expect(classified.hint).toContain(entry.expect.hint);
    });
  });
});
