/**
 * `${NAME}` placeholders in pipeline and environment files, replaced by settings when loaded, so one
 * file serves Azure and the local simulated world.
 */
import type { DefinitionProblem } from './definition';

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
