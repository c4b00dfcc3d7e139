/**
 * Child process for the crash test: runs the local host on a SQLite file with the real clock,
 * starts (or resumes) one instance, raises the approval when told to on stdin (printing RAISED
 * once the host accepted it), and prints DONE <json> when the instance finishes.
 */
import { LocalHost } from '../../src/local/host';

async function main(): Promise<void> {
  const [databasePath, instanceId] = process.argv.slice(2) as [string, string];
  const host = await LocalHost.start({ appEntry: 'test/fixtures/sample-app/index.ts', databasePath });
  if ((await host.getStatus(instanceId)) === undefined) {
    await host.startNew('crashCourse', { instanceId, input: 6 });
  }
  process.stdout.write('READY\n');
  process.stdin.on('data', (chunk: Buffer) => {
    // The parent raises the approval through us, like an HTTP call to a running host would.
    if (chunk.toString().includes('approve'))
      void host.raiseEvent(instanceId, 'approval', 'granted').then(() => process.stdout.write('RAISED\n'));
  });
  const status = await host.waitFor(instanceId, { timeoutMs: 60_000 });
  process.stdout.write(`DONE ${JSON.stringify(status)}\n`);
  await host.stop();
  process.exit(0);
}

void main();
