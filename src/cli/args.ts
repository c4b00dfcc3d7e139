/**
 * The commands of `npm run factory -- <command>` and a strict parser: an unknown command, flag or
 * extra argument is a UsageError (exit 2) that names it, before anything is sent to the factory.
 */

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print under the error, when known. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

interface FlagSpec {
  /** Takes a value (`--reason text`) or is a switch (`--watch`). */
  value: boolean;
  required?: boolean;
  /** Checked after parsing; returns a problem or undefined. */
  check?: (value: string) => string | undefined;
  help: string;
}

export interface CommandSpec {
  args: string[];
  summary: string;
  flags: Record<string, FlagSpec>;
  example: string;
}

const positiveInt = (max: number) => (value: string) =>
  /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= max
    ? undefined
    : `must be a whole number 1..${max}`;

const waitFlag: FlagSpec = {
  value: true,
  check: positiveInt(86_400),
  help: 'how long to wait for the pending request (seconds, default 600)',
};

const decisionFlags: Record<string, FlagSpec> = {
  ticket: { value: true, required: true, help: 'the change ticket that authorises it (e.g. CHG0001234)' },
  approver: { value: true, help: 'who decides (default: $USER)' },
  comment: { value: true, help: 'a comment kept with the decision' },
  wait: waitFlag,
};

export const COMMANDS: Record<string, CommandSpec> = {
  builds: {
    args: [],
    summary: 'list builds, newest first',
    flags: {
      pipeline: { value: true, help: 'only this pipeline' },
      status: {
        value: true,
        check: (v) =>
          ['running', 'succeeded', 'failed', 'rejected', 'timedOut', 'canceled'].includes(v)
            ? undefined
            : 'must be running, succeeded, failed, rejected, timedOut or canceled',
        help: 'only builds with this outcome',
      },
      top: { value: true, check: positiveInt(500), help: 'at most this many (default 20)' },
    },
    example: 'npm run factory -- builds --status running',
  },
  start: {
    args: ['pipeline'],
    summary: 'start a build of a pipeline',
    flags: {
      reason: { value: true, help: 'why (kept with the build)' },
      'stop-after': { value: true, help: 'promote only up to this stage (e.g. ENG)' },
      'source-version': { value: true, help: "pin the platform image version ('latest' or 1.2.3)" },
      'timeout-minutes': { value: true, check: positiveInt(960), help: 'build timeout for this run' },
      watch: { value: false, help: 'then watch it until it ends' },
    },
    example: 'npm run factory -- start ubuntu-2204-base --reason "first try" --watch',
  },
  watch: {
    args: ['buildId'],
    summary: 'follow a build live until it ends (exit 0 when it succeeded, 1 otherwise)',
    flags: {},
    example: 'npm run factory -- watch ubuntu-2204-base-1a2b3c',
  },
  cancel: {
    args: ['buildId'],
    summary: 'cancel a running build (it cleans up what it created)',
    flags: { reason: { value: true, required: true, help: 'why (kept with the build)' } },
    example: 'npm run factory -- cancel ubuntu-2204-base-1a2b3c --reason "wrong source"',
  },
  approve: {
    args: ['buildId', 'stage'],
    summary: "approve a stage; waits for the build's request when it is not pending yet",
    flags: decisionFlags,
    example: 'npm run factory -- approve ubuntu-2204-base-1a2b3c TEST --ticket CHG0001',
  },
  reject: {
    args: ['buildId', 'stage'],
    summary: "reject a stage; waits for the build's request when it is not pending yet",
    flags: decisionFlags,
    example: 'npm run factory -- reject ubuntu-2204-base-1a2b3c PROD --ticket CHG0002 --comment "CVE open"',
  },
  revoke: {
    args: ['pipeline', 'version'],
    summary:
      'revoke an image version in every tenant (excluded from latest, then deleted); needs FACTORY_MASTER_KEY',
    flags: { reason: { value: true, required: true, help: 'why (kept with the revocation)' } },
    example: 'npm run factory -- revoke ubuntu-2204-base 2026.1206.1 --reason "CVE-2026-0001"',
  },
  rejects: {
    args: [],
    summary: 'show refused approval decisions (peeks approval-rejects; removes nothing)',
    flags: { max: { value: true, check: positiveInt(250), help: 'at most this many (default 50)' } },
    example: 'npm run factory -- rejects',
  },
  help: {
    args: [],
    summary: "this text, or one command's usage: help <command>",
    flags: {},
    example: 'npm run factory -- help approve',
  },
};

