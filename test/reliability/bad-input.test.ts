/**
 * Bad input (issue 7): hundreds of generated malformed inputs thrown at the real product, each of
 * which must get a clear, specific refusal and change nothing.
 *
 * 1. The HTTP API through the local host's front end (the unmodified app, the real durable client):
 *    a 4xx, never a 5xx; body problems as application/problem+json naming the field; no answer
 *    repeats a 10k-character input or a key; no orchestration is started.
 * 2. Pipeline definitions: the examples in pipelines/ mutated field by field and run through the
 *    real loader; each is refused with a problem at the mutated field.
 * 3. Approval decisions through the real decision handler, against a real build waiting for its
 *    TEST approval on the local host: forged, unsigned, mismatched, late, malformed and replayed
 *    decisions raise nothing, each refusal goes to the rejects queue with its reason.
 *
 * Cases come from a seeded generator (bad-input-generator.ts); the seed is in every test name.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { HttpFrontEnd } from '../../src/local/host/http/server';
import { parsePipelineText } from '../../src/domain/pipeline/loader';
import { loadEnvironments } from '../../src/domain/pipeline/environments';
import {
  createDecisionHandler,
  toDecisionEvent,
  type BuildAccess,
  type Refusal,
} from '../../src/domain/approvals';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { ApprovalRequest, RaisedApprovalDecision } from '../../src/ports/approvals';
import { EXAMPLE_PIPELINE_SETTINGS, startFactory, startFrontEnd, type Factory } from '../pipeline/harness';
import { SecretsScan } from '../pipeline/secrets-scan';
import {
  generateDecisionCases,
  generateDefinitionCases,
  generateHttpCases,
  seedFromEnvironment,
  seededRandom,
  type HttpCase,
} from './bad-input-generator';

const SEED = seedFromEnvironment();
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const keyRandom = seededRandom(SEED ^ 0x5eed);
const FUNCTION_KEY = `fk_${keyRandom.letters(40, BASE64URL)}`;
const MASTER_KEY = `mk_${keyRandom.letters(40, BASE64URL)}`;
const SIGNING_KEY = Buffer.from(Array.from({ length: 32 }, () => keyRandom.int(256)));
/** The host's own body limit, kept small so a body over it is quick to send (the default is 100 MB). */
const FRONT_END_BODY_LIMIT = 1024 * 1024;
const PIPELINES_DIR = path.resolve(__dirname, '../../pipelines');
const PIPELINE_NAMES = ['ubuntu-2204-base', 'windows-2022-base'];

/** Settings the example pipelines refer to (the harness's), and a secret. */
const definitionEnv: Record<string, string> = {
  ...EXAMPLE_PIPELINE_SETTINGS,
  FACTORY_CLIENT_SECRET: `Zq8~${keyRandom.letters(36, BASE64URL)}`,
};
const examples = Object.fromEntries(
  PIPELINE_NAMES.map((name) => [
    name,
    parseYaml(readFileSync(path.join(PIPELINES_DIR, `${name}.yaml`), 'utf8')) as Record<string, unknown>,
  ]),
);

