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

export interface LoadedPipelines {
  pipelines: Map<string, PipelineDefinition>;
  invalid: { file: string; problems: DefinitionProblem[] }[];
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces ${NAME} in every string of a parsed document; unknown names become problems. */
export function substituteSettings(
  document: unknown,
  env: Record<string, string | undefined>,
  problems: DefinitionProblem[],
  at = '',
): unknown {
  if (typeof document === 'string') {
    return document.replace(PLACEHOLDER, (whole, name: string) => {
      const value = env[name];
      if (value === undefined) {
        problems.push({ path: at || '(root)', message: `refers to setting ${name}, which is not set` });
        return whole;
      }
      return value;
    });
  }
  if (Array.isArray(document))
    return document.map((item, index) => substituteSettings(item, env, problems, `${at}[${index}]`));
  if (document !== null && typeof document === 'object') {
    return Object.fromEntries(
      Object.entries(document).map(([key, value]) => [
        key,
        substituteSettings(value, env, problems, at ? `${at}.${key}` : key),
      ]),
    );
  }
  return document;
}

export function parsePipelineText(
  text: string,
  fileName: string,
  env: Record<string, string | undefined>,
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
  return { definition: result.definition, problems: [] };
}

export function loadPipelines(
  directory: string,
  env: Record<string, string | undefined> = process.env,
): LoadedPipelines {
  const loaded: LoadedPipelines = { pipelines: new Map(), invalid: [] };
  const files = readdirSync(directory)
    .filter((file) => /\.(ya?ml|json)$/.test(file))
    .sort();
  for (const file of files) {
    const { definition, problems } = parsePipelineText(
      readFileSync(path.join(directory, file), 'utf8'),
      file,
      env,
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
