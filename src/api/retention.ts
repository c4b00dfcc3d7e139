/**
 * GET /api/retention/plan?pipeline=<name>: the retention job's dry run for one pipeline (what the
 * next run would keep, mark, delete or skip as in use, per stage), computed against Azure now and
 * changing nothing (docs/retention.md). Function key, like the other read APIs.
 */
import type { AzurePorts } from '../ports/azure';
import { runRetention } from '../retention-runner/run';
import type { ApiRequest, ApiResponse, Pipelines } from './builds-api';
import { problem } from './problem';

const PIPELINE_NAME = /^[a-z][a-z0-9-]{2,40}[a-z0-9]$/;
const KNOWN_QUERY = new Set(['pipeline', 'code']);

export async function getRetentionPlan(
  request: ApiRequest,
  pipelines: Pipelines,
  azure: AzurePorts,
  now: string,
): Promise<ApiResponse> {
  const unknown = Object.keys(request.query).filter((k) => !KNOWN_QUERY.has(k));
  if (unknown.length > 0)
    return problem(
      400,
      'Invalid Query',
      `Unknown query parameter(s): ${unknown.map((k) => (/^[\w-]{1,40}$/.test(k) ? k : '(unprintable)')).join(', ')}; only 'pipeline' is accepted.`,
      unknown.map((k) => ({ path: k, message: 'not a parameter of this API' })),
    );
  const name = request.query.pipeline;
  if (name === undefined || name === '')
    return problem(400, 'Invalid Query', "The query parameter 'pipeline' is required.", [
      { path: 'pipeline', message: 'required' },
    ]);
  if (!PIPELINE_NAME.test(name))
    return problem(
      400,
      'Invalid Query',
      'pipeline must be a pipeline name: 4-42 lower-case letters, digits and -.',
      [{ path: 'pipeline', message: 'not a pipeline name' }],
    );
  const definition = pipelines.valid.get(name);
  if (definition === undefined)
    return problem(404, 'Unknown Pipeline', `There is no valid pipeline named '${name}'.`);
  const report = await runRetention({
    pipelines: [definition],
    azure,
    now,
    dryRun: true,
    log: () => undefined,
  });
  return { status: 200, jsonBody: report };
}
