/**
 * Sample on-prem sender: answers a build's pending approval.
 *   npm run approve -- <buildId> <stage> --ticket CHG0001234 [--reject] [--approver name] [--comment text]
 * Settings come from local.settings.json (Values), overridden by the environment (FACTORY_URL,
 * FACTORY_KEY, FACTORY_MASTER_KEY, ServiceBusConnection, APPROVAL_SIGNING_KEY…). The sending is
 * src/cli/decide.ts, shared with `npm run factory -- approve|reject` (which also waits for the
 * request); this command keeps its original flags and answers only a request pending now.
 */
import { decide, type DecideArgs } from '../src/cli/decide';
import { cliSettings } from '../src/cli/factory-api';

function parseArgs(argv: string[]): DecideArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--reject') flags.reject = true;
    else if (arg.startsWith('--')) flags[arg.slice(2)] = argv[++i] ?? '';
    else positional.push(arg);
  }
  const [buildId, stage] = positional;
  if (!buildId || !stage || typeof flags.ticket !== 'string' || flags.ticket === '') {
    throw new Error(
      'usage: npm run approve -- <buildId> <stage> --ticket CHG0001234 [--reject] [--approver name] [--comment text]',
    );
  }
  return {
    buildId,
    stage,
    ticket: flags.ticket,
    reject: flags.reject === true,
    approver: typeof flags.approver === 'string' ? flags.approver : (process.env.USER ?? 'release-manager'),
    ...(typeof flags.comment === 'string' ? { comment: flags.comment } : {}),
    waitMs: 0,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(await decide(args, cliSettings()));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
