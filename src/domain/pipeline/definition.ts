/**
 * Pipeline definitions: one per image, under pipelines/ (YAML or JSON), validated into typed
 * objects. schemas/pipeline.schema.json is generated from this schema (npm run schemas) and kept
 * in sync by a test, so editors and CI can validate definitions too.
 */
import { z } from 'zod';
import { checkCadence } from '../cadence';
import { isFactoryError } from '../../shared/errors';
import { unknownKeysMessage } from '../../shared/text';

export const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID');
export const resourceGroupName = z
  .string()
  .regex(
    /^[-\w._()]{1,89}[-\w_()]$/,
    'must be a resource group name: 1-90 letters, digits, ., _, -, (, ), not ending with .',
  );
const resourceId = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+(\/providers\/.+)?$/i,
    'must be an Azure resource id (/subscriptions/…/resourceGroups/…)',
  );
const region = z.string().regex(/^[a-z][a-z0-9]{2,30}$/, 'must be an Azure region name such as westeurope');
export const galleryName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._]{0,78}[A-Za-z0-9]$/,
    'must be a gallery name: letters, digits, . and _ (no hyphens), 2-80',
  );
const imageName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,78}[A-Za-z0-9]$/, 'must be 2-80 letters, digits, ., _ or -');
const azureTag = z.string().max(256);

const sha256 = z.string().regex(/^[a-fA-F0-9]{64}$/, 'must be a sha256 hex digest');
const httpsUri = z.url({ protocol: /^https$/, error: 'must be an https URL' });

export const sourceSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('platformImage'),
      publisher: z.string().min(1),
      offer: z.string().min(1),
      sku: z.string().min(1),
      version: z.string().regex(/^(latest|\d+\.\d+\.\d+)$/, "must be 'latest' or Major.Minor.Patch"),
    })
    .strict(),
  z.object({ type: z.literal('galleryImageVersion'), id: resourceId }).strict(),
  z.object({ type: z.literal('managedImage'), id: resourceId }).strict(),
  z
    .object({
      type: z.literal('vhd'),
      /** A VHD built elsewhere (e.g. Packer on on-prem Hyper-V): skips the build, enters at the test step. */
      uri: httpsUri,
      storageAccountId: resourceId,
    })
    .strict(),
]);

const scriptFields = {
  name: z.string().min(1).max(64),
  inline: z.array(z.string()).min(1).optional(),
  scriptUri: httpsUri.optional(),
  sha256Checksum: sha256.optional(),
};

export const customizerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Shell'), ...scriptFields }).strict(),
  z.object({ type: z.literal('PowerShell'), ...scriptFields, runElevated: z.boolean().optional() }).strict(),
  z
    .object({
      type: z.literal('File'),
      name: z.string().min(1).max(64),
      sourceUri: httpsUri,
      destination: z.string().min(1),
      sha256Checksum: sha256,
    })
    .strict(),
  z
    .object({
      type: z.literal('WindowsUpdate'),
      name: z.string().min(1).max(64),
      searchCriteria: z.string().optional(),
      filters: z.array(z.string()).optional(),
      updateLimit: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('WindowsRestart'),
      name: z.string().min(1).max(64),
      restartTimeout: z.string().optional(),
    })
    .strict(),
]);

export const regionTargetSchema = z
  .object({
    name: region,
    replicas: z
      .number({ error: 'must be a number' })
      .int()
      .min(1, 'must be 1..100')
      .max(100, 'must be 1..100'),
    storageAccountType: z.enum(['Standard_LRS', 'Standard_ZRS', 'Premium_LRS']).default('Standard_LRS'),
  })
  .strict();

export const stageName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9]{1,15}$/, 'must be 2-16 letters/digits, starting with a letter');

