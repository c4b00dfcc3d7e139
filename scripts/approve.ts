/**
 * Sample on-prem sender: answers a build's pending approval.
 *   npm run approve -- <buildId> <stage> --ticket CHG0001234 [--reject] [--approver name] [--comment text]
 * It reads the pending request from the factory (GET /api/builds/{id}, FACTORY_URL and FACTORY_KEY,
 * defaults: the local factory of `npm start`) and answers it with a decision that echoes the request.
 * A real integrator keeps the request it consumed from approval-requests (ServiceNow stores it on the
 * change); this sample looks it up instead so it can answer any build by id.
 * With ServiceBusConnection set, it sends the decision as a CloudEvent to APPROVAL_DECISIONS_QUEUE
 * (default approval-decisions), signed with APPROVAL_SIGNING_KEY when set. Without it (local
 * factory with no Service Bus), it falls back to raising the event through the Durable HTTP API
 * link the factory returns (no signature or queue checks on that path).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServiceBusClient } from '@azure/service-bus';
import { CLOUDEVENTS_CONTENT_TYPE, parseSigningKey, toDecisionEvent } from '../src/domain/approvals';
import type { ApprovalDecision } from '../src/ports/approvals';

interface Args {
  buildId: string;
  stage: string;
  ticket: string;
  reject: boolean;
  approver: string;
  comment?: string;
}

function parseArgs(argv: string[]): Args {
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
  };
}

function localKey(): string {
  try {
    const settings = JSON.parse(readFileSync('local.settings.json', 'utf8')) as {
      Values?: Record<string, string>;
    };
    return settings.Values?.LOCAL_FUNCTION_KEY ?? 'local-dev-key';
  } catch {
    return 'local-dev-key';
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const base = process.env.FACTORY_URL ?? 'http://localhost:7071';
  const key = process.env.FACTORY_KEY ?? localKey();
  const response = await fetch(`${base}/api/builds/${encodeURIComponent(args.buildId)}`, {
    headers: { 'x-functions-key': key },
  });
  if (!response.ok)
    throw new Error(`GET build ${args.buildId}: HTTP ${response.status} ${await response.text()}`);
  const build = (await response.json()) as {
    pendingApproval?: { requestId: string; buildId: string; stage: string; imageVersion: string };
    links?: { sendEventPostUri?: string };
  };
  const pending = build.pendingApproval;
  if (!pending || pending.stage !== args.stage)
    throw new Error(`build ${args.buildId} has no pending approval for stage ${args.stage}`);
  const decision: ApprovalDecision = {
    requestId: pending.requestId,
    buildId: pending.buildId,
    stage: pending.stage,
    imageVersion: pending.imageVersion,
    decision: args.reject ? 'rejected' : 'approved',
    approver: args.approver,
    changeTicket: args.ticket,
    ...(args.comment ? { comment: args.comment } : {}),
    decidedAt: new Date().toISOString(),
  };
  const connection = process.env.ServiceBusConnection;
  if (connection) {
    const keySetting = process.env.APPROVAL_SIGNING_KEY;
    const id = randomUUID();
    const event = toDecisionEvent(decision, {
      id,
      source: process.env.APPROVAL_SOURCE ?? '/release-management/approve-sample',
      time: new Date().toISOString(),
      ...(keySetting ? { signingKey: parseSigningKey(keySetting) } : {}),
    });
    const client = new ServiceBusClient(connection);
    const sender = client.createSender(process.env.APPROVAL_DECISIONS_QUEUE || 'approval-decisions');
    try {
      await sender.sendMessages({ messageId: id, contentType: CLOUDEVENTS_CONTENT_TYPE, body: event });
    } finally {
      await sender.close();
      await client.close();
    }
    console.log(
      `${decision.decision} ${args.stage} of build ${args.buildId} (version ${pending.imageVersion}, ${args.ticket}) sent to Service Bus${keySetting ? ', signed' : ', unsigned'}; refusals land in approval-rejects`,
    );
    return;
  }
  const link = build.links?.sendEventPostUri?.replace(
    '{eventName}',
    encodeURIComponent(`approval:${args.stage}`),
  );
  if (!link) throw new Error('the factory did not return an event link');
  const sent = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(decision),
  });
  if (!sent.ok) throw new Error(`raise event: HTTP ${sent.status} ${await sent.text()}`);
  console.log(
    `${decision.decision} ${args.stage} of build ${args.buildId} (version ${pending.imageVersion}, ${args.ticket})`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
