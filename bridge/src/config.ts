/**
 * The bridge's settings, read once at start from the environment and checked; errors name the
 * setting, never its value. See docs/servicenow-bridge.md for the table.
 */
import { readFileSync } from 'node:fs';
import { parseSigningKey } from '../../src/domain/approvals';
import type { InboundAuth } from './inbound';
import type { ServiceNowAuth } from './servicenow';

/** A Service Bus connection: a connection string (SAS; may be queue-scoped) or a namespace (Entra ID). */
export type BusConnection = { connectionString: string } | { namespace: string; clientId?: string };

export interface BridgeConfig {
  serviceNowUrl: string;
  serviceNowAuth: ServiceNowAuth;
  /** One connection per queue, so each can carry only its right (Listen, Listen, Send). */
  bus: { requests: BusConnection; rejects: BusConnection; decisions: BusConnection };
  queues: { requests: string; rejects: string; decisions: string };
  signingKey: Buffer;
  source: string;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  inbound?: { port: number; auth: InboundAuth };
  warnings: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const get = (env: Env, name: string): string | undefined => {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
};

function busConnection(env: Env, queueSetting: string): BusConnection {
  const specific = get(env, queueSetting);
  if (specific) return { connectionString: specific };
  const general = get(env, 'BRIDGE_SERVICEBUS_CONNECTION');
  if (general) return { connectionString: general };
  const namespace = get(env, 'BRIDGE_SERVICEBUS_NAMESPACE');
  const clientId = get(env, 'BRIDGE_SERVICEBUS_CLIENT_ID');
  if (namespace) return clientId ? { namespace, clientId } : { namespace };
  throw new ConfigError(
    `${queueSetting}: no Service Bus connection: set ${queueSetting} (a SAS connection string of a policy on that queue), BRIDGE_SERVICEBUS_CONNECTION, or BRIDGE_SERVICEBUS_NAMESPACE (Entra ID)`,
  );
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const text = get(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new ConfigError(`${name}: must be a positive whole number`);
  return value;
}

export function loadConfig(env: Env): BridgeConfig {
  const warnings: string[] = [];
  const serviceNowUrl = get(env, 'SERVICENOW_INSTANCE_URL');
  if (!serviceNowUrl)
    throw new ConfigError('SERVICENOW_INSTANCE_URL: required (e.g. https://example.service-now.com)');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(serviceNowUrl);
  } catch {
    throw new ConfigError('SERVICENOW_INSTANCE_URL: not a URL');
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsedUrl.hostname);
  if (parsedUrl.protocol !== 'https:' && !local)
    throw new ConfigError('SERVICENOW_INSTANCE_URL: must be https (credentials travel on it)');

  const clientId = get(env, 'SERVICENOW_CLIENT_ID');
  const clientSecret = get(env, 'SERVICENOW_CLIENT_SECRET');
  const user = get(env, 'SERVICENOW_USER');
  const password = get(env, 'SERVICENOW_PASSWORD');
  let serviceNowAuth: ServiceNowAuth;
  if (clientId || clientSecret) {
    if (!clientId || !clientSecret)
      throw new ConfigError(
        'SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET: set both (OAuth client credentials)',
      );
    serviceNowAuth = { kind: 'oauth', clientId, clientSecret };
  } else if (user && password) {
    serviceNowAuth = { kind: 'basic', user, password };
    warnings.push(
      'ServiceNow basic auth: the password goes with every request and cannot be scoped; prefer OAuth client credentials (SERVICENOW_CLIENT_ID/SECRET)',
    );
  } else
    throw new ConfigError(
      'SERVICENOW_CLIENT_ID/SERVICENOW_CLIENT_SECRET (OAuth, preferred) or SERVICENOW_USER/SERVICENOW_PASSWORD (basic): one pair is required',
    );

  const keyText = get(env, 'APPROVAL_SIGNING_KEY');
  const keyFile = get(env, 'APPROVAL_SIGNING_KEY_FILE');
  if (keyText && keyFile)
    throw new ConfigError('APPROVAL_SIGNING_KEY and APPROVAL_SIGNING_KEY_FILE: set only one');
  let keySetting = keyText;
  if (keyFile) {
    try {
      keySetting = readFileSync(keyFile, 'utf8').trim();
    } catch {
      throw new ConfigError('APPROVAL_SIGNING_KEY_FILE: cannot read the file');
    }
  }
  if (!keySetting)
    throw new ConfigError(
      'APPROVAL_SIGNING_KEY or APPROVAL_SIGNING_KEY_FILE: required (the factory refuses unsigned decisions)',
    );
  let signingKey: Buffer;
  try {
    signingKey = parseSigningKey(keySetting, {
      name: keyFile ? 'APPROVAL_SIGNING_KEY_FILE' : 'APPROVAL_SIGNING_KEY',
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }

  let inbound: BridgeConfig['inbound'];
  const inboundPort = get(env, 'BRIDGE_INBOUND_PORT');
  if (inboundPort !== undefined) {
    const port = Number(inboundPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError('BRIDGE_INBOUND_PORT: not a port');
    const secret = get(env, 'BRIDGE_INBOUND_SECRET');
    const inUser = get(env, 'BRIDGE_INBOUND_USER');
    const inPassword = get(env, 'BRIDGE_INBOUND_PASSWORD');
    if (secret) {
      if (secret.length < 32) throw new ConfigError('BRIDGE_INBOUND_SECRET: at least 32 characters');
      inbound = { port, auth: { kind: 'secret', secret } };
    } else if (inUser && inPassword)
      inbound = { port, auth: { kind: 'basic', user: inUser, password: inPassword } };
    else
      throw new ConfigError(
        'BRIDGE_INBOUND_PORT is set: set BRIDGE_INBOUND_SECRET or BRIDGE_INBOUND_USER/BRIDGE_INBOUND_PASSWORD too',
      );
  }

  return {
    serviceNowUrl,
    serviceNowAuth,
    bus: {
      requests: busConnection(env, 'BRIDGE_REQUESTS_CONNECTION'),
      rejects: busConnection(env, 'BRIDGE_REJECTS_CONNECTION'),
      decisions: busConnection(env, 'BRIDGE_DECISIONS_CONNECTION'),
    },
    queues: {
      requests: get(env, 'APPROVAL_REQUESTS_QUEUE') ?? 'approval-requests',
      rejects: get(env, 'APPROVAL_REJECTS_QUEUE') ?? 'approval-rejects',
      decisions: get(env, 'APPROVAL_DECISIONS_QUEUE') ?? 'approval-decisions',
    },
    signingKey,
    source: get(env, 'BRIDGE_SOURCE') ?? '/servicenow/change',
    pollIntervalMs: positiveInt(env, 'BRIDGE_POLL_INTERVAL_MS', 60_000),
    maxPollIntervalMs: positiveInt(env, 'BRIDGE_POLL_MAX_INTERVAL_MS', 600_000),
    ...(inbound ? { inbound } : {}),
    warnings,
  };
}
