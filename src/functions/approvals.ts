/**
 * Approvals over Service Bus: the decisions trigger, and the Service Bus adapter for approval
 * requests when a connection is configured. Registration and wiring only; the rules are in
 * src/domain/approvals.
 */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { loadConfig, type AppConfig } from '../config';
import {
  createApprovalRejectsSender,
  createServiceBusApprovals,
  isServiceBusConfigured,
} from '../adapters/servicebus';
import { RecordingApprovals } from '../adapters/recording-approvals';
import { createDecisionHandler, type BuildAccess } from '../domain/approvals';
import type { BuildCustomStatus } from '../domain/build-status';
import { approvalSigningKeys } from '../config/approvals';
import { useApprovalsFactory } from './dependencies';
import { printable } from '../shared/text';

useApprovalsFactory((config: AppConfig) =>
  isServiceBusConfigured(config)
    ? createServiceBusApprovals(config)
    : new RecordingApprovals((line) => console.log(`[image-factory] ${printable(line)}`)),
);

/** One handler (and rejects sender) per distinct set of settings; it remembers what it raised. */
let wired: { key: string; handle: ReturnType<typeof createDecisionHandler> } | undefined;
let log: (line: string) => void = () => undefined;

function decisionHandler(): ReturnType<typeof createDecisionHandler> {
  const config = loadConfig(process.env);
  const key = JSON.stringify([
    config.ServiceBusConnection,
    config.ServiceBusConnection__fullyQualifiedNamespace,
    config.APPROVAL_REJECTS_QUEUE,
    config.APPROVAL_SIGNING_KEY,
    config.APPROVAL_SIGNING_KEY_PREVIOUS,
    config.APPROVAL_SIGNING_KEY_PREVIOUS_UNTIL,
  ]);
  if (wired?.key !== key) {
    const signingKeys = approvalSigningKeys(config);
    const rejects = createApprovalRejectsSender(config);
    wired = {
      key,
      handle: createDecisionHandler({
        sendToRejects: (body, refusal) => rejects.send(body, refusal),
        ...(signingKeys === undefined ? {} : { signingKey: signingKeys }),
        now: () => new Date().toISOString(),
        log: (line) => log(line),
      }),
    };
  }
  return wired.handle;
}

/** Runtime statuses of an instance that takes no more events (the extension answers 410 Gone). */
const ENDED = new Set<string>([
  df.OrchestrationRuntimeStatus.Completed,
  df.OrchestrationRuntimeStatus.Failed,
  df.OrchestrationRuntimeStatus.Terminated,
  df.OrchestrationRuntimeStatus.Canceled,
]);

function buildAccess(context: InvocationContext): BuildAccess {
  const client = df.getClient(context);
  return {
    getBuildStatus: async (buildId) => {
      try {
        const status = await client.getStatus(buildId, { showInput: false });
        const custom: Partial<BuildCustomStatus> | undefined = status.customStatus ?? undefined;
        // An ended build keeps its last customStatus, pending request included (a terminated one
        // never cleared it), but takes no events: the extension answers 410 and the client returns
        // as if raised, so a decision raised to it would vanish without a refusal.
        if (custom !== undefined && ENDED.has(status.runtimeStatus)) {
          const { pendingApproval: _ended, ...rest } = custom;
          return rest;
        }
        return custom;
      } catch (error) {
        if (error instanceof Error && /HTTP 404/.test(error.message)) return undefined;
        throw error;
      }
    },
    raiseEvent: async (buildId, eventName, decision) => {
      try {
        await client.raiseEvent(buildId, eventName, decision);
        return 'raised';
      } catch (error) {
        // The client's text for the extension's 404 (durable-functions DurableClient.raiseEvent).
        if (error instanceof Error && /^No instance with ID '.*' found\.$/.test(error.message))
          return 'not-found';
        throw error;
      }
    },
  };
}

app.serviceBusQueue('approvalDecisions', {
  queueName: '%APPROVAL_DECISIONS_QUEUE%',
  connection: 'ServiceBusConnection',
  extraInputs: [df.input.durableClient()],
  handler: async (message: unknown, context: InvocationContext): Promise<void> => {
    log = (line) => context.log(printable(line));
    await decisionHandler()(
      message,
      {
        messageId: context.triggerMetadata?.messageId,
        deliveryCount: context.triggerMetadata?.deliveryCount,
      },
      buildAccess(context),
    );
  },
});