const httpCases = generateHttpCases(seededRandom(SEED), {
  pipelines: PIPELINE_NAMES,
  stages: ['ENG', 'TEST', 'PROD'],
  keys: [FUNCTION_KEY, MASTER_KEY],
});
/** The factory's target environments: the definitions are checked against their gates too. */
const environments = loadEnvironments(
  path.join(PIPELINES_DIR, '..', 'environments.yaml'),
  definitionEnv,
).environments!;
const definitionCases = generateDefinitionCases(seededRandom(SEED + 1), examples, definitionEnv);
/** The decision cases need the live request; their number does not depend on it. */
const SAMPLE_REQUEST: ApprovalRequest = {
  requestId: 'b-1:TEST:1',
  buildId: 'b-1',
  pipeline: 'ubuntu-2204-base',
  stage: 'TEST',
  imageVersion: '2026.1110.0600',
  recipeHash: 'sha256:0',
  testSummary: 'ok',
  requestedAt: '2026-11-10T06:00:00.000Z',
  deadline: '2026-11-12T06:00:00.000Z',
};
const decisionCaseCount = generateDecisionCases(
  seededRandom(SEED + 2),
  SAMPLE_REQUEST,
  SIGNING_KEY,
  SAMPLE_REQUEST.requestedAt,
).length;
/** Replays of an accepted decision, counted with the generated cases (see the last test). */
const REPLAY_COUNT = 5;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Raw HTTP, so that any header, byte or announced length goes out exactly as the case says. */
function send(front: HttpFrontEnd, c: HttpCase): Promise<Answer> {
  const url = new URL(front.url);
  const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
  const headers: Record<string, string> = { ...c.headers };
  // Revoke is authLevel admin (docs/security.md): its cases carry the master key.
  const validKey = /\/revoke$/.test(c.path.split('?')[0] ?? '') ? MASTER_KEY : FUNCTION_KEY;
  if (c.functionKey !== null) headers['x-functions-key'] = c.functionKey ?? validKey;
  if (body !== undefined) headers['content-length'] = String(c.declaredLength ?? body.length);
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = http.request(
      { host: url.hostname, port: url.port, method: c.method, path: c.path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          answered = true;
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          });
          request.destroy();
        });
      },
    );
    // The front end may close the connection once it has refused a body it did not read whole.
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body !== undefined) request.write(body);
    // A body shorter than announced stays open: the front end must refuse it on the announcement.
    if (c.declaredLength === undefined) request.end();
  });
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: { path: string; message: string }[];
}

