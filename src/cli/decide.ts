/**
 * Answers a build's pending approval as release management would (the sample on-prem sender behind
 * `npm run approve` and `npm run factory -- approve|reject`). It reads the pending request from the
 * factory (GET /api/builds/{id} → pendingApproval; where that route is missing, the Durable status
 * API with the master key), waiting for it when the build has not asked yet, and answers it with a
 * decision that echoes the request: as a CloudEvent on APPROVAL_DECISIONS_QUEUE when a Service Bus
 * connection is set (signed with APPROVAL_SIGNING_KEY when set), else through the Durable
 * raise-event link (then the event carries the signature as its proof; the trigger's queue checks
 * do not apply).
 * A real integrator keeps the request it consumed from approval-requests; this sample looks it up
 * instead so it can answer any build by id.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createServiceBusClient, isServiceBusConfigured } from '../adapters/servicebus';
import {
  answerRequest,
  CLOUDEVENTS_CONTENT_TYPE,
  parseSigningKey,
  signDecision,
  toDecisionEvent,
} from '../domain/approvals';
import { approvalEventName, type RaisedApprovalDecision } from '../ports/approvals';
import type { Settings } from './factory-api';

export interface DecideArgs {
  buildId: string;
  stage: string;
  ticket: string;
  reject: boolean;
  approver: string;
  comment?: string;
  /** How long to wait for the build's request (ms); 0: it must be pending now. */
  waitMs: number;
}

interface PendingRequest {
  requestId: string;
  buildId: string;
  stage: string;
  imageVersion: string;
  requestedAt?: string;
}

/** What a build says while we wait: its request, or that it has ended and will never ask. */
interface Lookup {
  pending: PendingRequest | undefined;
  eventLink: string | undefined;
  ended?: string;
}

/**
 * The API's Durable links carry no key; the Durable webhooks take the master key, which npm start
 * keeps to itself unless Service Bus is off (then it writes .local/master-key for this script).
 */
function withMasterKey(link: string | undefined, key: string): string | undefined {
  if (link === undefined || /[?&]code=/.test(link)) return link;
  return `${link}${link.includes('?') ? '&' : '?'}code=${encodeURIComponent(key)}`;
}

const MASTER_KEY_FILE = path.join(__dirname, '..', '..', '.local', 'master-key');

export function masterKey(env: Settings): string | undefined {
  if (env.FACTORY_MASTER_KEY) return env.FACTORY_MASTER_KEY;
  return existsSync(MASTER_KEY_FILE) ? readFileSync(MASTER_KEY_FILE, 'utf8').trim() : undefined;
}

const NO_MASTER_KEY =
  'raising the decision through the Durable API needs the master key: set FACTORY_MASTER_KEY ' +
  '(npm start writes it to .local/master-key when it runs without Service Bus)';

async function lookUp(
  base: string,
  key: string,
  master: string,
  buildId: string,
  eventName: string,
): Promise<Lookup> {
  const response = await fetch(`${base}/api/builds/${encodeURIComponent(buildId)}`, {
    headers: { 'x-functions-key': key },
  });
  const isProblem = (response.headers.get('content-type') ?? '').includes('problem+json');
  if (response.ok) {
    const build = (await response.json()) as {
      pendingApproval?: PendingRequest;
      outcome?: string;
      links?: { sendEventPostUri?: string };
    };
    return {
      pending: build.pendingApproval,
      eventLink: withMasterKey(
        build.links?.sendEventPostUri?.replace('{eventName}', encodeURIComponent(eventName)),
        master,
      ),
      ...(build.outcome !== undefined && build.outcome !== 'running' ? { ended: build.outcome } : {}),
    };
  }
  if (response.status === 404 && isProblem) throw new Error(`build ${buildId} not found`);
  if (response.status !== 404 || isProblem)
    throw new Error(`GET build ${buildId}: HTTP ${response.status} ${await response.text()}`);
  const instance = `${base}/runtime/webhooks/durabletask/instances/${encodeURIComponent(buildId)}`;
  const status = await fetch(`${instance}?code=${encodeURIComponent(master)}`);
  if (status.status === 401) throw new Error(NO_MASTER_KEY);
  if (status.status === 404) throw new Error(`build ${buildId} not found`);
  if (!status.ok)
    throw new Error(`Durable status of ${buildId}: HTTP ${status.status} ${await status.text()}`);
  const body = (await status.json()) as {
    runtimeStatus?: string;
    customStatus?: { pendingApproval?: PendingRequest; outcome?: string } | null;
  };
  const outcome = body.customStatus?.outcome;
  const finished = !['Running', 'Pending'].includes(body.runtimeStatus ?? 'Running');
  return {
    pending: body.customStatus?.pendingApproval,
    eventLink: `${instance}/raiseEvent/${encodeURIComponent(eventName)}?code=${encodeURIComponent(master)}`,
    ...((outcome !== undefined && outcome !== 'running') || finished
      ? { ended: outcome ?? body.runtimeStatus ?? 'finished' }
      : {}),
  };
}

export async function decide(
  args: DecideArgs,
  env: Settings,
  options: { log: (line: string) => void; pollMs?: number } = { log: () => undefined },
): Promise<string> {
  const base = (env.FACTORY_URL ?? `http://localhost:${env.LOCAL_HTTP_PORT ?? 7071}`).replace(/\/+$/, '');
  const key = env.FACTORY_KEY ?? env.LOCAL_FUNCTION_KEY ?? 'local-dev-key';
  const eventName = approvalEventName(args.stage);
  // FACTORY_KEY may itself be the master key (as the Durable webhooks take it).
  const master = masterKey(env) ?? key;
  const giveUp = Date.now() + args.waitMs;
  let said = false;
  let found: Lookup;
  for (;;) {
    found = await lookUp(base, key, master, args.buildId, eventName);
    if (found.pending?.stage === args.stage) break;
    const why = found.ended
      ? `it has ended (${found.ended})`
      : found.pending
        ? `it is waiting for ${found.pending.stage}, not ${args.stage}`
        : undefined;
    if (found.ended || Date.now() >= giveUp)
      throw new Error(
        `build ${args.buildId} has no pending approval for stage ${args.stage}${why ? `: ${why}` : ''}`,
      );
    if (!said) {
      options.log(
        `waiting for build ${args.buildId} to ask for ${args.stage} approval (up to ${Math.round(args.waitMs / 1000)} s)…`,
      );
      said = true;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
  const pending = found.pending;
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
  const what = `${decision.decision} ${args.stage} of build ${args.buildId} (version ${pending.imageVersion}, ${args.ticket})`;
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
    return `${what} sent to Service Bus${keySetting ? ', signed' : ', unsigned'}; refusals land in approval-rejects`;
  }
  const link = found.eventLink;
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
  return what;
}
