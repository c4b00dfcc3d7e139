/** Registers the patch-cadence timer (schedule from PATCH_CADENCE_SCHEDULE). Wiring only. */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { durableBuildsClient, servedPipelines } from '../api/durable-builds-client';
import { runCadence } from '../cadence-runner/run';
import { loadConfig } from '../config';
import { pipelineDependencies } from './dependencies';

app.timer('patchCadence', {
  schedule: '%PATCH_CADENCE_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: async (_timer: Timer, context: InvocationContext): Promise<void> => {
    const config = loadConfig();
    const { azure } = pipelineDependencies();
    await runCadence({
      now: new Date(),
      pipelines: servedPipelines(config.PIPELINES_DIR).valid.values(),
      client: durableBuildsClient(df.getClient(context)),
      currentSourceVersion: async (pipeline) => {
        const source = pipeline.source;
        if (source.type !== 'platformImage')
          return source.type === 'vhd' ? (source.uri.split('?')[0] ?? '') : source.id;
        if (source.version !== 'latest') return source.version;
        const eng = pipeline.stages[0];
        if (eng === undefined) return '';
        const versions = await azure.platformImages(eng.credential).listVersions({
          subscriptionId: eng.subscriptionId,
          location: pipeline.build.location,
          publisher: source.publisher,
          offer: source.offer,
          sku: source.sku,
        });
        return versions.at(-1) ?? '';
      },
      log: (line) => context.log(line),
    });
  },
});
