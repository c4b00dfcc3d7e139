/**
 * Registers the retention job and its dry-run API. Wiring only: the timer's schedule is the setting
 * RETENTION_SCHEDULE (NCRONTAB, default daily 03:30 UTC; off under `npm start` unless
 * "AzureWebJobs.retention.Disabled" is "false"); what it does is src/retention-runner/run.ts, the
 * dry run is src/api/retention.ts (function key). Both use the pipelines the API serves.
 */
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import { servedPipelines } from '../api/durable-builds-client';
import { getRetentionPlan } from '../api/retention';
import { problem } from '../api/problem';
import { redactText, secretValues } from '../api/redact';
import { withSecurityHeaders } from '../api/security-headers';
import { fireTime } from '../cadence-runner/fire-time';
import { loadConfig } from '../config';
import { runRetention } from '../retention-runner/run';
import { toError } from '../shared/errors';
import { printable } from '../shared/text';
import { pipelineDependencies } from './dependencies';

app.timer('retention', {
  schedule: '%RETENTION_SCHEDULE%',
  handler: async (timer: Timer, context: InvocationContext): Promise<void> => {
    const config = loadConfig();
    const { azure } = pipelineDependencies();
    const now = fireTime(context.triggerMetadata);
    if (timer.isPastDue) context.log(`retention: past-due fire, handled as of ${now.toISOString()}`);
    const pipelines = servedPipelines(config.PIPELINES_DIR);
    for (const { file, problems } of pipelines.invalid)
      context.warn(`retention: ${file} is not a valid pipeline (${problems.length} problem(s)); skipped`);
    await runRetention({
      pipelines: pipelines.valid.values(),
      azure,
      now: now.toISOString(),
      dryRun: false,
      log: (line) => context.log(printable(line)),
    });
  },
});

app.http('getRetentionPlan', {
  methods: ['GET'],
  route: 'retention/plan',
  authLevel: 'function',
  handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    try {
      const { azure } = pipelineDependencies();
      const response = await getRetentionPlan(
        {
          method: request.method,
          url: request.url,
          headers: Object.fromEntries(request.headers.entries()),
          params: request.params,
          query: Object.fromEntries(request.query.entries()),
          body: '',
        },
        servedPipelines(loadConfig().PIPELINES_DIR),
        azure,
        new Date().toISOString(),
      );
      return withSecurityHeaders(response);
    } catch (error) {
      context.error(
        `getRetentionPlan failed: ${printable(redactText(toError(error).message, secretValues(process.env)))}`,
      );
      return withSecurityHeaders(
        problem(500, 'Internal Error', 'The request could not be completed; see the logs for details.'),
      );
    }
  },
});
