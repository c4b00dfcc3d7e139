/**
 * Composition root: builds the activities' dependencies from settings, once per distinct set of
 * settings (a local host started again with other settings gets fresh adapters).
 */
import { loadConfig, type AppConfig } from '../config';
import { createAzurePorts } from '../adapters';
import { RecordingApprovals } from '../adapters/recording-approvals';
import type { ApprovalsPort } from '../ports/approvals';
import type { PipelineDependencies } from '../activities/pipeline';
import { systemClock } from '../shared/clock';
import { printable } from '../shared/text';
import { approvalSigningKeys } from '../config/approvals';

let cached: { key: string; dependencies: PipelineDependencies } | undefined;

/** Set by the approvals module when a Service Bus connection is configured. */
let approvalsFactory: ((config: AppConfig) => ApprovalsPort) | undefined;
export function useApprovalsFactory(factory: (config: AppConfig) => ApprovalsPort): void {
  approvalsFactory = factory;
  cached = undefined;
}

export function pipelineDependencies(
  env: Record<string, string | undefined> = process.env,
): PipelineDependencies {
  const key = JSON.stringify(
    Object.entries(env)
      .filter(([name]) => /^(ARM_|AZURE_|IDENTITY_|FACTORY_|BUILD_SLOTS_|ServiceBus|APPROVAL)/.test(name))
      .sort(),
  );
  if (cached?.key === key) return cached.dependencies;
  const config = loadConfig(env);
  const log = (line: string) => console.log(`[image-factory] ${printable(line)}`);
  const signingKeys = approvalSigningKeys(config);
  const dependencies: PipelineDependencies = {
    azure: createAzurePorts(config, { env, updateIntervalInMs: config.ARM_POLL_INTERVAL_MS }),
    approvals: approvalsFactory ? approvalsFactory(config) : new RecordingApprovals(log),
    clock: systemClock,
    quickRetryPauseMs: config.ARM_POLL_INTERVAL_MS,
    log,
    buildSlotsPerSubscriptionRegion: config.BUILD_SLOTS_PER_SUBSCRIPTION_REGION,
    ...(signingKeys === undefined ? {} : { approvalSigningKey: signingKeys }),
  };
  cached = { key, dependencies };
  return dependencies;
}
