/** Child for capture.test.ts: two hosts in one plain-node process, each loading the app afresh. */
import { VirtualClock } from '../../src/shared/clock';
import { LocalHost } from '../../src/local/host';

async function main(): Promise<void> {
  for (const greeting of ['Hi', 'Hey']) {
    const host = await LocalHost.start({
      appEntry: 'test/fixtures/sample-app/index.ts',
      env: { SAMPLE_GREETING: greeting },
      clock: new VirtualClock(),
    });
    process.stdout.write(`${String(await host.callActivity('hello', 'x'))}\n`);
    if (greeting === 'Hey') {
      const id = await host.startNew('helloSequence', { input: ['a'] });
      const status = await host.waitFor(id);
      process.stdout.write(`${status.runtimeStatus} ${JSON.stringify(status.output)}\n`);
    }
    await host.stop();
  }
}

void main();
