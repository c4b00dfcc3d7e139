/**
 * The factory's host for the pipeline crash suite, in a process of its own so that the suite can
 * SIGKILL it: the local durable host running the unmodified app on SQLite files in the data
 * directory, its HTTP front end and Service Bus trigger. Azure (simulated) and Service Bus (the
 * local peer) live in the test process and outlive every kill, as they outlive a host in Azure.
 * Started again on the same directory, it resumes where the killed one was.
 *
 * argv[2]: a JSON file with { env, speedup, origin, realOrigin, dataDirectory, functionKey }.
 * Prints `READY <front end url>` once listening; every host log line goes to stdout.
 */
import { readFileSync } from 'node:fs';
import { startFactoryHost } from '../../src/local/factory';
import { ScaledClock } from '../../src/shared/clock';

export interface CrashChildConfig {
  env: Record<string, string>;
  speedup: number;
  origin: number;
  realOrigin: number;
  dataDirectory: string;
  functionKey: string;
}

async function main(): Promise<void> {
  const configFile = process.argv[2];
  if (configFile === undefined) throw new Error('usage: crash-pipeline-child.ts <config.json>');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as CrashChildConfig;
  // The same origin and real origin as the test's clock: one clock across the kills.
  const clock = new ScaledClock(config.speedup, config.origin, config.realOrigin);
  const factory = await startFactoryHost({
    env: config.env,
    clock,
    dataDirectory: config.dataDirectory,
    httpPort: 0,
    functionKey: config.functionKey,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`READY ${factory.http.url}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `crash child failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
