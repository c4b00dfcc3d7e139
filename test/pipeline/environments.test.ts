/**
 * The factory's target environments (environments.yaml) own the gates: a pipeline stage names its
 * environment, inherits its gates and may add to them, never weaken them (refused at load, with
 * a specific message); admission refuses a definition that does.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { loadPipelines, loadPipelinesOrThrow, parsePipelineText } from '../../src/domain/pipeline/loader';
import {
  environmentsJsonSchema,
  loadEnvironments,
  parseEnvironmentsText,
  type Environments,
} from '../../src/domain/pipeline/environments';
import { admitBuild, definitionDigest } from '../../src/domain/pipeline/admission';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import { isFactoryError } from '../../src/shared/errors';
import { environmentsSchemaJson, ENVIRONMENTS_SCHEMA_FILE } from '../../scripts/generate-schemas';
import { EXAMPLE_PIPELINE_SETTINGS } from './harness';

const ROOT = path.resolve(__dirname, '../..');
const PIPELINES_DIR = path.join(ROOT, 'pipelines');
const ENVIRONMENTS_FILE = path.join(ROOT, 'environments.yaml');

const env: Record<string, string> = { ...EXAMPLE_PIPELINE_SETTINGS, ENVIRONMENTS_FILE };

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ubuntu = (): Doc =>
  parseYaml(readFileSync(path.join(PIPELINES_DIR, 'ubuntu-2204-base.yaml'), 'utf8')) as Doc;

function environments(): Environments {
  const loaded = loadEnvironments(ENVIRONMENTS_FILE, env);
  expect(loaded.problems).toEqual([]);
  return loaded.environments!;
}

/** Problems of an edited ubuntu-2204-base, loaded against the factory's environments. */
function problemsOf(edit: (doc: Doc) => void): string[] {
  const doc = ubuntu();
  edit(doc);
  const { definition, problems } = parsePipelineText(
    stringify(doc),
    'ubuntu-2204-base.yaml',
    env,
    environments(),
  );
  if (problems.length > 0) expect(definition).toBeUndefined();
  return problems.map((p) => `${p.path}: ${p.message}`);
}

