/**
 * Pipeline definitions (pure): a bad definition is refused with every problem listed by path, the
 * way users read them (`stages[2].regions[0].replicas: must be 1..100`), and the published JSON
 * Schema is the one generated from the zod schema.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parse as parseYaml } from 'yaml';
import { pipelineJsonSchema } from '../../src/domain/pipeline/definition';
import { loadPipelines, loadPipelinesOrThrow, parsePipelineText } from '../../src/domain/pipeline/loader';
import { isFactoryError } from '../../src/shared/errors';
import { pipelineSchemaJson, SCHEMA_FILE } from '../../scripts/generate-schemas';
import { EXAMPLE_PIPELINE_SETTINGS } from './harness';

const PIPELINES_DIR = path.resolve(__dirname, '../../pipelines');

/** Settings the example pipelines refer to. */
const env: Record<string, string> = { ...EXAMPLE_PIPELINE_SETTINGS };

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const example = (name: string): Doc =>
  parseYaml(readFileSync(path.join(PIPELINES_DIR, `${name}.yaml`), 'utf8')) as Doc;

/** Problems of an edited copy of an example pipeline, as `path: message` lines. */
function problemsOf(
  base: 'windows-2022-base' | 'ubuntu-2204-base',
  edit: (doc: Doc) => void,
  fileName = `${base}.yaml`,
): string[] {
  const doc = example(base);
  edit(doc);
  const text = fileName.endsWith('.json') ? JSON.stringify(doc) : stringify(doc);
  const { definition, problems } = parsePipelineText(text, fileName, env);
  if (problems.length > 0) expect(definition).toBeUndefined();
  return problems.map((p) => `${p.path}: ${p.message}`);
}

