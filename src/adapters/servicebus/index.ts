/**
 * Service Bus adapter for the approvals channel: sends approval requests (CloudEvents) and refused
 * decisions. Connection: ServiceBusConnection (connection string; locally the AMQP peer) or
 * ServiceBusConnection__fullyQualifiedNamespace with a managed identity
 * (ServiceBusConnection__clientId) or DefaultAzureCredential — the same settings the Functions host
 * reads for the trigger.
 */
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import type { AppConfig } from '../../config';
import { CLOUDEVENTS_CONTENT_TYPE, toRequestEvent, type Refusal } from '../../domain/approvals';
import type { ApprovalRequest, ApprovalsPort } from '../../ports/approvals';
import { FactoryError } from '../../shared/errors';

type ConnectionSettings = Pick<
  AppConfig,
  'ServiceBusConnection' | 'ServiceBusConnection__fullyQualifiedNamespace' | 'ServiceBusConnection__clientId'
>;

export function isServiceBusConfigured(config: ConnectionSettings): boolean {
  return (
    config.ServiceBusConnection !== undefined ||
    config.ServiceBusConnection__fullyQualifiedNamespace !== undefined
  );
}

export function createServiceBusClient(config: ConnectionSettings): ServiceBusClient {
  const retryOptions = { maxRetries: 3, timeoutInMs: 30_000 };
  if (config.ServiceBusConnection !== undefined)
    return new ServiceBusClient(config.ServiceBusConnection, { retryOptions });
  const namespace = config.ServiceBusConnection__fullyQualifiedNamespace;
  if (namespace !== undefined) {
    const credential =
      config.ServiceBusConnection__clientId !== undefined
        ? new ManagedIdentityCredential({ clientId: config.ServiceBusConnection__clientId })
        : new DefaultAzureCredential();
    return new ServiceBusClient(namespace, credential, { retryOptions });
  }
  throw new FactoryError('ServiceBusNotConfigured', 'No Service Bus connection is configured.', {
    hint: 'Set ServiceBusConnection (connection string, local) or ServiceBusConnection__fullyQualifiedNamespace (Azure, managed identity).',
  });
}

function sendError(queue: string, error: unknown): FactoryError {
  const e = error as { code?: string; retryable?: boolean; message?: string };
  return new FactoryError(
    'ServiceBusSendFailed',
    `Sending to queue '${queue}' failed: ${e.code ?? 'error'}`,
    {
      retryable: e.retryable ?? true,
      details: { queue, code: e.code },
      hint:
        e.code === 'MessagingEntityNotFound'
          ? `Create the queue '${queue}' (infra/main.bicep) or fix the queue setting.`
          : e.code === 'UnauthorizedAccess'
            ? 'The identity needs the Azure Service Bus Data Sender role on the queue.'
            : undefined,
      cause: error,
    },
  );
}

export function createServiceBusApprovals(config: AppConfig): ApprovalsPort & { close(): Promise<void> } {
  const client = createServiceBusClient(config);
  const sender = client.createSender(config.APPROVAL_REQUESTS_QUEUE);
  return {
    async sendRequest(request: ApprovalRequest): Promise<void> {
      // time = requestedAt, so a re-send is byte-for-byte the same event (duplicate detection on the
      // queue drops it by message id; consumers can de-duplicate by event id).
      const event = toRequestEvent(request, request.requestedAt);
      const message: ServiceBusMessage = {
        messageId: request.requestId,
        contentType: CLOUDEVENTS_CONTENT_TYPE,
        subject: event.type,
        body: event,
        applicationProperties: {
          'cloudEvents:type': event.type,
          'cloudEvents:id': event.id,
          buildId: request.buildId,
          stage: request.stage,
        },
      };
      try {
        await sender.sendMessages(message);
      } catch (error) {
        throw sendError(config.APPROVAL_REQUESTS_QUEUE, error);
      }
    },
    async close(): Promise<void> {
      await sender.close();
      await client.close();
    },
  };
}

function stringifies(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

/** Sender of refused decisions to APPROVAL_REJECTS_QUEUE (body unchanged, refusal as properties). */
export function createApprovalRejectsSender(config: AppConfig): {
  send(body: unknown, refusal: Refusal): Promise<void>;
  close(): Promise<void>;
} {
  const client = createServiceBusClient(config);
  const sender = client.createSender(config.APPROVAL_REJECTS_QUEUE);
  return {
    async send(body: unknown, refusal: Refusal): Promise<void> {
      const bytes = body instanceof Uint8Array;
      // The SDK writes a non-binary body with JSON.stringify, which throws on JSON nested thousands
      // deep (it recurses). That is the content, not an outage: the refusal goes out without the
      // body rather than the decision being retried into the dead-letter queue.
      const writable = bytes || stringifies(body);
      const message: ServiceBusMessage = {
        body: bytes ? Buffer.from(body) : writable ? body : null,
        contentType: CLOUDEVENTS_CONTENT_TYPE,
        subject: `refused:${refusal.reason}`,
        applicationProperties: {
          reason: refusal.reason,
          detail: refusal.detail.slice(0, 1000),
          refusedAt: refusal.refusedAt,
          ...(refusal.originalMessageId === undefined
            ? {}
            : { originalMessageId: refusal.originalMessageId }),
          ...(refusal.buildId === undefined ? {} : { buildId: refusal.buildId }),
          ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
          ...(writable
            ? {}
            : { bodyOmitted: 'the refused body cannot be written as JSON (nested too deeply)' }),
          ...(refusal.keyGeneration === undefined ? {} : { keyGeneration: refusal.keyGeneration }),
        },
      };
      try {
        await sender.sendMessages(message);
      } catch (error) {
        // A decision just under the size limit does not fit together with the refusal's properties:
        // the message itself is the cause, so the refusal goes out without the body.
        if ((error as { code?: unknown }).code !== 'MessageSizeExceeded')
          throw sendError(config.APPROVAL_REJECTS_QUEUE, error);
        try {
          await sender.sendMessages({
            ...message,
            body: null,
            applicationProperties: {
              ...message.applicationProperties,
              bodyOmitted: 'the refused body is too large to forward with the refusal',
            },
          });
        } catch (again) {
          throw sendError(config.APPROVAL_REJECTS_QUEUE, again);
        }
      }
    },
    async close(): Promise<void> {
      await sender.close();
      await client.close();
    },
  };
}
