/**
 * host.json and the Flex Consumption settings in infra agree with what the platform reads:
 * - Service Bus extension 5.x (bundle 4.x) reads flat `autoCompleteMessages`, `maxConcurrentCalls`
 *   and `maxAutoLockRenewalDuration` under extensions.serviceBus and ignores the 4.x-era
 *   `messageHandlerOptions` block. The Node worker cannot settle messages, so completion must stay
 *   automatic (success completes, a throw abandons).
 * - "Durable Functions on Flex Consumption" (durable-functions-azure-storage-provider, Flex
 *   Consumption section): one always-ready instance for the `durable` group and a task hub queue
 *   polling interval of at most 10 s.
 * - Node 22 everywhere: the Bicep runtime, package.json engines and @types/node.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface HostJson {
  extensions?: {
    serviceBus?: Record<string, unknown>;
    durableTask?: { storageProvider?: Record<string, unknown> } & Record<string, unknown>;
  };
}

/** host.json timespans are "[d.]hh:mm:ss[.fff]". */
function timespanSeconds(value: unknown): number {
  if (typeof value !== 'string') return Number.NaN;
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value);
  if (match === null) return Number.NaN;
  const [, days, hours, minutes, seconds] = match;
  return Number(days ?? 0) * 86400 + Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds);
}

/** What is wrong with host.json's Service Bus and Durable settings (empty when nothing). */
function hostJsonProblems(host: HostJson): string[] {
  const problems: string[] = [];
  const serviceBus = host.extensions?.serviceBus ?? {};
  if ('messageHandlerOptions' in serviceBus)
    problems.push(
      'extensions.serviceBus.messageHandlerOptions is ignored by Service Bus extension 5.x: use the flat autoCompleteMessages / maxConcurrentCalls',
    );
  if (serviceBus.autoCompleteMessages !== true)
    problems.push(
      'extensions.serviceBus.autoCompleteMessages must be true: the Node app does not settle messages itself',
    );
  const calls = serviceBus.maxConcurrentCalls;
  if (typeof calls !== 'number' || !Number.isInteger(calls) || calls < 1)
    problems.push('extensions.serviceBus.maxConcurrentCalls must be a positive integer');
  if (!(timespanSeconds(serviceBus.maxAutoLockRenewalDuration) > 0))
    problems.push('extensions.serviceBus.maxAutoLockRenewalDuration must be a positive timespan');
  const polling = timespanSeconds(host.extensions?.durableTask?.storageProvider?.maxQueuePollingInterval);
  if (!(polling > 0 && polling <= 10))
    problems.push(
      'extensions.durableTask.storageProvider.maxQueuePollingInterval must be at most 00:00:10 on Flex Consumption',
    );
  return problems;
}

/** What is wrong with the Flex Consumption app config in function.bicep (empty when nothing). */
function flexProblems(functionBicep: string, packageJson: { engines?: { node?: string } }): string[] {
  const problems: string[] = [];
  const alwaysReady = /alwaysReady:\s*\[([^\]]*)\]/.exec(functionBicep)?.[1] ?? '';
  const durable = /\{\s*name:\s*'durable'\s*,?\s*instanceCount:\s*(\d+)\s*\}/.exec(alwaysReady);
  if (durable === null || Number(durable[1]) < 1)
    problems.push(
      "functionAppConfig.scaleAndConcurrency.alwaysReady needs { name: 'durable', instanceCount: 1 }",
    );
  const runtime = /runtime:\s*\{\s*name:\s*'node'\s*,?\s*version:\s*'(\d+)'\s*\}/.exec(functionBicep)?.[1];
  if (runtime !== '22') problems.push(`functionAppConfig.runtime must be node 22, not ${runtime ?? 'unset'}`);
  if (packageJson.engines?.node !== '>=22') problems.push('package.json engines.node must be >=22');
  return problems;
}

describe('host.json and Flex Consumption settings', () => {
  const host = JSON.parse(read('host.json')) as HostJson;
  const bicep = read('infra/app/function.bicep');
  const pkg = JSON.parse(read('package.json')) as {
    engines?: { node?: string };
    devDependencies?: Record<string, string>;
  };

  it('host.json uses the Service Bus 5.x settings and polls the task hub at most every 10 s', () => {
    expect(hostJsonProblems(host)).toEqual([]);
  });

  it('infra runs Node 22 with an always-ready instance for the durable group', () => {
    expect(flexProblems(bicep, pkg)).toEqual([]);
    expect(pkg.devDependencies?.['@types/node']).toMatch(/^22\./);
  });

  it('reports the old messageHandlerOptions block and manual completion', () => {
    const old: HostJson = {
      extensions: {
        serviceBus: {
          maxAutoLockRenewalDuration: '00:05:00',
          messageHandlerOptions: { autoComplete: false, maxConcurrentCalls: 4 },
        },
        durableTask: { storageProvider: { maxQueuePollingInterval: '00:00:30' } },
      },
    };
    expect(hostJsonProblems(old)).toEqual([
      'extensions.serviceBus.messageHandlerOptions is ignored by Service Bus extension 5.x: use the flat autoCompleteMessages / maxConcurrentCalls',
      'extensions.serviceBus.autoCompleteMessages must be true: the Node app does not settle messages itself',
      'extensions.serviceBus.maxConcurrentCalls must be a positive integer',
      'extensions.durableTask.storageProvider.maxQueuePollingInterval must be at most 00:00:10 on Flex Consumption',
    ]);
  });

  it('reports a Node 20 runtime and a missing always-ready durable group', () => {
    const old = bicep.replace(/alwaysReady:\s*\[[^\]]*\]/, '').replace(/version:\s*'22'/, "version: '20'");
    expect(flexProblems(old, { engines: { node: '>=20' } })).toEqual([
      "functionAppConfig.scaleAndConcurrency.alwaysReady needs { name: 'durable', instanceCount: 1 }",
      'functionAppConfig.runtime must be node 22, not 20',
      'package.json engines.node must be >=22',
    ]);
  });
});
