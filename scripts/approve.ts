/**
 * Sample on-prem sender: answers a build's pending approval.
 *   npm run approve -- <buildId> <stage> --ticket CHG0001234 [--reject] [--approver name] [--comment text]
 * Settings come from local.settings.json (Values), overridden by the environment.
 * It reads the pending request from the factory (GET /api/builds/{id}, FACTORY_URL and FACTORY_KEY,
 * defaults: the local factory of `npm start`; where that route is missing, the Durable status API
 * /runtime/webhooks/durabletask/instances/{id} with code=FACTORY_KEY) and answers it with a decision
 * that echoes the request.
 * A real integrator keeps the request it consumed from approval-requests (ServiceNow stores it on the
 * change); this sample looks it up instead so it can answer any build by id.
 * With ServiceBusConnection (or ServiceBusConnection__fullyQualifiedNamespace, DefaultAzureCredential
 * or ServiceBusConnection__clientId) set, it sends the decision as a CloudEvent to APPROVAL_DECISIONS_QUEUE
 * (default approval-decisions), signed with APPROVAL_SIGNING_KEY when set. Without it (local
 * factory with no Service Bus), it falls back to raising the event through the Durable HTTP API
 * link the factory returns; the event then carries the signature as its proof when a key is set
 * (the build checks it), but the trigger's queue checks (late, duplicate) do not apply.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createServiceBusClient, isServiceBusConfigured } from '../src/adapters/servicebus';
import {
  answerRequest,
  CLOUDEVENTS_CONTENT_TYPE,
  parseSigningKey,
  signDecision,
  toDecisionEvent,
} from '../src/domain/approvals';
import { approvalEventName, type RaisedApprovalDecision } from '../src/ports/approvals';

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

/**
 * Settings as the factory sees them: local.settings.json (Values) when present, overridden by the
 * environment, so the sample answers the local factory of `npm start` with no flags.
 */
function settings(): Record<string, string | undefined> {
  let values: Record<string, string> = {};
  try {
    const parsed = JSON.parse(readFileSync('local.settings.json', 'utf8')) as {
      Values?: Record<string, string>;
    };
    values = parsed.Values ?? {};
  } catch {
    // No local settings: the environment alone.
  }
  const merged: Record<string, string | undefined> = { ...values };
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) merged[name] = value;
  // Empty means "not set", as in the Functions host.
  for (const [name, value] of Object.entries(merged)) if (value === '') delete merged[name];
  return merged;
}

interface PendingRequest {
  requestId: string;
  buildId: string;
  stage: string;
  imageVersion: string;
  requestedAt?: string;
}

/**
 * The API's Durable links carry no key; the Durable webhooks take the master key, which npm start
 * keeps to itself unless Service Bus is off (then it writes .local/master-key for this script).
 */
function withMasterKey(link: string | undefined, key: string): string | undefined {
  if (link === undefined || /[?&]code=/.test(link)) return link;
  return `${link}${link.includes('?') ? '&' : '?'}code=${encodeURIComponent(key)}`;
}

const MASTER_KEY_FILE = path.join(__dirname, '..', '.local', 'master-key');

function masterKey(env: Record<string, string | undefined>): string | undefined {
  if (env.FACTORY_MASTER_KEY) return env.FACTORY_MASTER_KEY;
  return existsSync(MASTER_KEY_FILE) ? readFileSync(MASTER_KEY_FILE, 'utf8').trim() : undefined;
}

const NO_MASTER_KEY =
  'raising the decision through the Durable API needs the master key: set FACTORY_MASTER_KEY ' +
  '(npm start writes it to .local/master-key when it runs without Service Bus)';

/**
 * The build's pending request: from the factory API (GET /api/builds/{id} → pendingApproval) or,
 * where that route is not deployed (404 that is not the API's problem answer), from the Durable
 * status API (customStatus.pendingApproval). Also returns a link to raise the event directly.
 */