describe(`bad input (seed ${SEED}; BAD_INPUT_SEED=${SEED} replays it)`, () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  const scan = new SecretsScan();

  beforeAll(async () => {
    factory = await startFactory(
      {},
      {
        APPROVAL_SIGNING_KEY: `base64:${SIGNING_KEY.toString('base64')}`,
        // Hundreds of requests with one key; the rate limit has its own suite (test/api/abuse*.test.ts).
        API_RATE_LIMIT_BURST: '10000',
      },
    );
    front = await startFrontEnd(
      factory,
      { host: FUNCTION_KEY, master: MASTER_KEY },
      { maxRequestBodySize: FRONT_END_BODY_LIMIT },
    );
    scan.addFactorySecrets(factory);
    scan.addSecret('function key', FUNCTION_KEY);
    scan.addSecret('master key', MASTER_KEY);
  });
  afterAll(async () => {
    await front?.close();
    await factory?.stop();
  });
  const instanceCount = async () => (await factory.host.engine.list({})).instances.length;

  test('at least 200 generated malformed inputs', () => {
    const counts = {
      http: httpCases.length,
      definitions: definitionCases.length,
      decisions: decisionCaseCount + REPLAY_COUNT,
    };
    // Each family keeps its share, so one cannot shrink behind the others' growth.
    expect(counts.http).toBeGreaterThanOrEqual(150);
    expect(counts.definitions).toBeGreaterThanOrEqual(150);
    expect(counts.decisions).toBeGreaterThanOrEqual(60);
    expect(counts.http + counts.definitions + counts.decisions).toBeGreaterThanOrEqual(200);
  });

  describe('HTTP API', () => {
    let inventoryBefore: number;
    beforeAll(() => {
      inventoryBefore = factory.sim.inventory().length;
    });

    it.each(httpCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const answer = await send(front, c);
      scan.record(`${c.method} ${c.path.slice(0, 80)} → ${answer.status}`, answer);
      expect(answer.status).toBe(c.status);
      if (c.answer === 'problem') {
        expect(answer.headers['content-type']).toMatch(/^application\/problem\+json\b/);
        const problem = JSON.parse(answer.text) as Problem;
        expect(problem).toMatchObject({ status: c.status, title: expect.any(String) as unknown });
        expect(problem.detail.length).toBeGreaterThan(10);
        for (const error of problem.errors) expect(error.message.length).toBeGreaterThan(2);
        const paths = problem.errors.map((e) => e.path);
        if (c.errorPath !== undefined) {
          const expected = c.errorPath;
          if (c.errorPathIsPrefix) {
            expect(paths.some((p) => p.startsWith(expected) && p.length < 200)).toBe(true);
          } else expect(paths).toContain(expected);
        }
        if (c.detail !== undefined) expect(problem.detail).toMatch(c.detail);
      }
      const everything = `${JSON.stringify(answer.headers)}\n${answer.text}`;
      for (const input of c.mustNotEcho) expect(everything.includes(input)).toBe(false);
      expect(everything.includes(FUNCTION_KEY) || everything.includes(MASTER_KEY)).toBe(false);
      expect(await instanceCount()).toBe(0);
    });

    it('started nothing, created nothing in Azure and let no key or secret out', () => {
      expect(factory.sim.inventory().length).toBe(inventoryBefore);
      expect(scan.findings()).toEqual([]);
      // A scan that could not find a planted secret would prove nothing.
      expect(scan.selfCheck()).toEqual([]);
    });
  });

  describe('pipeline definitions', () => {
    const fileOf = (base: string, format: 'yaml' | 'json', doc: unknown) => ({
      name: `${base}.${format}`,
      text: format === 'json' ? JSON.stringify(doc) : toYaml(doc),
    });

    it.each(PIPELINE_NAMES.flatMap((base) => [[base, 'yaml'] as const, [base, 'json'] as const]))(
      'the unmutated %s is valid as %s (the mutations alone make the cases fail)',
      (base, format) => {
        const file = fileOf(base, format, examples[base]);
        expect(parsePipelineText(file.text, file.name, definitionEnv, environments).problems).toEqual([]);
      },
    );

    it.each(definitionCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const doc = structuredClone(examples[c.base]) as Record<string, unknown>;
      c.edit(doc);
      const file = fileOf(c.base, c.format, doc);
      const { definition, problems } = parsePipelineText(file.text, file.name, definitionEnv, environments);
      expect(definition).toBeUndefined();
      const atField = problems.filter((p) => p.path === c.path);
      expect(atField).not.toEqual([]);
      if (c.message !== undefined) {
        const pattern = c.message;
        expect(atField.some((p) => pattern.test(p.message))).toBe(true);
      }
      const text = JSON.stringify(problems);
      for (const input of c.mustNotEcho) expect(text.includes(input)).toBe(false);
      expect(text.includes(definitionEnv.FACTORY_CLIENT_SECRET!)).toBe(false);
    });
  });

  describe('approval decisions', () => {
    const rejected: { body: unknown; refusal: Refusal }[] = [];
    const raised: RaisedApprovalDecision[] = [];
    let buildId: string;
    let pending: ApprovalRequest;
    /** The Durable far end of the handler: the real build on the local host. */
    const builds: BuildAccess = {
      getBuildStatus: async (id) => (await factory.host.getStatus(id))?.customStatus ?? undefined,
      raiseEvent: async (id, name, decision) => {
        raised.push(decision);
        await factory.host.raiseEvent(id, name, decision);
      },
    };
    const handlerAt = (now: () => string) =>
      createDecisionHandler({
        sendToRejects: (body, refusal) => {
          rejected.push({ body, refusal });
          return Promise.resolve();
        },
        signingKey: SIGNING_KEY,
        now,
        log: () => undefined,
      });
    const virtualNow = () => new Date(factory.clock.now()).toISOString();

    beforeAll(async () => {
      const ubuntu = factory.pipelines.get('ubuntu-2204-base')!;
      buildId = await factory.start(ubuntu);
      const status = await factory.untilApprovalPending(buildId, 'TEST');
      pending = status.pendingApproval!;
    });

    /** Refusals that did not come out as the case said, by name (empty when all did). */
    async function refuseAll(
      handle: ReturnType<typeof createDecisionHandler>,
      cases: ReturnType<typeof generateDecisionCases>,
      lateHandle: ReturnType<typeof createDecisionHandler>,
    ): Promise<string[]> {
      const wrong: string[] = [];
      for (const [index, c] of cases.entries()) {
        const before = rejected.length;
        const messageId = `m-${index}`;
        const evaluation = await (c.late ? lateHandle : handle)(c.body, { messageId }, builds);
        const kept = rejected.slice(before);
        const refusal = kept[0]?.refusal;
        const problems = [
          evaluation.accept ? 'accepted' : evaluation.reason !== c.reason && `reason ${evaluation.reason}`,
          kept.length !== 1 && `${kept.length} messages sent to rejects`,
          kept[0] !== undefined && kept[0].body !== c.body && 'rejects got another body',
          refusal !== undefined && refusal.reason !== c.reason && `rejects reason ${refusal.reason}`,
          refusal !== undefined && refusal.originalMessageId !== messageId && 'no original message id',
          c.detail !== undefined && !refusal?.detail.includes(c.detail) && `detail '${refusal?.detail}'`,
          c.mustNotEcho.some((input) => refusal?.detail.includes(input)) && 'detail repeats the input',
          refusal?.detail.includes(SIGNING_KEY.toString('base64')) && 'detail shows the signing key',
        ].filter((p): p is string => typeof p === 'string');
        if (problems.length > 0)
          wrong.push(`${c.name}: expected ${c.reason}; ${problems.join(', ').slice(0, 300)}`);
      }
      return wrong;
    }

    it('forged, unsigned, mismatched, late and malformed decisions raise nothing; each refusal is kept', async () => {
      const cases = generateDecisionCases(seededRandom(SEED + 2), pending, SIGNING_KEY, virtualNow());
      expect(cases.length).toBe(decisionCaseCount);
      const afterDeadline = new Date(Date.parse(pending.deadline) + 60_000).toISOString();
      const wrong = await refuseAll(
        handlerAt(virtualNow),
        cases,
        handlerAt(() => afterDeadline),
      );
      expect({ seed: SEED, wrong }).toEqual({ seed: SEED, wrong: [] });
      expect(raised).toEqual([]);
      const status = await factory.host.getStatus(buildId);
      expect(status?.runtimeStatus).toBe('Running');
      expect((status?.customStatus as BuildCustomStatus).pendingApproval).toEqual(pending);
      // Driving on does not deliver anything that was refused: the build still waits for TEST.
      const after = await factory.untilApprovalPending(buildId, 'TEST');
      expect(after.pendingApproval).toEqual(pending);
    });

    it('a replayed decision is refused as a duplicate, by the same handler and by a restarted one', async () => {
      const handle = handlerAt(virtualNow);
      const decision = {
        requestId: pending.requestId,
        buildId: pending.buildId,
        stage: pending.stage,
        imageVersion: pending.imageVersion,
        decision: 'approved' as const,
        approver: 'jane.doe',
        changeTicket: 'CHG0012345',
        decidedAt: virtualNow(),
      };
      const event = toDecisionEvent(decision, {
        id: 'evt-accepted',
        source: '/servicenow/change',
        time: virtualNow(),
        signingKey: SIGNING_KEY,
      });
      const accepted = await handle(event, { messageId: 'm-accepted' }, builds);
      expect(accepted.accept).toBe(true);
      expect(raised).toHaveLength(1);
      const next = await factory.untilApprovalPending(buildId, 'PROD');
      expect(next.pendingApproval?.stage).toBe('PROD');

      const restarted = handlerAt(virtualNow);
      const rejection = toDecisionEvent(
        { ...decision, decision: 'rejected' },
        {
          id: 'evt-late-mind-change',
          source: '/servicenow/change',
          time: virtualNow(),
          signingKey: SIGNING_KEY,
        },
      );
      const replays: [string, ReturnType<typeof createDecisionHandler>, unknown][] = [
        ['same event, same handler', handle, event],
        ['same event as JSON text', handle, JSON.stringify(event)],
        ['same event, restarted handler', restarted, event],
        ['same event as bytes, restarted handler', restarted, Buffer.from(JSON.stringify(event))],
        ['another signed decision for the decided request', restarted, rejection],
      ];
      expect(replays).toHaveLength(REPLAY_COUNT);
      const before = rejected.length;
      for (const [name, handler, body] of replays) {
        const evaluation = await handler(body, { messageId: `replay ${name}` }, builds);
        expect({ name, evaluation }).toMatchObject({
          name,
          evaluation: { accept: false, reason: 'duplicate' },
        });
      }
      expect(rejected.slice(before).map((r) => r.refusal.reason)).toEqual(
        Array(REPLAY_COUNT).fill('duplicate'),
      );
      expect(raised).toHaveLength(1);
      const status = await factory.host.getStatus(buildId);
      expect(status?.runtimeStatus).toBe('Running');
      expect((status?.customStatus as BuildCustomStatus).pendingApproval).toEqual(next.pendingApproval);
    });
  });
});
