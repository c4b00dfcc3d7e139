/**
 * Service Bus for the local factory: when ServiceBusConnection names the local peer (a connection
 * string with UseDevelopmentEmulator=true on 127.0.0.1/localhost, as local.settings.sample.json
 * has it), the peer is started on that port with that key; with any other connection (a real
 * namespace) nothing is started and the triggers talk to it.
 */
import { startServiceBusPeer, type ServiceBusPeer } from './peer';

export interface LocalPeerPlan {
  /** 0 picks a free port (tests); the connection string is then rewritten with the real one. */
  port: number;
  sharedAccessKey: { name: string; key: string };
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost']);
/** As infra/app/servicebus.bicep's duplicateDetectionHistoryTimeWindow (P1D). */
export const DUPLICATE_DETECTION_WINDOW_MS = 24 * 3600_000;
/** As infra/app/servicebus.bicep's queues: maxDeliveryCount (default 5) and lockDuration PT1M. */
export const MAX_DELIVERY_COUNT = 5;
export const LOCK_DURATION_MS = 60_000;
/** The AMQP port the Service Bus emulator listens on. */
const DEFAULT_AMQP_PORT = 5672;

/** Where to start the local peer, or undefined when the connection is not a local one. */
export function localPeerPlan(connectionString: string | undefined): LocalPeerPlan | undefined {
  if (connectionString === undefined || connectionString.trim() === '') return undefined;
  const fields = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (fields.get('usedevelopmentemulator')?.toLowerCase() !== 'true') return undefined;
  const endpoint = /^sb:\/\/([^:/]+)(?::(\d+))?\/?$/i.exec(fields.get('endpoint') ?? '');
  if (!endpoint || !LOCAL_HOSTS.has((endpoint[1] ?? '').toLowerCase())) return undefined;
  const name = fields.get('sharedaccesskeyname');
  const key = fields.get('sharedaccesskey');
  if (!name || !key)
    throw new Error(
      'ServiceBusConnection: a local (UseDevelopmentEmulator=true) connection string needs SharedAccessKeyName and SharedAccessKey',
    );
  return {
    port: endpoint[2] === undefined ? DEFAULT_AMQP_PORT : Number(endpoint[2]),
    sharedAccessKey: { name, key },
  };
}

export async function startLocalPeer(
  plan: LocalPeerPlan,
  queues: string[],
  log: (line: string) => void,
): Promise<ServiceBusPeer> {
  try {
    return await startServiceBusPeer({
      port: plan.port,
      sharedAccessKey: plan.sharedAccessKey,
      queues,
      duplicateDetectionWindowMs: DUPLICATE_DETECTION_WINDOW_MS,
      maxDeliveryCount: MAX_DELIVERY_COUNT,
      lockDurationMs: LOCK_DURATION_MS,
      log,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new Error(
        `ServiceBusConnection points at a local Service Bus on 127.0.0.1:${plan.port}, but that port is taken; free it or change the port in local.settings.json`,
      );
    throw error;
  }
}
