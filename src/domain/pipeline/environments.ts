/**
 * The factory's target environments (environments.yaml next to pipelines/): where each one's images
 * go (tenant, subscription, credential profile, gallery) and the gates promotion into it requires.
 * They belong to the factory, not to a pipeline, as environment approvals and checks do in release
 * tools (GitHub Actions environments, Azure DevOps environment checks): a pipeline stage names its
 * environment and may add to its gates (a longer deadline, an approval where none is required,
 * a re-test) but never weaken them. The build orchestration re-checks the policy on the definition
 * it runs (admission.ts), so a definition crafted outside the API cannot skip it either.
 * schemas/environments.schema.json is generated from this schema (npm run schemas).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { unknownKeysMessage } from '../../shared/text';
import {
  formatPath,
  galleryName,
  guid,
  resourceGroupName,
  stageName,
  type DefinitionProblem,
  type PipelineDefinition,
  type PipelineStage,
} from './definition';
import { substituteSettings } from './settings';

/** The deadline a stage gets when neither it nor its environment names one (the schema's default). */
const DEFAULT_DEADLINE_HOURS = 48;

export const environmentSchema = z
  .object({
    name: stageName,
    description: z.string().max(500).optional(),
    tenantId: guid,
    subscriptionId: guid,
    /** Credential profile name in AZURE_CREDENTIALS. */
    credential: z.string().min(1),
    gallery: z.object({ resourceGroup: resourceGroupName, name: galleryName }).strict(),
    gates: z
      .object({
        /** A person must approve every promotion into this environment. */
        approvalRequired: z.boolean().default(false),
        /** The shortest approval window a pipeline may give (hours); a pipeline may give more. */
        minDeadlineHours: z
          .number()
          .min(0.01)
          .max(24 * 30)
          .optional(),
        /** The promoted version is booted and tested again in this environment. */
        retest: z.boolean().default(false),
      })
      .strict()
      .default({ approvalRequired: false, retest: false }),
  })
  .strict();

export const environmentsFileSchema = z
  .object({ environments: z.array(environmentSchema).min(1, 'at least one environment') })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.environments.forEach((environment, index) => {
      if (seen.has(environment.name))
        ctx.addIssue({
          code: 'custom',
          path: ['environments', index, 'name'],
          message: `duplicate environment '${environment.name}'`,
        });
      seen.add(environment.name);
    });
  });

export type Environment = z.infer<typeof environmentSchema>;
export type Environments = Map<string, Environment>;

/** Parses environments.yaml (or .json) with ${NAME} settings; every problem at its path. */
export function parseEnvironmentsText(
  text: string,
  fileName: string,
  env: Record<string, string | undefined>,
): { environments?: Environments; problems: DefinitionProblem[] } {
  let document: unknown;
  try {
    document = fileName.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return {
      problems: [
        { path: '(file)', message: `not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}` },
      ],
    };
  }
  const problems: DefinitionProblem[] = [];
  const substituted = substituteSettings(document, env, problems);
  const unresolved = new Set(problems.map((problem) => problem.path));
  const parsed = environmentsFileSchema.safeParse(substituted);
  if (!parsed.success)
    problems.push(
      ...parsed.error.issues
        .map((issue) => ({
          path: formatPath(issue.path) || '(root)',
          message: issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys) : issue.message,
        }))
        .filter((problem) => !unresolved.has(problem.path)),
    );
  if (!parsed.success || problems.length > 0) return { problems };
  return { environments: new Map(parsed.data.environments.map((e) => [e.name, e])), problems: [] };
}

/** Reads the environments file; a missing file is a problem (no environment means no policy). */
export function loadEnvironments(
  file: string,
  env: Record<string, string | undefined>,
): { environments?: Environments; problems: DefinitionProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return {
      problems: [
        {
          path: '(file)',
          message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): the factory's target environments and their gates are required; set ENVIRONMENTS_FILE or add environments.yaml next to the pipelines directory`,
        },
      ],
    };
  }
  return parseEnvironmentsText(text, file, env);
}

/**
 * Applies the environments' gates to a definition: each stage must name a known environment and
 * promote into exactly its tenant, subscription, credential and gallery; a gate the environment
 * requires is added where the stage leaves it out, and a stage that weakens one (no approval,
 * a shorter deadline) is a problem. Returns the definition with the gates in force.
 */
export function applyEnvironmentPolicy(
  definition: PipelineDefinition,
  environments: Environments,
): { definition?: PipelineDefinition; problems: DefinitionProblem[] } {
  const problems: DefinitionProblem[] = [];
  const known = [...environments.keys()].join(', ');
  const stages = definition.stages.map((stage, index): PipelineStage => {
    const at = `stages[${index}]`;
    const name = stage.environment ?? stage.name;
    const environment = environments.get(name);
    if (environment === undefined) {
      problems.push({
        path: `${at}.${stage.environment === undefined ? 'name' : 'environment'}`,
        message: `names no target environment '${name}' (the factory's environments are: ${known})`,
      });
      return stage;
    }
    const owned = `the ${name} environment's (the environment, not the pipeline, decides where its images go)`;
    if (stage.tenantId !== environment.tenantId)
      problems.push({ path: `${at}.tenantId`, message: `must be ${owned} tenant` });
    if (stage.subscriptionId !== environment.subscriptionId)
      problems.push({ path: `${at}.subscriptionId`, message: `must be ${owned} subscription` });
    if (stage.credential !== environment.credential)
      problems.push({ path: `${at}.credential`, message: `must be ${owned} credential profile` });
    if (
      stage.gallery.resourceGroup !== environment.gallery.resourceGroup ||
      stage.gallery.name !== environment.gallery.name
    )
      problems.push({ path: `${at}.gallery`, message: `must be ${owned} gallery` });
    const gates = environment.gates;
    let approval = stage.approval;
    if (gates.approvalRequired) {
      if (index === 0)
        problems.push({
          path: `${at}.environment`,
          message: `environment ${name} requires an approval, but the first stage is where the image is built`,
        });
      else if (approval === undefined)
        approval = { required: true, deadlineHours: gates.minDeadlineHours ?? DEFAULT_DEADLINE_HOURS };
      else if (!approval.required)
        problems.push({
          path: `${at}.approval.required`,
          message: `environment ${name} requires an approval for every promotion into it; a pipeline cannot waive it`,
        });
    }
    if (
      approval?.required &&
      gates.minDeadlineHours !== undefined &&
      approval.deadlineHours < gates.minDeadlineHours
    )
      problems.push({
        path: `${at}.approval.deadlineHours`,
        message: `${approval.deadlineHours} is shorter than environment ${name}'s minimum of ${gates.minDeadlineHours} hours; a pipeline may only lengthen it`,
      });
    let retest = stage.retest;
    if (gates.retest && !retest) {
      if (stage.testResourceGroup === undefined || stage.testSubnetId === undefined)
        problems.push({
          path: `${at}.retest`,
          message: `environment ${name} requires a re-test after promotion; give testResourceGroup and testSubnetId in this stage`,
        });
      retest = true;
    }
    return { ...stage, ...(approval === undefined ? {} : { approval }), retest };
  });
  if (problems.length > 0) return { problems };
  return { definition: { ...definition, stages }, problems: [] };
}

/** The JSON Schema published at schemas/environments.schema.json. */
export function environmentsJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://image-factory.example/schemas/environments.schema.json',
    title: 'Image Factory target environments (the gates promotion into each requires)',
    ...(z.toJSONSchema(environmentsFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<
      string,
      unknown
    >),
  };
}
