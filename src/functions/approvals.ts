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
import { approvalSigningKeys } from '../config/approvals';
import { useApprovalsFactory } from './dependencies';

useApprovalsFactory((config: AppConfig) =>
  isServiceBusConfigured(config)
    ? createServiceBusApprovals(config)
    : new RecordingApprovals((line) => console.log(`[image-factory] ${line}`)),
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

function buildAccess(context: InvocationContext): BuildAccess {
  const client = df.getClient(context);
  return {
    getBuildStatus: async (buildId) => {
      try {
        const status = await client.getStatus(buildId, { showInput: false });
        return status.customStatus ?? undefined;
      } catch (error) {
        if (error instanceof Error && /HTTP 404/.test(error.message)) return undefined;
        throw error;
      }
    },
    raiseEvent: (buildId, eventName, decision) => client.raiseEvent(buildId, eventName, decision),
  };
}

app.serviceBusQueue('approvalDecisions', {
  queueName: '%APPROVAL_DECISIONS_QUEUE%',
  connection: 'ServiceBusConnection',
  extraInputs: [df.input.durableClient()],
  handler: async (message: unknown, context: InvocationContext): Promise<void> => {
    log = (line) => context.log(line);
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
