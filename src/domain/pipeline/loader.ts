/**
 * Loads pipelines/*.yaml|yml|json. `${NAME}` placeholders are replaced by settings (so one file
 * serves several environments, and the examples run against the local simulated Azure); every
 * problem is reported with its file and path, and an invalid file is never loaded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FactoryError } from '../../shared/errors';
import { validatePipelineDefinition, type DefinitionProblem, type PipelineDefinition } from './definition';
import { applyEnvironmentPolicy, loadEnvironments, type Environments } from './environments';
import { substituteSettings } from './settings';

export interface LoadedPipelines {
  pipelines: Map<string, PipelineDefinition>;
  invalid: { file: string; problems: DefinitionProblem[] }[];
  /** The factory's target environments the pipelines were checked against (absent: none loaded). */
  environments?: Environments;
}

/** ENVIRONMENTS_FILE, or environments.yaml next to the pipelines directory. */
export function environmentsFileFor(directory: string, env: Record<string, string | undefined>): string {
  return env.ENVIRONMENTS_FILE ?? path.join(path.dirname(path.resolve(directory)), 'environments.yaml');
}

export { substituteSettings };

/**
 * Parses one definition; with `environments`, the environments' gates are applied and a stage that
 * weakens one (or promotes somewhere its environment does not) is a problem.
 */
export function parsePipelineText(
  text: string,
  fileName: string,
  env: Record<string, string | undefined>,
  environments?: Environments,
): { definition?: PipelineDefinition; problems: DefinitionProblem[] } {
  let document: unknown;
  try {
    document = fileName.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return {
      problems: [
        {
          path: '(file)',
          message: `not valid ${fileName.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`,
        },
      ],
    };
  }
  const problems: DefinitionProblem[] = [];
  const substituted = substituteSettings(document, env, problems);
  const result = validatePipelineDefinition(substituted);
  // An unset setting is the problem at its path; the placeholder text failing the field's own
  // rule (e.g. "must be a GUID") would only repeat it.
  const unresolved = new Set(problems.map((problem) => problem.path));
  if (!result.ok) problems.push(...result.problems.filter((problem) => !unresolved.has(problem.path)));
  // Reported with the other problems, so one round of fixes is enough.
  const expectedName = path.basename(fileName).replace(/\.(ya?ml|json)$/, '');
  const name = (substituted as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && name !== expectedName && !problems.some((p) => p.path === 'name'))
    problems.push({ path: 'name', message: `must match the file name '${expectedName}'` });
  if (!result.ok || problems.length > 0) return { problems };
  if (environments === undefined) return { definition: result.definition, problems: [] };
  const governed = applyEnvironmentPolicy(result.definition, environments);
  return governed.definition
    ? { definition: governed.definition, problems: [] }
    : { problems: governed.problems };
}

export function loadPipelines(
  directory: string,
  env: Record<string, string | undefined> = process.env,
): LoadedPipelines {
  const loaded: LoadedPipelines = { pipelines: new Map(), invalid: [] };
  // No environments, no pipeline: a pipeline is never served without the gates of its targets.
  const environmentsFile = environmentsFileFor(directory, env);
  const { environments, problems: environmentProblems } = loadEnvironments(environmentsFile, env);
  if (environments === undefined) {
    loaded.invalid.push({ file: path.basename(environmentsFile), problems: environmentProblems });
    return loaded;
  }
  loaded.environments = environments;
  const files = readdirSync(directory)
    .filter((file) => /\.(ya?ml|json)$/.test(file))
    .sort();
  for (const file of files) {
    const { definition, problems } = parsePipelineText(
      readFileSync(path.join(directory, file), 'utf8'),
      file,
      env,
      environments,
    );
    if (definition) loaded.pipelines.set(definition.name, definition);
    else loaded.invalid.push({ file, problems });
  }
  return loaded;
}

/** For start-up: refuse to run with an invalid definition, listing every problem. */
export function loadPipelinesOrThrow(
  directory: string,
  env: Record<string, string | undefined> = process.env,
): Map<string, PipelineDefinition> {
  const loaded = loadPipelines(directory, env);
  if (loaded.invalid.length > 0) {
    const text = loaded.invalid
      .map(({ file, problems }) => problems.map((p) => `${file}: ${p.path}: ${p.message}`).join('\n'))
      .join('\n');
    throw new FactoryError('InvalidPipeline', `Invalid pipeline definitions:\n${text}`, {
      details: { invalid: loaded.invalid },
    });
  }
  return loaded.pipelines;
}
