/**
 * `npm run factory -- <command>` in a real terminal (util-linux `script` gives it a pty) against the
 * local factory as `npm start` runs it (the sample settings: local Service Bus peer, signing on),
 * on free ports with time 1000× (a scaled real clock: Service Bus is real I/O). Each command is the
 * real script, started as an operator would; only its settings come from the environment.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalFactory, type LocalFactory } from '../../src/local/factory';
import { ScaledClock } from '../../src/shared/clock';

const sample = (
  JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> }
).Values;
const KEY = 'cli-test-key';
const root = path.resolve(__dirname, '..', '..');
const TSX = path.join(root, 'node_modules', '.bin', 'tsx');

let factory: LocalFactory;
let dataDirectory: string;
let env: Record<string, string>;

beforeAll(async () => {
  dataDirectory = mkdtempSync(path.join(tmpdir(), 'factory-cli-'));
  const settings = Object.fromEntries(Object.entries(sample).filter(([, value]) => value !== ''));
  factory = await startLocalFactory({
    clock: new ScaledClock(1000),
    dataDirectory,
    settings: {
      ...settings,
      ServiceBusConnection: settings.ServiceBusConnection!.replace(':5672', ':0'),
      // Cadence builds would share the staging group with this test's builds and queue them.
      'AzureWebJobs.patchCadence.Disabled': 'true',
      'AzureWebJobs.retention.Disabled': 'true',
    },
    httpPort: 0,
    functionKey: KEY,
    simulator: { seed: 1, tokenLifetimeMs: 365 * 24 * 3600_000 },
  });
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    TERM: 'xterm',
    USER: 'cli-operator',
    FACTORY_URL: factory.http.url,
    FACTORY_KEY: KEY,
    // Revoke takes the master key only (docs/security.md).
    FACTORY_MASTER_KEY: factory.keys.master,
    ServiceBusConnection: factory.serviceBus!.connectionString,
    APPROVAL_SIGNING_KEY: sample.APPROVAL_SIGNING_KEY!,
  };
}, 30_000);

afterAll(async () => {
  await factory?.stop();
  rmSync(dataDirectory, { recursive: true, force: true });
});

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI in a pty (tty) or with pipes; resolves with its exit code and everything it wrote. */
function cli(
  args: string[],
  options: { tty?: boolean; env?: Record<string, string>; onOutput?: (soFar: string) => void } = {},
): Promise<{ code: number | null; out: string }> {
  const command = [TSX, 'scripts/factory.ts', ...args];
  const child =
    options.tty === false
      ? spawn(command[0]!, command.slice(1), { cwd: root, env: { ...env, ...options.env } })
      : spawn('script', ['-q', '-e', '-c', command.map(quote).join(' '), '/dev/null'], {
          cwd: root,
          env: { ...env, ...options.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let out = '';
  const take = (chunk: Buffer) => {
    out += chunk.toString();
    options.onOutput?.(out);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

test('usage errors name the problem, print the usage and exit 2 before sending anything', async () => {
  const [unknown, flag, missing, required, bad] = await Promise.all([
    cli(['deploy']),
    cli(['builds', '--colour', 'red']),
    cli(['watch']),
    cli(['cancel', 'some-build']),
    cli(['builds', '--top', '0']),
  ]);
  expect(unknown.code).toBe(2);
  expect(unknown.out).toContain("error: unknown command 'deploy'");
  expect(unknown.out).toContain('usage: npm run factory -- <command>');
  expect(flag.code).toBe(2);
  expect(flag.out).toContain("unknown flag --colour for 'builds'; flags: --pipeline, --status, --top");
  expect(missing.code).toBe(2);
  expect(missing.out).toContain('missing <buildId>');
  expect(missing.out).toContain('usage: npm run factory -- watch <buildId>');
  expect(required.code).toBe(2);
  expect(required.out).toContain('--reason is required');
  expect(bad.code).toBe(2);
  expect(bad.out).toContain("--top must be a whole number 1..500, not '0'");
  expect((await factory.host.engine.list({})).instances).toEqual([]);
}, 60_000);

test('start, approve before the request exists, watch live to the end, builds lists it', async () => {
  const started = await cli(['start', 'ubuntu-2204-base', '--reason', 'cli in a terminal']);
  expect(started.code).toBe(0);
  const id = /started build (\S+)/.exec(started.out)?.[1];
  expect(id).toMatch(/^ubuntu-2204-base-/);
  // Links come from the configured host name (WEBSITE_HOSTNAME, which the local factory sets), never
  // from the request.
  expect(started.out).toContain(
    `page: http://localhost:${new URL(factory.http.url).port}/api/builds/${id}/view`,
  );

  // The PROD decision is sent at once and waits until the build asks for PROD (only after the TEST
  // decision). The TEST decision is sent once the watch shows the TEST wait, so the watch sees a
  // wait whatever the machine's load (a decision already on its way can end a wait between polls).
  let testSeen: () => void = () => undefined;
  const testWaitShown = new Promise<void>((resolve) => (testSeen = resolve));
  const [watched, test, prod] = await Promise.all([
    cli(['watch', id!], {
      onOutput: (soFar) => soFar.includes('waiting for approval [TEST]') && testSeen(),
    }),
    testWaitShown.then(() => cli(['approve', id!, 'TEST', '--ticket', 'CHG0001'])),
    cli(['approve', id!, 'PROD', '--ticket', 'CHG0002', '--approver', 'rm@contoso.com']),
  ]);
  expect(prod.out).toContain(`waiting for build ${id} to ask for PROD approval (up to 600 s)`);
  expect(prod.out).toContain(`approved PROD of build ${id}`);
  expect(test.out).toContain(`approved TEST of build ${id}`);
  expect(test.code).toBe(0);
  expect(prod.code).toBe(0);
  expect(watched.code).toBe(0);
  // A live line per step: rewritten in place (carriage return + erase), closed with its duration.
  expect(watched.out).toContain('\r\x1b[K');
  // The TEST wait, closed with its duration when the step changed.
  expect(watched.out).toMatch(/waiting for approval \[TEST\][^\n]*· \d+ s \(\d+ s\)\r?\n/);
  // Replication to each stage (two regions, 40 simulated minutes: over two seconds at this speed,
  // so at least two watch polls): a progress bar.
  expect(watched.out).toMatch(/copying to the stage \[TEST\]: [^\n]*\[[#-]{20}\] +\d+%/);
  expect(watched.out).toMatch(/copying to the stage \[PROD\]: [^\n]*\[[#-]{20}\] +\d+%/);
  expect(watched.out).toContain(`build ${id} succeeded`);

  const listed = await cli(['builds', '--pipeline', 'ubuntu-2204-base']);
  expect(listed.code).toBe(0);
  expect(listed.out).toMatch(new RegExp(`${id}\\s+succeeded\\s+\\s*\\d{4}\\.\\d+\\.\\d+`));

  // Revoke the version it made: the answer names the revocation resource.
  const version = (await factory.host.getStatus(id!))?.customStatus as { imageVersion: string };
  const revoked = await cli([
    'revoke',
    'ubuntu-2204-base',
    version.imageVersion,
    '--reason',
    'CVE-2026-0002',
  ]);
  expect(revoked.code).toBe(0);
  expect(revoked.out).toContain(
    `revoking ubuntu-2204-base ${version.imageVersion}: revoke-ubuntu-2204-base-${version.imageVersion} (http://localhost:${new URL(factory.http.url).port}/api/revocations/revoke-ubuntu-2204-base-${version.imageVersion})`,
  );
  const badVersion = await cli(['revoke', 'ubuntu-2204-base', 'latest', '--reason', 'x']);
  expect(badVersion.code).toBe(1);
  expect(badVersion.out).toContain('HTTP 400 Invalid Request - Not an image version.');
  expect(badVersion.out).toContain('(route) version: must be Major.Minor.Patch');

  // Not a terminal: plain lines, no control sequences; exit 1 for a build that did not succeed.
  const piped = await cli(['watch', id!], { tty: false });
  expect(piped.code).toBe(0);
  expect(piped.out).not.toContain('\x1b');
  expect(piped.out).toContain(`build ${id} succeeded`);
}, 180_000);

test('a decision signed with the wrong key is refused: rejects shows it by peeking, and reject then ends the build', async () => {
  const started = await cli(['start', 'ubuntu-2204-base', '--stop-after', 'TEST'], { tty: false });
  const id = /started build (\S+)/.exec(started.out)?.[1];
  expect(id).toBeDefined();
  const forged = await cli(['approve', id!, 'TEST', '--ticket', 'CHG0003'], {
    env: { APPROVAL_SIGNING_KEY: 'not-the-factory-key-0123456789abcdef' },
  });
  expect(forged.code).toBe(0); // sent; the factory refuses it
  const giveUp = Date.now() + 30_000;
  let rejects = await cli(['rejects']);
  while (!rejects.out.includes(id!) && Date.now() < giveUp) rejects = await cli(['rejects']);
  expect(rejects.code).toBe(0);
  expect(rejects.out).toMatch(new RegExp(`bad-signature\\s+build ${id}\\s+request ${id}-TEST-1`));
  // Peeked, not received: the queue still holds it.
  expect(factory.serviceBus!.queue('approval-rejects').counts.active).toBe(1);

  const rejected = await cli(['reject', id!, 'TEST', '--ticket', 'CHG0004', '--comment', 'not today']);
  expect(rejected.code).toBe(0);
  const watched = await cli(['watch', id!], { tty: false });
  expect(watched.code).toBe(1);
  expect(watched.out).toContain(`build ${id} rejected`);
  // The build has ended: a decision for it now fails at once, naming why.
  const late = await cli(['approve', id!, 'TEST', '--ticket', 'CHG0005']);
  expect(late.code).toBe(1);
  expect(late.out).toContain(`build ${id} has no pending approval for stage TEST: it has ended (rejected)`);
}, 180_000);