describe('target environments', () => {
  it('environments.yaml loads with its settings; the sample pipelines pass its gates', () => {
    expect([...environments().keys()]).toEqual(['ENG', 'TEST', 'PROD']);
    expect(environments().get('PROD')?.gates).toEqual({
      approvalRequired: true,
      minDeadlineHours: 72,
      retest: false,
    });
    const loaded = loadPipelines(PIPELINES_DIR, env);
    expect(loaded.invalid).toEqual([]);
    expect([...loaded.pipelines.keys()]).toEqual(['ubuntu-2204-base', 'windows-2022-base']);
  });

  it.each<[string, (doc: Doc) => void, string[]]>([
    [
      'a stage that waives an approval its environment requires',
      (doc) => (doc.stages[2].approval = { required: false }),
      [
        'stages[2].approval.required: environment PROD requires an approval for every promotion into it; a pipeline cannot waive it',
      ],
    ],
    [
      'a deadline shorter than the environment minimum',
      (doc) => (doc.stages[2].approval.deadlineHours = 1),
      [
        "stages[2].approval.deadlineHours: 1 is shorter than environment PROD's minimum of 72 hours; a pipeline may only lengthen it",
      ],
    ],
    [
      'a stage naming an environment the factory does not have',
      (doc) => (doc.stages[1].environment = 'STAGING'),
      [
        "stages[1].environment: names no target environment 'STAGING' (the factory's environments are: ENG, TEST, PROD)",
      ],
    ],
    [
      "a stage that promotes into another gallery and tenant than its environment's",
      (doc) => {
        doc.stages[2].gallery.name = 'gal_attacker';
        doc.stages[2].tenantId = '44444444-4444-4444-8444-444444444444';
      },
      [
        "stages[2].tenantId: must be the PROD environment's (the environment, not the pipeline, decides where its images go) tenant",
        "stages[2].gallery: must be the PROD environment's (the environment, not the pipeline, decides where its images go) gallery",
      ],
    ],
    [
      'a PROD stage posing as TEST (its environment is TEST, its tenant PROD)',
      (doc) => (doc.stages[2].environment = 'TEST'),
      [
        "stages[2].tenantId: must be the TEST environment's (the environment, not the pipeline, decides where its images go) tenant",
        "stages[2].subscriptionId: must be the TEST environment's (the environment, not the pipeline, decides where its images go) subscription",
        "stages[2].credential: must be the TEST environment's (the environment, not the pipeline, decides where its images go) credential profile",
        "stages[2].gallery: must be the TEST environment's (the environment, not the pipeline, decides where its images go) gallery",
      ],
    ],
  ])('%s is refused at load', (_title, edit, expected) => {
    expect(problemsOf(edit)).toEqual(expected);
  });

  it('a stage that leaves a required gate out gets the environment gate; one that adds to it keeps its own', () => {
    const doc = ubuntu();
    delete doc.stages[2].approval;
    doc.stages[1].approval.deadlineHours = 100;
    const { definition } = parsePipelineText(stringify(doc), 'ubuntu-2204-base.yaml', env, environments());
    expect(definition?.stages.map((s) => [s.name, s.approval])).toEqual([
      ['ENG', undefined],
      ['TEST', { required: true, deadlineHours: 100 }],
      ['PROD', { required: true, deadlineHours: 72 }],
    ]);
  });

  it('without its environments no pipeline is served, and start-up says which file and why', () => {
    const missing = { ...env, ENVIRONMENTS_FILE: path.join(tmpdir(), 'no-such-dir', 'environments.yaml') };
    const loaded = loadPipelines(PIPELINES_DIR, missing);
    expect(loaded.pipelines.size).toBe(0);
    expect(loaded.invalid).toEqual([
      {
        file: 'environments.yaml',
        problems: [
          {
            path: '(file)',
            message:
              "cannot be read (ENOENT): the factory's target environments and their gates are required; set ENVIRONMENTS_FILE or add environments.yaml next to the pipelines directory",
          },
        ],
      },
    ]);
    expect(() => loadPipelinesOrThrow(PIPELINES_DIR, missing)).toThrow(
      /environments\.yaml: \(file\): cannot be read/,
    );
  });

  it('an invalid environments file is refused with every problem by path', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'environments-'));
    try {
      const doc = parseYaml(readFileSync(ENVIRONMENTS_FILE, 'utf8')) as Doc;
      doc.environments[2].name = 'TEST';
      doc.environments[1].gates.minDeadlineHours = -1;
      doc.environments[0].gates = { approvalRequired: 'yes' };
      const file = path.join(dir, 'environments.yaml');
      writeFileSync(file, stringify(doc));
      expect(loadEnvironments(file, env).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
        'environments[0].gates.approvalRequired: Invalid input: expected boolean, received string',
        'environments[1].gates.minDeadlineHours: Too small: expected number to be >=0.01',
      ]);
      delete doc.environments[0].gates;
      doc.environments[1].gates.minDeadlineHours = 24;
      writeFileSync(file, stringify(doc));
      expect(loadEnvironments(file, env).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
        "environments[2].name: duplicate environment 'TEST'",
      ]);
      expect(parseEnvironmentsText('environments: []', 'x.yaml', env).problems).toEqual([
        { path: 'environments', message: 'at least one environment' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('schemas/environments.schema.json is the schema generated from the code (npm run schemas)', () => {
    const committed = JSON.parse(readFileSync(ENVIRONMENTS_SCHEMA_FILE, 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(environmentsSchemaJson()));
    expect(committed).toEqual(environmentsJsonSchema());
  });
});

describe('admission (the build orchestration first activity)', () => {
  const served = () => {
    const loaded = loadPipelines(PIPELINES_DIR, env);
    return { valid: loaded.pipelines, environments: loaded.environments! };
  };
  const codeOf = (run: () => unknown): string | undefined => {
    try {
      run();
      return undefined;
    } catch (error) {
      return isFactoryError(error) ? error.code : `not a FactoryError: ${String(error)}`;
    }
  };

  it('admits the served definition with the overrides the digest was made for', () => {
    const { valid, environments: envs } = served();
    const ubuntuDefinition = valid.get('ubuntu-2204-base')!;
    const engOnly: PipelineDefinition = { ...ubuntuDefinition, stages: ubuntuDefinition.stages.slice(0, 1) };
    const admitted = admitBuild(
      {
        buildId: 'b1',
        pipeline: 'ubuntu-2204-base',
        overrides: { stopAfterStage: 'ENG' },
        definitionDigest: definitionDigest(engOnly),
      },
      { valid, environments: envs },
    );
    expect(admitted.stages.map((s) => s.name)).toEqual(['ENG']);
  });

  it.each<[string, (served: PipelineDefinition) => unknown, string]>([
    ['an inline definition', (d) => ({ buildId: 'b', pipeline: d }), 'InlineDefinitionRefused'],
    ['no digest', () => ({ buildId: 'b', pipeline: 'ubuntu-2204-base' }), 'InvalidBuildInput'],
    ['not an object', () => 'ubuntu-2204-base', 'InvalidBuildInput'],
    [
      'the digest of another definition',
      (d) => ({
        buildId: 'b',
        pipeline: d.name,
        definitionDigest: definitionDigest({ ...d, stages: d.stages.map(({ approval: _a, ...s }) => s) }),
      }),
      'DefinitionDigestMismatch',
    ],
    [
      'the digest without the overrides it asks for',
      (d) => ({
        buildId: 'b',
        pipeline: d.name,
        definitionDigest: definitionDigest(d),
        overrides: { buildTimeoutMinutes: 5 },
      }),
      'DefinitionDigestMismatch',
    ],
    [
      'an unknown pipeline',
      (d) => ({ buildId: 'b', pipeline: 'other-pipeline', definitionDigest: definitionDigest(d) }),
      'UnknownPipeline',
    ],
  ])('refuses %s', (_title, input, code) => {
    const s = served();
    expect(codeOf(() => admitBuild(input(s.valid.get('ubuntu-2204-base')!), s))).toBe(code);
  });

  it('refuses a served definition that weakens a gate (e.g. loaded without the policy), whatever its digest', () => {
    const s = served();
    const d = s.valid.get('ubuntu-2204-base')!;
    const weakened: PipelineDefinition = {
      ...d,
      stages: d.stages.map((stage) =>
        stage.approval ? { ...stage, approval: { ...stage.approval, required: false } } : stage,
      ),
    };
    const input = { buildId: 'b', pipeline: d.name, definitionDigest: definitionDigest(weakened) };
    expect(
      codeOf(() => admitBuild(input, { valid: new Map([[d.name, weakened]]), environments: s.environments })),
    ).toBe('EnvironmentPolicyViolation');
    expect(codeOf(() => admitBuild(input, { valid: new Map([[d.name, weakened]]) }))).toBe(
      'EnvironmentPolicyViolation',
    );
  });
});
