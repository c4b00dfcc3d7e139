/**
 * `npm run factory -- <command>`: one CLI for operators over the factory's HTTP API (and, for
 * `rejects`, the approvals Service Bus). Returns the exit code: 0 done, 1 the factory refused or the
 * build did not succeed, 2 a usage error (nothing was sent).
 */
import { createServiceBusClient, isServiceBusConfigured } from '../adapters/servicebus';
import { humanDuration, OUTCOME_WORDS, STEP_WORDS, wordFor } from '../api/words';
import { COMMANDS, parseArgs, usage, UsageError, type Parsed } from './args';
import { decide, masterKey } from './decide';
import { factoryApi, type Settings } from './factory-api';
import { watchBuild, type Output } from './watch';

export interface CliIo {
  out: Output;
  err: (line: string) => void;
  settings: Settings;
}

const enc = encodeURIComponent;
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const localDateTime = (iso: string) =>
  iso ? new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) : '';

async function listBuilds(parsed: Parsed, io: CliIo): Promise<number> {
  const query = new URLSearchParams({ top: str(parsed.flags.top) || '20' });
  if (typeof parsed.flags.pipeline === 'string') query.set('pipeline', parsed.flags.pipeline);
  if (typeof parsed.flags.status === 'string') query.set('status', parsed.flags.status);
  const answer = (await factoryApi(io.settings).get(`/api/builds?${query.toString()}`)) as {
    builds: Record<string, unknown>[];
    total: number;
  };
  if (answer.builds.length === 0) {
    io.out.write('no builds\n');
    return 0;
  }
  const rows = answer.builds.map((b) => [
    str(b.id),
    wordFor(OUTCOME_WORDS, b.outcome),
    b.outcome === 'running'
      ? wordFor(STEP_WORDS, b.step) + (b.currentStage ? ` [${str(b.currentStage)}]` : '')
      : '',
    str(b.imageVersion),
    localDateTime(str(b.createdTime)),
    humanDuration(Date.parse(str(b.lastUpdatedTime)) - Date.parse(str(b.createdTime))),
  ]);
  const header = ['BUILD', 'OUTCOME', 'NOW', 'VERSION', 'STARTED', 'TOOK'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows])
    io.out.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  if (answer.total > rows.length) io.out.write(`(${rows.length} of ${answer.total}; --top for more)\n`);
  return 0;
}

async function startBuild(parsed: Parsed, io: CliIo): Promise<number> {
  const api = factoryApi(io.settings);
  const f = parsed.flags;
  const overrides = {
    ...(typeof f['stop-after'] === 'string' ? { stopAfterStage: f['stop-after'] } : {}),
    ...(typeof f['source-version'] === 'string' ? { sourceVersion: f['source-version'] } : {}),
    ...(typeof f['timeout-minutes'] === 'string'
      ? { buildTimeoutMinutes: Number(f['timeout-minutes']) }
      : {}),
  };
  const answer = (await api.post('/api/builds', {
    pipeline: parsed.args.pipeline,
    ...(typeof f.reason === 'string' ? { reason: f.reason } : {}),
    ...(Object.keys(overrides).length ? { overrides } : {}),
  })) as { id: string; viewUri?: string };
  io.out.write(`started build ${answer.id}\n`);
  if (answer.viewUri) io.out.write(`page: ${answer.viewUri}\n`);
  return f.watch === true ? watchBuild(api, answer.id, io.out) : 0;
}

async function showRejects(parsed: Parsed, io: CliIo): Promise<number> {
  const s = io.settings;
  const connection = {
    ServiceBusConnection: s.ServiceBusConnection,
    ServiceBusConnection__fullyQualifiedNamespace: s.ServiceBusConnection__fullyQualifiedNamespace,
    ServiceBusConnection__clientId: s.ServiceBusConnection__clientId,
  };
  if (!isServiceBusConfigured(connection)) {
    io.err(
      'no Service Bus connection (ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace): without one, refused decisions are only logged by the factory',
    );
    return 1;
  }
  const queue = s.APPROVAL_REJECTS_QUEUE ?? 'approval-rejects';
  const client = createServiceBusClient(connection);
  const receiver = client.createReceiver(queue);
  try {
    // Peek: reads without locking or removing, so the queue's real consumer still gets every message.
    const messages = await receiver.peekMessages(Number(parsed.flags.max ?? 50));
    if (messages.length === 0) io.out.write(`no refused decisions on ${queue}\n`);
    for (const m of messages) {
      const p = m.applicationProperties ?? {};
      const at = p.refusedAt ?? m.enqueuedTimeUtc?.toISOString();
      io.out.write(
        `${localDateTime(typeof at === 'string' ? at : '')}  ${String(p.reason ?? m.subject ?? 'refused')}  build ${String(p.buildId ?? '-')}  request ${String(p.requestId ?? '-')}: ${String(p.detail ?? '')}\n`,
      );
    }
  } finally {
    await receiver.close();
    await client.close();
  }
  return 0;
}

async function run(parsed: Parsed, io: CliIo): Promise<number> {
  const api = () => factoryApi(io.settings);
  const a = parsed.args;
  const f = parsed.flags;
  switch (parsed.command) {
    case 'help':
      io.out.write(`${usage(parsed.topic)}\n`);
      return 0;
    case 'builds':
      return listBuilds(parsed, io);
    case 'start':
      return startBuild(parsed, io);
    case 'watch':
      return watchBuild(api(), a.buildId ?? '', io.out);
    case 'cancel': {
      await api().post(`/api/builds/${enc(a.buildId ?? '')}/cancel`, { reason: f.reason });
      io.out.write(`canceling build ${a.buildId}; it cleans up what it created (watch it to see it end)\n`);
      return 0;
    }
    case 'approve':
    case 'reject': {
      const line = await decide(
        {
          buildId: a.buildId ?? '',
          stage: a.stage ?? '',
          ticket: str(f.ticket),
          reject: parsed.command === 'reject',
          approver: typeof f.approver === 'string' ? f.approver : (io.settings.USER ?? 'release-manager'),
          ...(typeof f.comment === 'string' ? { comment: f.comment } : {}),
          waitMs: Number(f.wait ?? 600) * 1000,
        },
        io.settings,
        { log: (text) => io.out.write(`${text}\n`) },
      );
      io.out.write(`${line}\n`);
      return 0;
    }
    case 'revoke': {
      // Revoking withdraws a released image everywhere: the API takes only the master (admin) key.
      const admin = masterKey(io.settings);
      if (admin === undefined)
        throw new UsageError(
          'revoke needs the factory master (admin) key: set FACTORY_MASTER_KEY (docs/security.md says who holds it)',
        );
      const answer = (await factoryApi(io.settings, admin).post(
        `/api/versions/${enc(a.pipeline ?? '')}/${enc(a.version ?? '')}/revoke`,
        {
          reason: f.reason,
        },
      )) as { id: string; revocationUri?: string };
      io.out.write(
        `revoking ${a.pipeline} ${a.version}: ${answer.id}${answer.revocationUri ? ` (${answer.revocationUri})` : ''}\n`,
      );
      return 0;
    }
    case 'rejects':
      return showRejects(parsed, io);
    default:
      throw new UsageError(
        `unknown command '${parsed.command}'; commands: ${Object.keys(COMMANDS).join(', ')}`,
      );
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`error: ${error.message}\n\n${usage(error.command)}`);
    return 2;
  }
  try {
    return await run(parsed, io);
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
