/**
 * Registers the patch-cadence timer. Wiring only: schedule from the setting PATCH_CADENCE_SCHEDULE
 * (NCRONTAB, default '0 0 * * * *': a check at the top of every hour); what is due is decided per
 * pipeline by src/cadence-runner/run.ts. While FACTORY_DRAINING is true it starts nothing.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { durableBuildsClient, servedPipelines } from '../api/durable-builds-client';
import { fireTime } from '../cadence-runner/fire-time';
import { runCadence } from '../cadence-runner/run';
import { sourceVersionsFrom } from '../cadence-runner/source-version';
import { loadConfig } from '../config';
import { pipelineDependencies } from './dependencies';

app.timer('patchCadence', {
  schedule: '%PATCH_CADENCE_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: async (timer: Timer, context: InvocationContext): Promise<void> => {
    const config = loadConfig();
    if (config.FACTORY_DRAINING) {
      context.log('cadence: the factory is draining (FACTORY_DRAINING=true); no builds started this fire');
      return;
    }
    const { azure } = pipelineDependencies();
    const sources = sourceVersionsFrom((credential) => azure.platformImages(credential));
    const now = fireTime(context.triggerMetadata);
    if (timer.isPastDue) context.log(`cadence: past-due fire, handled as of ${now.toISOString()}`);
    const pipelines = servedPipelines(config.PIPELINES_DIR);
    for (const { file, problems } of pipelines.invalid)
      context.warn(`cadence: ${file} is not a valid pipeline (${problems.length} problem(s)); not scheduled`);
    await runCadence({
      now,
      pipelines: pipelines.valid.values(),
      client: durableBuildsClient(df.getClient(context)),
      currentSourceVersion: (pipeline) => sources.current(pipeline),
      log: (line) => context.log(line),
    });
  },
});
