/** Wires a configured bridge: Service Bus clients (one per queue right), ServiceNow, the endpoint. */
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import { Bridge } from './bridge';
import type { Clock } from './clock';
import type { BridgeConfig, BusConnection } from './config';
import { startInboundEndpoint, type InboundEndpoint } from './inbound';
import { ServiceNowClient } from './servicenow';

export interface RunningBridge {
  bridge: Bridge;
  inbound?: InboundEndpoint;
  /** Closes everything without settling anything in flight (what a crash or a stop leaves behind). */
  stop(): Promise<void>;
}

function busClient(connection: BusConnection): ServiceBusClient {
  if ('connectionString' in connection) return new ServiceBusClient(connection.connectionString);
  const credential = connection.clientId
    ? new ManagedIdentityCredential({ clientId: connection.clientId })
    : new DefaultAzureCredential();
  return new ServiceBusClient(connection.namespace, credential);
}

export async function startBridge(
  config: BridgeConfig,
  options: { clock: Clock; log: (line: string) => void; poll?: boolean; pageSize?: number },
): Promise<RunningBridge> {
  for (const warning of config.warnings) options.log(`warning: ${warning}`);
  const clients = {
    requests: busClient(config.bus.requests),
    rejects: busClient(config.bus.rejects),
    decisions: busClient(config.bus.decisions),
  };
  // An outage can hold a message for a long time: its lock is renewed for as long as that lasts.
  const lockRenewal = { receiveMode: 'peekLock' as const, maxAutoLockRenewalDurationInMs: 24 * 3600_000 };
  const serviceNow = new ServiceNowClient({
    instanceUrl: config.serviceNowUrl,
    auth: config.serviceNowAuth,
    clock: options.clock,
    retry: { firstDelayMs: 1000, maxDelayMs: config.maxPollIntervalMs, attempts: 5 },
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    log: options.log,
  });
  const bridge = new Bridge({
    serviceNow,
    requests: clients.requests.createReceiver(config.queues.requests, lockRenewal),
    rejects: clients.rejects.createReceiver(config.queues.rejects, lockRenewal),
    decisions: clients.decisions.createSender(config.queues.decisions),
    signingKey: config.signingKey,
    clock: options.clock,
    source: config.source,
    pollIntervalMs: config.pollIntervalMs,
    maxPollIntervalMs: config.maxPollIntervalMs,
    log: options.log,
  });
  bridge.start({ poll: options.poll !== false });
  const inbound = config.inbound
    ? await startInboundEndpoint({
        port: config.inbound.port,
        auth: config.inbound.auth,
        check: (sysId) => bridge.checkChangeById(sysId),
        log: options.log,
      })
    : undefined;
  return {
    bridge,
    ...(inbound ? { inbound } : {}),
    stop: async () => {
      await inbound?.close();
      await bridge.stop();
      for (const client of Object.values(clients)) await client.close().catch(() => undefined);
    },
  };
}