async function findPending(
  base: string,
  key: string,
  master: string,
  buildId: string,
  eventName: string,
): Promise<{ pending: PendingRequest | undefined; eventLink: string | undefined }> {
  const response = await fetch(`${base}/api/builds/${encodeURIComponent(buildId)}`, {
    headers: { 'x-functions-key': key },
  });
  const isProblem = (response.headers.get('content-type') ?? '').includes('problem+json');
  if (response.ok) {
    const build = (await response.json()) as {
      pendingApproval?: PendingRequest;
      links?: { sendEventPostUri?: string };
    };
    return {
      pending: build.pendingApproval,
      eventLink: withMasterKey(
        build.links?.sendEventPostUri?.replace('{eventName}', encodeURIComponent(eventName)),
        master,
      ),
    };
  }
  if (response.status !== 404 || isProblem)
    throw new Error(`GET build ${buildId}: HTTP ${response.status} ${await response.text()}`);
  const instance = `${base}/runtime/webhooks/durabletask/instances/${encodeURIComponent(buildId)}`;
  const status = await fetch(`${instance}?code=${encodeURIComponent(master)}`);
  if (status.status === 401) throw new Error(NO_MASTER_KEY);
  if (status.status === 404) throw new Error(`build ${buildId} not found`);
  if (!status.ok)
    throw new Error(`Durable status of ${buildId}: HTTP ${status.status} ${await status.text()}`);
  const body = (await status.json()) as { customStatus?: { pendingApproval?: PendingRequest } | null };
  return {
    pending: body.customStatus?.pendingApproval,
    eventLink: `${instance}/raiseEvent/${encodeURIComponent(eventName)}?code=${encodeURIComponent(master)}`,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const env = settings();
  const base = (env.FACTORY_URL ?? `http://localhost:${env.LOCAL_HTTP_PORT ?? 7071}`).replace(/\/+$/, '');
  const key = env.FACTORY_KEY ?? env.LOCAL_FUNCTION_KEY ?? 'local-dev-key';
  const eventName = approvalEventName(args.stage);
  // FACTORY_KEY may itself be the master key (as the Durable webhooks take it).
  const master = masterKey(env) ?? key;
  const { pending, eventLink } = await findPending(base, key, master, args.buildId, eventName);
  if (!pending || pending.stage !== args.stage)
    throw new Error(`build ${args.buildId} has no pending approval for stage ${args.stage}`);
  const decision = answerRequest(pending, {
    decision: args.reject ? 'rejected' : 'approved',
    approver: args.approver,
    changeTicket: args.ticket,
    ...(args.comment ? { comment: args.comment } : {}),
    // A decision predating its request is refused (bad-time); `npm start` runs the factory on a
    // sped-up clock, ahead of this machine's, so never stamp earlier than the request.
    decidedAt: new Date(Math.max(Date.now(), Date.parse(pending.requestedAt ?? '') || 0)).toISOString(),
  });
  const connection = {
    ServiceBusConnection: env.ServiceBusConnection,
    ServiceBusConnection__fullyQualifiedNamespace: env.ServiceBusConnection__fullyQualifiedNamespace,
    ServiceBusConnection__clientId: env.ServiceBusConnection__clientId,
  };
  const keySetting = env.APPROVAL_SIGNING_KEY;
  const id = randomUUID();
  if (isServiceBusConfigured(connection)) {
    const event = toDecisionEvent(decision, {
      id,
      source: env.APPROVAL_SOURCE ?? '/release-management/approve-sample',
      time: new Date().toISOString(),
      ...(keySetting ? { signingKey: parseSigningKey(keySetting) } : {}),
    });
    const client = createServiceBusClient(connection);
    const sender = client.createSender(env.APPROVAL_DECISIONS_QUEUE ?? 'approval-decisions');
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
  const link = eventLink;
  if (!link) throw new Error('the factory did not return an event link');
  // The build checks signatures itself: with a key configured, the event carries its proof.
  const raised: RaisedApprovalDecision = keySetting
    ? {
        ...decision,
        proof: { eventId: id, signature: signDecision(parseSigningKey(keySetting), id, decision) },
      }
    : decision;
  const sent = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(raised),
  });
  if (sent.status === 401) throw new Error(NO_MASTER_KEY);
  if (!sent.ok) throw new Error(`raise event: HTTP ${sent.status} ${await sent.text()}`);
  console.log(
    `${decision.decision} ${args.stage} of build ${args.buildId} (version ${pending.imageVersion}, ${args.ticket})`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