describe('pipeline definitions', () => {
  it('the example pipelines are valid with their settings', () => {
    const loaded = loadPipelines(PIPELINES_DIR, env);
    expect(loaded.invalid).toEqual([]);
    expect([...loaded.pipelines.keys()]).toEqual(['ubuntu-2204-base', 'windows-2022-base']);
    const windows = loaded.pipelines.get('windows-2022-base')!;
    expect(windows.stages[2]?.regions.map((r) => [r.name, r.replicas, r.storageAccountType])).toEqual([
      ['westeurope', 2, 'Standard_LRS'],
      ['northeurope', 2, 'Standard_LRS'],
    ]);
    expect(windows.build.identity.principalId).toBe(env.BUILD_IDENTITY_PRINCIPAL_ID);
  });

  type Case = [
    title: string,
    base: 'windows-2022-base' | 'ubuntu-2204-base',
    edit: (doc: Doc) => void,
    expected: string[],
    fileName?: string,
  ];
  const cases: Case[] = [
    [
      'a shared staging group (stagingResourceGroupId) is refused with the way out',
      'ubuntu-2204-base',
      (d) => {
        delete d.build.stagingResourceGroupPrefix;
        d.build.stagingResourceGroupId = '/subscriptions/s/resourceGroups/rg-aib-staging';
      },
      [
        'build: Unrecognized key: "stagingResourceGroupId" (a staging group shared by templates is refused by Image Builder: a group it has tagged for one template cannot serve another; set build.stagingResourceGroupPrefix so each template gets its own, or leave it out for Image Builder\'s own IT_ groups)',
      ],
    ],
    [
      'a staging prefix that cannot start a resource group name',
      'ubuntu-2204-base',
      (d) => (d.build.stagingResourceGroupPrefix = 'rg staging/'),
      [
        'build.stagingResourceGroupPrefix: must be the start of a resource group name: up to 60 letters, digits, ., _, -, (, )',
      ],
    ],
    [
      'replicas 0',
      'windows-2022-base',
      (d) => (d.stages[2].regions[0].replicas = 0),
      ['stages[2].regions[0].replicas: must be 1..100'],
    ],
    [
      'replicas 101',
      'windows-2022-base',
      (d) => (d.stages[2].regions[1].replicas = 101),
      ['stages[2].regions[1].replicas: must be 1..100'],
    ],
    [
      'replicas as text',
      'ubuntu-2204-base',
      (d) => (d.stages[0].regions[0].replicas = 'two'),
      ['stages[0].regions[0].replicas: must be a number'],
    ],
    [
      'Linux image tested with PowerShell',
      'ubuntu-2204-base',
      (d) => (d.test.scripts[1].shell = 'PowerShell'),
      ['test.scripts[1].shell: must be Shell for osType Linux'],
    ],
    [
      'Windows image tested with Shell',
      'windows-2022-base',
      (d) => (d.test.scripts[0].shell = 'Shell'),
      ['test.scripts[0].shell: must be PowerShell for osType Windows'],
    ],
    [
      'Shell customizer on Windows',
      'windows-2022-base',
      (d) => (d.build.customizers[0] = { type: 'Shell', name: 'sh', inline: ['echo hi'] }),
      ['build.customizers[0].type: Shell needs osType Linux'],
    ],
    [
      'Windows customizers on Linux',
      'ubuntu-2204-base',
      (d) =>
        d.build.customizers.push(
          { type: 'WindowsUpdate', name: 'wu' },
          { type: 'PowerShell', name: 'ps', inline: ['Get-Date'] },
        ),
      [
        'build.customizers[2].type: WindowsUpdate needs osType Windows',
        'build.customizers[3].type: PowerShell needs osType Windows',
      ],
    ],
    [
      'unknown setting placeholder (one problem, not also "must be a GUID")',
      'windows-2022-base',
      (d) => (d.stages[1].tenantId = '${TEST_TENNANT_ID}'),
      ['stages[1].tenantId: refers to setting TEST_TENNANT_ID, which is not set'],
    ],
    [
      'two unknown placeholders, inside a longer string too',
      'ubuntu-2204-base',
      (d) => {
        d.build.identity.resourceId = '/subscriptions/${NO_SUB}/resourceGroups/rg/providers/x/${NO_NAME}';
      },
      [
        'build.identity.resourceId: refers to setting NO_SUB, which is not set',
        'build.identity.resourceId: refers to setting NO_NAME, which is not set',
      ],
    ],
    [
      'duplicate stage names (case-insensitive)',
      'windows-2022-base',
      (d) => (d.stages[2].name = 'test'),
      ["stages[2].name: duplicate stage name 'test'"],
    ],
    [
      'name differs from the file name',
      'windows-2022-base',
      (d) => (d.name = 'windows-2025-base'),
      ["name: must match the file name 'windows-2022-base'"],
    ],
    [
      'name differs from the file name, reported with the other problems',
      'ubuntu-2204-base',
      (d) => {
        d.name = 'ubuntu-base';
        d.stages[1].regions[0].replicas = 0;
      },
      ['stages[1].regions[0].replicas: must be 1..100', "name: must match the file name 'ubuntu-2204-base'"],
    ],
    [
      'JSON file: the name must match it as well',
      'ubuntu-2204-base',
      () => undefined,
      ["name: must match the file name 'ubuntu-2204'"],
      'ubuntu-2204.json',
    ],
    [
      'ENG stage with an approval',
      'windows-2022-base',
      (d) => (d.stages[0].approval = { required: true }),
      [
        'stages[0].approval: the first (ENG) stage is where the image is built; it cannot require an approval',
      ],
    ],
    [
      'ENG stage without the build region',
      'windows-2022-base',
      (d) => (d.stages[0].regions = [{ name: 'northeurope', replicas: 1 }]),
      ["stages[0].regions: must include the build region 'westeurope' (AIB distributes there first)"],
    ],
    [
      'customizer with both inline and scriptUri',
      'ubuntu-2204-base',
      (d) => (d.build.customizers[1].scriptUri = 'https://example.com/cleanup.sh'),
      ['build.customizers[1]: give exactly one of inline or scriptUri'],
    ],
    [
      'plain-http script and a gallery name with a hyphen',
      'ubuntu-2204-base',
      (d) => {
        d.build.customizers[1] = { type: 'Shell', name: 'x', scriptUri: 'http://example.com/x.sh' };
        d.stages[2].gallery.name = 'gal-prod';
      },
      [
        'build.customizers[1].scriptUri: must be an https URL',
        'stages[2].gallery.name: must be a gallery name: letters, digits, . and _ (no hyphens), 2-80',
      ],
    ],
    [
      'retest without a test placement',
      'windows-2022-base',
      (d) => (d.stages[1].retest = true),
      ['stages[1].retest: retest needs testResourceGroup and testSubnetId in this stage'],
    ],
    [
      'unknown (misspelt) field',
      'windows-2022-base',
      (d) => (d.stages[1].regions[0].replica = 2),
      ['stages[1].regions[0]: Unrecognized key: "replica"'],
    ],
    [
      'unknown osType and source version',
      'ubuntu-2204-base',
      (d) => {
        d.image.osType = 'Solaris';
        d.source.version = '22.04';
      },
      [
        "source.version: must be 'latest' or Major.Minor.Patch",
        'image.osType: Invalid option: expected one of "Linux"|"Windows"',
      ],
    ],
    [
      'no test section, no stages',
      'windows-2022-base',
      (d) => {
        delete d.test;
        d.stages = [];
      },
      ['test: Invalid input: expected object, received undefined', 'stages: at least the ENG stage'],
    ],
    [
      'cadence at 25:00',
      'windows-2022-base',
      (d) => (d.cadence.at = '25:00'),
      ['cadence.at: must be HH:MM (UTC)'],
    ],
    [
      'several problems at once are all listed',
      'windows-2022-base',
      (d) => {
        d.stages[2].regions[0].replicas = 0;
        d.stages[2].name = 'TEST';
        d.test.scripts[0].shell = 'Shell';
        d.build.vmSize = 'D4s_v5';
        d.stages[1].subscriptionId = 'not-a-guid';
      },
      [
        'build.vmSize: must be a VM size such as Standard_D2s_v5',
        'stages[1].subscriptionId: must be a GUID',
        'stages[2].regions[0].replicas: must be 1..100',
        // cross-field rules are checked even though fields above are malformed
        "stages[2].name: duplicate stage name 'TEST'",
        'test.scripts[0].shell: must be PowerShell for osType Windows',
      ],
    ],
  ];

  // A rest parameter: jest would take a fifth declared parameter for a done callback.
  it.each(cases)('%s', (...[, base, edit, expected, fileName]: Case) => {
    expect(problemsOf(base, edit, fileName)).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['YAML', 'windows-2022-base.yaml', 'name: windows-2022-base\nstages: [ {name: ENG\n'],
    ['YAML with a tab indent', 'windows-2022-base.yml', 'name: x\nbuild:\n\tlocation: westeurope\n'],
    ['JSON', 'windows-2022-base.json', '{"name": "windows-2022-base",'],
  ])('malformed %s is one problem naming the format', (format, fileName, text) => {
    const { definition, problems } = parsePipelineText(text, fileName, env);
    expect(definition).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe('(file)');
    expect(problems[0]?.message).toMatch(new RegExp(`^not valid ${format.split(' ')[0]}: \\S`));
  });

  it.each<[string, string, string]>([
    ['an empty file', '', '(root): Invalid input: expected object, received null'],
    ['a list', '- a\n- b\n', '(root): Invalid input: expected object, received array'],
  ])('%s is refused', (_title, text, expected) => {
    const { problems } = parsePipelineText(text, 'x-pipeline.yaml', env);
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([expected]);
  });

  it('a directory with a bad file: the good one loads, the bad one is refused with its file and paths', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pipelines-'));
    try {
      const good = example('ubuntu-2204-base');
      const bad = example('windows-2022-base');
      bad.stages[2].regions[0].replicas = 0;
      bad.test.scripts[0].shell = 'Shell';
      writeFileSync(path.join(dir, 'ubuntu-2204-base.yaml'), stringify(good));
      writeFileSync(path.join(dir, 'windows-2022-base.yaml'), stringify(bad));
      writeFileSync(path.join(dir, 'README.md'), 'not a pipeline');
      // The factory's environments live next to the real pipelines directory, not in this one.
      const withEnvironments = {
        ...env,
        ENVIRONMENTS_FILE: path.resolve(PIPELINES_DIR, '..', 'environments.yaml'),
      };
      const loaded = loadPipelines(dir, withEnvironments);
      expect([...loaded.pipelines.keys()]).toEqual(['ubuntu-2204-base']);
      expect(loaded.invalid).toEqual([
        {
          file: 'windows-2022-base.yaml',
          problems: [
            { path: 'stages[2].regions[0].replicas', message: 'must be 1..100' },
            { path: 'test.scripts[0].shell', message: 'must be PowerShell for osType Windows' },
          ],
        },
      ]);
      let thrown: unknown;
      try {
        loadPipelinesOrThrow(dir, withEnvironments);
      } catch (error) {
        thrown = error;
      }
      expect(isFactoryError(thrown) && thrown.code).toBe('InvalidPipeline');
      expect((thrown as Error).message).toBe(
        'Invalid pipeline definitions:\n' +
          'windows-2022-base.yaml: stages[2].regions[0].replicas: must be 1..100\n' +
          'windows-2022-base.yaml: test.scripts[0].shell: must be PowerShell for osType Windows',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('schemas/pipeline.schema.json is the schema generated from the definition (npx tsx scripts/generate-schemas.ts)', () => {
    const committed = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(pipelineSchemaJson()));
    expect(committed).toEqual(pipelineJsonSchema());
    const schema = committed as {
      $id: string;
      additionalProperties: boolean;
      required: string[];
      properties: Record<string, unknown>;
    };
    expect(schema.$id).toBe('https://image-factory.example/schemas/pipeline.schema.json');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(
      expect.arrayContaining(['name', 'source', 'image', 'build', 'test', 'stages']),
    );
    const replicas = JSON.stringify(schema.properties.stages);
    expect(replicas).toContain('"replicas":{"type":"integer","minimum":1,"maximum":100}');
  });
  it('takes test.securityGate thresholds and refuses bad ones at load, each by path', () => {
    const gate = { maxCritical: 0, maxImportant: 2, maxTotal: 10 };
    expect(problemsOf('ubuntu-2204-base', (doc) => (doc.test.securityGate = gate))).toEqual([]);
    expect(
      problemsOf('ubuntu-2204-base', (doc) => {
        doc.test.securityGate = { maxCritical: -1, maxImportant: 1.5, maxTotal: 'ten' };
      }),
    ).toEqual([
      'test.securityGate.maxCritical: must be 0 or more',
      'test.securityGate.maxImportant: must be a whole number',
      expect.stringMatching(/^test\.securityGate\.maxTotal: .*number/),
    ]);
    expect(
      problemsOf(
        'ubuntu-2204-base',
        (doc) => (doc.test.securityGate = { maxCritical: 0, maxImportant: 5, maxTotal: 3 }),
      ),
    ).toEqual([
      'test.securityGate.maxTotal: maxTotal must be at least maxCritical and maxImportant (a total below them could never allow them)',
    ]);
    expect(
      problemsOf('windows-2022-base', (doc) => (doc.test.securityGate = { maxCritical: 0, maxImportant: 0 })),
    ).toEqual([expect.stringMatching(/^test\.securityGate\.maxTotal: /)]);
    expect(
      problemsOf('windows-2022-base', (doc) => (doc.test.securityGate = { ...gate, maxHigh: 1 })),
    ).toEqual([expect.stringMatching(/^test\.securityGate: .*maxHigh/)]);
  });

  it('refuses a cron cadence that does not parse or never fires, without quoting it', () => {
    for (const expression of ['not a cron at all', '61 * * * *', '* * * * * * *', '0 0 30 2 *'])
      expect(
        problemsOf('ubuntu-2204-base', (doc) => {
          doc.cadence = { kind: 'cron', expression };
        }),
      ).toEqual(['cadence.expression: must be a 5- or 6-field cron expression that fires']);
    expect(
      problemsOf('ubuntu-2204-base', (doc) => {
        doc.cadence = { kind: 'cron', expression: '0 6 8-14 * 2' };
      }),
    ).toEqual([]);
  });

  it('names a huge unknown field without repeating it whole', () => {
    const huge = `k${'x'.repeat(9_999)}`;
    const problems = problemsOf('ubuntu-2204-base', (doc) => {
      doc.build[huge] = 1;
    });
    expect(problems).toEqual([
      expect.stringMatching(/^build: Unrecognized key: "kxx.*\(10000 characters\)"$/),
    ]);
    expect(problems[0]!.length).toBeLessThan(200);
  });
  it('does not quote a build location that is no region name (a setting may have put a secret there)', () => {
    const problems = problemsOf('ubuntu-2204-base', (doc) => {
      doc.build.location = '${ENG_TENANT_ID}';
    });
    expect(problems).toContain(
      'stages[0].regions: must include the build region (AIB distributes there first)',
    );
    expect(problems.join('\n')).not.toContain(env.ENG_TENANT_ID);
  });
});