export interface Parsed {
  command: string;
  args: Record<string, string>;
  flags: Record<string, string | true>;
  /** help's optional topic */
  topic?: string;
}

export function usage(command?: string): string {
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (command === undefined || spec === undefined) {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
    return [
      'usage: npm run factory -- <command> [arguments] [--flags]',
      '',
      ...Object.entries(COMMANDS).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`),
      '',
      'The factory: FACTORY_URL and FACTORY_KEY, else local.settings.json (LOCAL_HTTP_PORT,',
      'LOCAL_FUNCTION_KEY), i.e. the factory of `npm start`. `help <command>` shows its flags.',
      'revoke takes the master (admin) key: FACTORY_MASTER_KEY, else .local/master-key.',
    ].join('\n');
  }
  const flags = Object.entries(spec.flags).map(
    ([name, f]) => `  --${name}${f.value ? ' <value>' : ''}${f.required ? ' (required)' : ''}  ${f.help}`,
  );
  return [
    `usage: npm run factory -- ${command} ${spec.args.map((a) => `<${a}>`).join(' ')}`.trimEnd() +
      (Object.keys(spec.flags).length ? ' [--flags]' : ''),
    `  ${spec.summary}`,
    ...(flags.length ? ['', ...flags] : []),
    '',
    `example: ${spec.example}`,
  ].join('\n');
}

export function parseArgs(argv: string[]): Parsed {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h')
    return { command: 'help', args: {}, flags: {} };
  const spec = COMMANDS[command];
  if (spec === undefined)
    throw new UsageError(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '--help' || arg === '-h') return { command: 'help', args: {}, flags: {}, topic: command };
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name = '', inline] = arg.slice(2).split(/=(.*)/s, 2);
    const flag = spec.flags[name];
    if (flag === undefined)
      throw new UsageError(
        `unknown flag --${name} for '${command}'${
          Object.keys(spec.flags).length
            ? `; flags: ${Object.keys(spec.flags)
                .map((f) => `--${f}`)
                .join(', ')}`
            : '; it takes no flags'
        }`,
        command,
      );
    if (name in flags) throw new UsageError(`--${name} given twice`, command);
    if (!flag.value) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`, command);
      flags[name] = true;
      continue;
    }
    const value = inline ?? rest[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--')))
      throw new UsageError(`--${name} needs a value`, command);
    const problem = flag.check?.(value);
    if (problem !== undefined) throw new UsageError(`--${name} ${problem}, not '${value}'`, command);
    flags[name] = value;
  }
  if (command === 'help') {
    if (positional.length > 1) throw new UsageError(`help takes one command, not ${positional.length}`);
    const topic = positional[0];
    if (topic !== undefined && COMMANDS[topic] === undefined)
      throw new UsageError(`unknown command '${topic}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
    return { command, args: {}, flags, ...(topic === undefined ? {} : { topic }) };
  }
  if (positional.length < spec.args.length)
    throw new UsageError(`missing <${spec.args[positional.length]}>`, command);
  if (positional.length > spec.args.length)
    throw new UsageError(`unexpected argument '${positional[spec.args.length]}'`, command);
  for (const [name, flag] of Object.entries(spec.flags))
    if (flag.required && !(name in flags)) throw new UsageError(`--${name} is required`, command);
  const args = Object.fromEntries(spec.args.map((name, i) => [name, positional[i] as string]));
  return { command, args, flags };
}
