/**
 * `npm start` (scripts/start.ts) as a user runs it, with the sample settings on free ports, and the
 * operator CLI in a real terminal (util-linux `script`) against it: the banner says the cadence
 * timer is off and when it would fire, no build starts by itself, and a refused approval decision
 * prints one line with its reason (and `rejects` shows it). The factory's settings file and data
 * directory are temporary (LOCAL_SETTINGS_FILE, LOCAL_DATA_DIR). Last, a SIGTERM to npm alone (as
 * `timeout` or a process manager sends it) stops everything npm start started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const TSX = path.join(root, 'node_modules', '.bin', 'tsx');
const KEY = 'npm-start-test-key';
const sample = (
  JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  }
).Values;

let dir: string;
let factory: ChildProcess;
let output = '';
let base: string;
let serviceBus: string;

const until = async (what: () => boolean, label: string, ms = 60_000) => {
  const giveUp = Date.now() + ms;
  while (!what()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${label}; npm start printed:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'npm-start-'));
  const settings = {
    ...sample,
    LOCAL_HTTP_PORT: '0',
    LOCAL_FUNCTION_KEY: KEY,
    LOCAL_SPEEDUP: '3000',
    ServiceBusConnection: sample.ServiceBusConnection!.replace(':5672', ':0'),
  };
  writeFileSync(path.join(dir, 'local.settings.json'), JSON.stringify({ Values: settings }));
  factory = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: {
      ...process.env,
      LOCAL_SETTINGS_FILE: path.join(dir, 'local.settings.json'),
      LOCAL_DATA_DIR: path.join(dir, 'data'),
    },
    // Its own process group: the last test checks that the group empties, and afterAll stops
    // whatever is left of it.
    detached: true,
  });
  factory.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  factory.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until(() => output.includes('Progress of every build'), 'the banner');
  base = /Console: +(http:\/\/[^/\s]+)\/api\/fleet\/view/.exec(output)![1]!;
  const port = /AMQP peer on 127\.0\.0\.1:(\d+)/.exec(output)![1]!;
  serviceBus = settings.ServiceBusConnection.replace(':0;', `:${port};`);
}, 90_000);

/** Whether any process of npm start's process group is still running. */
const groupAlive = (): boolean => {
  try {
    process.kill(-factory.pid!, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(async () => {
  if (factory?.pid !== undefined && groupAlive()) {
    process.kill(-factory.pid, 'SIGTERM');
    await until(() => !groupAlive(), 'npm start to stop', 20_000).catch(() =>
      process.kill(-factory.pid!, 'SIGKILL'),
    );
  }
  rmSync(dir, { recursive: true, force: true });
});

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  const command = [TSX, 'scripts/factory.ts', ...args].map(quote).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      TERM: 'xterm',
      FACTORY_URL: base,
      FACTORY_KEY: KEY,
      ServiceBusConnection: serviceBus,
      APPROVAL_SIGNING_KEY: sample.APPROVAL_SIGNING_KEY!,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

test('the banner says the cadence is off, when it would fire and how to turn it on', () => {
  expect(output).toContain('The patch-cadence timer is OFF: no build starts unless you ask.');
  expect(output).toMatch(
    /ubuntu-2204-base: \d{4}-\d\d-\d\d \d\d:\d\d UTC factory time \(in about [^)]+ real time\)/,
  );
  expect(output).toContain('set "AzureWebJobs.patchCadence.Disabled": "false" in local.settings.json');
  expect(output).toContain(`Console:        ${base}/api/fleet/view?code=${KEY}`);
});

test('a refused decision prints one line with its reason; no cadence build started meanwhile', async () => {
  const started = await cli([
    'start',
    'ubuntu-2204-base',
    '--stop-after',
    'TEST',
    '--reason',
    'npm start test',
  ]);
  expect(started.code).toBe(0);
  const id = /started build (\S+)/.exec(started.out)![1]!;
  const forged = await cli(['approve', id, 'TEST', '--ticket', 'CHG0009'], {
    APPROVAL_SIGNING_KEY: 'a-key-the-factory-does-not-have-0123456789',
  });
  expect(forged.code).toBe(0);
  await until(() => output.includes('refused approval decision'), 'the refusal line');
  const lines = output.split('\n').filter((line) => line.includes('refused approval decision'));
  expect(lines).toEqual([
    expect.stringMatching(
      new RegExp(
        `refused approval decision \\(bad-signature[^)]*\\): .+ \\[message \\S+; npm run factory -- rejects\\]$`,
      ),
    ),
  ]);
  const rejects = await cli(['rejects']);
  expect(rejects.out).toContain(`bad-signature  build ${id}`);
  const builds = await cli(['builds']);
  // Only the build asked for: the header and one row.
  expect(builds.out.trim().split('\n')).toEqual([
    expect.stringMatching(/^BUILD/),
    expect.stringContaining(id),
  ]);
  await cli(['cancel', id, '--reason', 'test over']);
}, 120_000);

test('a SIGTERM to npm alone stops everything npm start started', async () => {
  const exited = new Promise((resolve) => factory.once('exit', resolve));
  factory.kill('SIGTERM');
  await exited;
  // npm runs the script through `sh -c`, which does not pass the signal on: without `exec` in the
  // script, tsx and the factory went on running, holding their ports.
  await until(() => !groupAlive(), 'the factory to stop after npm did', 20_000);
}, 30_000);