export const stageSchema = z
  .object({
    name: stageName,
    /**
     * The target environment (environments.yaml) this stage promotes into; default: the stage's
     * name. The environment owns the tenant, subscription, gallery and the gates promotion into it
     * requires; this stage may add to those gates, never weaken them.
     */
    environment: stageName.optional(),
    tenantId: guid,
    subscriptionId: guid,
    /** Credential profile name in AZURE_CREDENTIALS. */
    credential: z.string().min(1),
    gallery: z.object({ resourceGroup: resourceGroupName, name: galleryName }).strict(),
    regions: z.array(regionTargetSchema).min(1, 'at least one target region'),
    approval: z
      .object({
        required: z.boolean(),
        deadlineHours: z
          .number()
          .min(0.01)
          .max(24 * 30)
          .default(48),
      })
      .strict()
      .optional(),
    /** Boot and test the promoted version again in this tenant. */
    retest: z.boolean().default(false),
    /** Copy into this stage with excludeFromLatest while its approval is pending: approval then flips one flag. */
    preStage: z.boolean().default(false),
    /** Test VM placement in this tenant, required when retest is on. */
    testResourceGroup: resourceGroupName.optional(),
    testSubnetId: resourceId.optional(),
  })
  .strict();

export const cadenceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('cron'),
      // Checked as the cadence timer will read it, so a bad expression is refused at load, not at
      // every tick; the message does not quote it (a ${NAME} placeholder may have put a secret in).
      expression: z
        .string()
        .min(9)
        .refine(
          (expression) => isValidCron(expression),
          'must be a 5- or 6-field cron expression that fires',
        ),
      onlyWhenChanged: z.boolean().default(true),
    })
    .strict(),
  z
    .object({
      kind: z.literal('patchTuesday'),
      offsetDays: z.number().int().min(0).max(27),
      at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (UTC)'),
      onlyWhenChanged: z.boolean().default(true),
    })
    .strict(),
  z
    .object({
      kind: z.literal('weekly'),
      dayOfWeek: z.number().int().min(0).max(6),
      at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (UTC)'),
      onlyWhenChanged: z.boolean().default(true),
    })
    .strict(),
]);

export const pipelineDefinitionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{2,40}[a-z0-9]$/, 'must be 4-42 lower-case letters, digits and -'),
    description: z.string().max(500).optional(),
    source: sourceSchema,
    image: z
      .object({
        /** Gallery image definition name, the same in every stage's gallery. */
        definition: imageName,
        osType: z.enum(['Linux', 'Windows']),
        hyperVGeneration: z.enum(['V1', 'V2']).default('V2'),
        securityType: z
          .enum(['Standard', 'TrustedLaunch', 'TrustedLaunchSupported', 'ConfidentialVM'])
          .default('TrustedLaunch'),
        features: z.record(z.string(), z.string()).optional(),
        identifier: z
          .object({ publisher: z.string().min(1), offer: z.string().min(1), sku: z.string().min(1) })
          .strict(),
      })
      .strict(),
    build: z
      .object({
        /** Region of the build (template, VNET and the ENG gallery's home region). */
        location: region,
        resourceGroup: resourceGroupName,
        vmSize: z.string().regex(/^Standard_[A-Za-z0-9_]+$/, 'must be a VM size such as Standard_D2s_v5'),
        osDiskSizeGB: z.number().int().min(30).max(4095).default(64),
        timeoutMinutes: z.number().int().min(1, 'must be 1..960').max(960, 'must be 1..960').default(120),
        /** Expected duration, the starting point of status polling until past builds say better. */
        expectedMinutes: z.number().int().min(1).max(960).default(45),
        identity: z.object({ resourceId, principalId: guid }).strict(),
        /**
         * Each template gets its own staging group `<prefix><template name>` (ENG subscription), which
         * Image Builder creates and deletes with the template. Absent or '': Image Builder's IT_ group.
         */
        stagingResourceGroupPrefix: z
          .string()
          .regex(
            /^([-\w._()]{1,60})?$/,
            'must be the start of a resource group name: up to 60 letters, digits, ., _, -, (, )',
          )
          .optional(),
        subnetId: resourceId.optional(),
        customizers: z.array(customizerSchema).default([]),
      })
      .strict(),
    test: z
      .object({
        resourceGroup: resourceGroupName,
        subnetId: resourceId,
        vmSize: z.string().regex(/^Standard_[A-Za-z0-9_]+$/, 'must be a VM size such as Standard_D2s_v5'),
        timeoutMinutes: z.number().int().min(1).max(90).default(15),
        scripts: z
          .array(
            z
              .object({
                name: z.string().min(1).max(64),
                shell: z.enum(['Shell', 'PowerShell']),
                inline: z.string().min(1).max(65536),
              })
              .strict(),
          )
          .min(1, 'at least one test script'),
        /**
         * After the scripts, the security gate (security-gate.ts) reports pending security updates
         * and the software inventory; the build fails above these counts. Absent: no gate.
         */
        securityGate: z
          .object({
            maxCritical: z.number().int('must be a whole number').min(0, 'must be 0 or more'),
            maxImportant: z.number().int('must be a whole number').min(0, 'must be 0 or more'),
            maxTotal: z.number().int('must be a whole number').min(0, 'must be 0 or more'),
          })
          .strict()
          .refine((g) => g.maxTotal >= Math.max(g.maxCritical, g.maxImportant), {
            message:
              'maxTotal must be at least maxCritical and maxImportant (a total below them could never allow them)',
            path: ['maxTotal'],
          })
          .optional(),
      })
      .strict(),
    stages: z.array(stageSchema).min(1, 'at least the ENG stage'),
    cadence: cadenceSchema.optional(),
    /**
     * Retention per stage's gallery (docs/retention.md): keep the newest `keepNewest` versions (never
     * the latest nor the last good one), set endOfLifeDate on older ones, delete them `graceDays`
     * after their end of life unless a VM or scale set uses them. Absent: keepNewest 5, graceDays 30.
     */
    retention: z
      .object({
        keepNewest: z.number().int('must be a whole number').min(1).max(100).optional(),
        graceDays: z.number().int('must be a whole number').min(0).max(3650).optional(),
      })
      .strict()
      .optional(),
    tags: z.record(z.string(), azureTag).optional(),
  })
  .strict()
  // Runs even when fields are malformed (so every problem is listed in one round), hence the
  // defensive reading of a value that may only partly match the schema.
  .superRefine((definition, ctx) => crossFieldChecks(definition, ctx), {
    when: (payload) => asObject(payload.value) !== undefined,
  });

function isValidCron(expression: string): boolean {
  try {
    checkCadence({ kind: 'cron', expression });
    return true;
  } catch (error) {
    if (isFactoryError(error)) return false;
    throw error;
  }
}

type Loose = Record<string, unknown>;
const asObject = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Rules across fields: stage names, the ENG stage, customizer and test shells against osType. */
function crossFieldChecks(value: unknown, ctx: z.RefinementCtx): void {
  const definition = asObject(value) ?? {};
  const addIssue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  const stages = asArray(definition.stages).map(asObject);
  const names = new Set<string>();
  stages.forEach((stage, index) => {
    if (!stage) return;
    if (typeof stage.name === 'string') {
      const key = stage.name.toLowerCase();
      if (names.has(key)) addIssue(['stages', index, 'name'], `duplicate stage name '${stage.name}'`);
      names.add(key);
    }
    if (index === 0 && asObject(stage.approval)?.required === true)
      addIssue(
        ['stages', 0, 'approval'],
        'the first (ENG) stage is where the image is built; it cannot require an approval',
      );
    if (index === 0 && stage.preStage === true)
      addIssue(['stages', 0, 'preStage'], 'the first stage cannot be pre-staged');
    if (stage.retest === true && (stage.testResourceGroup === undefined || stage.testSubnetId === undefined))
      addIssue(['stages', index, 'retest'], 'retest needs testResourceGroup and testSubnetId in this stage');
  });
  const build = asObject(definition.build);
  const first = stages[0];
  // Only a location that is a region name is quoted: it may hold anything (a secret from a ${NAME}).
  if (build && first && typeof build.location === 'string' && Array.isArray(first.regions)) {
    const location = build.location;
    const quoted = region.safeParse(location).success ? ` '${location}'` : '';
    if (!first.regions.some((r) => asObject(r)?.name === location))
      addIssue(
        ['stages', 0, 'regions'],
        `must include the build region${quoted} (AIB distributes there first)`,
      );
  }
  if (!build) return;
  const customizers = asArray(build.customizers).map(asObject);
  const sourceType = asObject(definition.source)?.type;
  if (typeof sourceType === 'string' && sourceType !== 'vhd' && customizers.length === 0)
    addIssue(['build', 'customizers'], 'at least one customizer (or use a vhd source built elsewhere)');
  const osType = asObject(definition.image)?.osType;
  const knownOs = osType === 'Linux' || osType === 'Windows';
  customizers.forEach((customizer, index) => {
    if (!customizer) return;
    const type = customizer.type;
    if (
      (type === 'Shell' || type === 'PowerShell') &&
      (customizer.inline === undefined) === (customizer.scriptUri === undefined)
    )
      addIssue(['build', 'customizers', index], 'give exactly one of inline or scriptUri');
    if (!knownOs) return;
    if (
      (type === 'WindowsUpdate' || type === 'WindowsRestart' || type === 'PowerShell') &&
      osType !== 'Windows'
    )
      addIssue(['build', 'customizers', index, 'type'], `${type} needs osType Windows`);
    if (type === 'Shell' && osType !== 'Linux')
      addIssue(['build', 'customizers', index, 'type'], 'Shell needs osType Linux');
  });
  if (!knownOs) return;
  const expected = osType === 'Linux' ? 'Shell' : 'PowerShell';
  asArray(asObject(definition.test)?.scripts).forEach((script, index) => {
    const shell = asObject(script)?.shell;
    if ((shell === 'Shell' || shell === 'PowerShell') && shell !== expected)
      addIssue(['test', 'scripts', index, 'shell'], `must be ${expected} for osType ${osType}`);
  });
}

export type PipelineDefinition = z.infer<typeof pipelineDefinitionSchema>;
export type PipelineStage = PipelineDefinition['stages'][number];
export type PipelineSource = PipelineDefinition['source'];
export type PipelineCustomizer = PipelineDefinition['build']['customizers'][number];

/** One problem, by path, the way users read them: `stages[2].regions[0].replicas: must be 1..100`. */
export interface DefinitionProblem {
  path: string;
  message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) =>
      typeof key === 'number' ? `${text}[${key}]` : text === '' ? String(key) : `${text}.${String(key)}`,
    '',
  );
}

export type ValidationResult =
  { ok: true; definition: PipelineDefinition } | { ok: false; problems: DefinitionProblem[] };

export function validatePipelineDefinition(candidate: unknown): ValidationResult {
  const parsed = pipelineDefinitionSchema.safeParse(candidate);
  if (parsed.success) return { ok: true, definition: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => ({
      path: formatPath(issue.path) || '(root)',
      message:
        issue.code === 'unrecognized_keys'
          ? unknownKeysMessage(issue.keys) + retiredFieldHint(formatPath(issue.path), issue.keys)
          : issue.message,
    })),
  };
}

/** Fields an older definition may still carry, with what replaced them. */
function retiredFieldHint(at: string, keys: readonly string[]): string {
  if (at !== 'build' || !keys.includes('stagingResourceGroupId')) return '';
  return (
    ' (a staging group shared by templates is refused by Image Builder: a group it has tagged for one ' +
    'template cannot serve another; set build.stagingResourceGroupPrefix so each template gets its own, ' +
    "or leave it out for Image Builder's own IT_ groups)"
  );
}

export function describeProblems(problems: DefinitionProblem[]): string {
  return problems.map((problem) => `${problem.path}: ${problem.message}`).join('\n');
}

/** The JSON Schema published at schemas/pipeline.schema.json. */
export function pipelineJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://image-factory.example/schemas/pipeline.schema.json',
    title: 'Image Factory pipeline definition',
    ...(z.toJSONSchema(pipelineDefinitionSchema, { io: 'input', unrepresentable: 'any' }) as Record<
      string,
      unknown
    >),
  };
}
