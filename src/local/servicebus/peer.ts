/**
 * A small AMQP 1.0 peer (rhea) that the unmodified @azure/service-bus 7.9.x client works against,
 * for tests and `npm start` on machines without a namespace or the Service Bus emulator.
 *
 * The client connects with `Endpoint=sb://127.0.0.1:<port>;…;UseDevelopmentEmulator=true`, which in
 * @azure/core-amqp (ConnectionContextBase) only switches the transport from TLS to plain TCP and the
 * default port from 5671 to 5672; the port in the endpoint wins. The client still negotiates CBS.
 *
 * What it does and where it differs from real Service Bus: src/local/servicebus/README.md.
 * Over 600 lines because the broker's state and rhea's event wiring share one closure; the pieces
 * that only shape data are in codec.ts, the claims checks in auth.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type * as rheaTypes from 'rhea';
import { ConnectionClaims, checkPutToken, unauthorizedLink } from './auth';
import {
  SubQueue,
  decodeBatch,
  internals,
  lockKey,
  outcomeName,
  outcomes,
  peekAnswer,
  rhea,
  tagFromGuidBytes,
  view,
  type PeerMessageView,
  type PeerQueueView,
  type StoredMessage,
} from './codec';

export type { PeerMessageView, PeerQueueView };

export interface ServiceBusPeerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * The shared access key clients must sign with (default: random per peer). Given when the
   * connection string is fixed in advance, as in local.settings.json.
   */
  sharedAccessKey?: { name: string; key: string };
  /** Queues that exist; each has a dead-letter sub-queue `<queue>/$DeadLetterQueue`. */
  queues: string[];
  /** Default 10, as Service Bus. */
  maxDeliveryCount?: number;
  /** Default 60 000 ms (Service Bus default is 1 minute). */
  lockDurationMs?: number;
  /**
   * Duplicate detection on every queue (requiresDuplicateDetection, as infra/app/servicebus.bicep
   * sets it): a message whose id was enqueued within this window is accepted and dropped.
   * Default: off, as a queue created without it.
   */
  duplicateDetectionWindowMs?: number;
  log?: (line: string) => void;
}

export interface ServiceBusPeer {
  /** Connection string for @azure/service-bus (plain TCP via UseDevelopmentEmulator=true). */
  connectionString: string;
  port: number;
  queue(name: string): PeerQueueView;
  stop(): Promise<void>;
}

const DEAD_LETTER_SUFFIX = '/$DeadLetterQueue';
const MANAGEMENT_SUFFIX = '/$management';
const BATCH_FORMAT = 0x80013700;
/** Standard tier's message size limit; Premium allows up to 100 MB. */
const MAX_MESSAGE_SIZE = 256 * 1024;
const KEY_NAME = 'RootManageSharedAccessKey';

export async function startServiceBusPeer(options: ServiceBusPeerOptions): Promise<ServiceBusPeer> {
  const maxDeliveryCount = options.maxDeliveryCount ?? 10;
  const lockDurationMs = options.lockDurationMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  // Random per peer; never logged. The client signs CBS tokens with it and the peer checks them.
  const sasKey = options.sharedAccessKey?.key ?? randomBytes(32).toString('base64');
  const keyName = options.sharedAccessKey?.name ?? KEY_NAME;
  let sequence = 0;
  const queues = new Map<string, SubQueue>();
  for (const name of options.queues) {
    const dlq = new SubQueue(`${name}${DEAD_LETTER_SUFFIX}`, undefined);
    queues.set(name.toLowerCase(), new SubQueue(name, dlq));
    queues.set(dlq.path.toLowerCase(), dlq);
  }
  const byDelivery = new WeakMap<rheaTypes.Delivery, { queue: SubQueue; stored: StoredMessage }>();
  const byLockToken = new Map<string, { queue: SubQueue; stored: StoredMessage }>();
  const connections = new Set<rheaTypes.Connection>();
  const drainRequested = new WeakSet<rheaTypes.Sender>();
  let stopped = false;
  /** The port the peer listens on (known once it listens; no client connects before). */
  let actualPort = 0;

  const entity = (address: unknown): SubQueue | undefined =>
    typeof address === 'string' ? queues.get(address.replace(/^\/+/, '').toLowerCase()) : undefined;

  /** Per queue: message id → when it was enqueued (duplicate detection history). */
  const seenMessageIds = new Map<SubQueue, Map<string, number>>();
  const isDuplicate = (queue: SubQueue, messageId: unknown): boolean => {
    const window = options.duplicateDetectionWindowMs;
    if (window === undefined || messageId === undefined || queue.deadLetter === undefined) return false;
    const now = Date.now();
    const seen = seenMessageIds.get(queue) ?? new Map<string, number>();
    seenMessageIds.set(queue, seen);
    for (const [id, at] of seen) if (at <= now - window) seen.delete(id);
    // Ids are strings, numbers, UUIDs or binary in AMQP: compare their encoded form.
    const key = typeof messageId === 'string' ? messageId : JSON.stringify(messageId);
    if (seen.has(key)) return true;
    seen.set(key, now);
    return false;
  };

  const enqueue = (queue: SubQueue, message: rheaTypes.Message): void => {
    if (isDuplicate(queue, message.message_id)) {
      log(
        `[sb-peer] ${queue.path}: duplicate id=${String(message.message_id)} dropped (duplicate detection)`,
      );
      return;
    }
    const stored: StoredMessage = {
      sequenceNumber: ++sequence,
      enqueuedAt: Date.now(),
      message,
      deliveryCount: 0,
    };
    // Service Bus gives every message an id; the client sets one when the sender did not.
    if (message.message_id === undefined) message.message_id = randomUUID().replace(/-/g, '');
    queue.messages.push(stored);
    log(`[sb-peer] ${queue.path}: enqueued #${stored.sequenceNumber} id=${String(message.message_id)}`);
  };

  const deadLetter = (queue: SubQueue, stored: StoredMessage, reason: string, description: string) => {
    const index = queue.messages.indexOf(stored);
    if (index >= 0) queue.messages.splice(index, 1);
    if (queue.deadLetter === undefined) return; // a DLQ has no DLQ: Service Bus keeps such messages
    stored.deadLetterReason = reason;
    stored.deadLetterErrorDescription = description;
    stored.message.application_properties = {
      ...((stored.message.application_properties as Record<string, unknown>) ?? {}),
      DeadLetterReason: reason,
      DeadLetterErrorDescription: description,
    };
    queue.deadLetter.messages.push(stored);
    log(`[sb-peer] ${queue.path}: #${stored.sequenceNumber} dead-lettered (${reason})`);
  };

  const unlock = (stored: StoredMessage): void => {
    if (stored.lock === undefined) return;
    clearTimeout(stored.lock.timer);
    byLockToken.delete(stored.lock.token);
    stored.lock = undefined;
  };

  /** Complete: the message leaves the queue. */
  const complete = (queue: SubQueue, stored: StoredMessage, via = ''): void => {
    unlock(stored);
    queue.messages.splice(queue.messages.indexOf(stored), 1);
    queue.completed += 1;
    log(`[sb-peer] ${queue.path}: #${stored.sequenceNumber} completed${via}`);
  };

  /** Abandon or lock expiry: the delivery counts; too many and the message is dead-lettered. */
  const release = (queue: SubQueue, stored: StoredMessage, why: string): void => {
    unlock(stored);
    stored.deliveryCount += 1;
    if (queue.deadLetter !== undefined && stored.deliveryCount >= maxDeliveryCount) {
      deadLetter(
        queue,
        stored,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${maxDeliveryCount} delivery attempts.`,
      );
    } else {
      log(`[sb-peer] ${queue.path}: #${stored.sequenceNumber} available again (${why})`);
    }
    pump(queue);
  };

  /** Deliveries handed to rhea on this link that it has not transferred yet (they still hold credit). */
  const unsent = (sender: rheaTypes.Sender): number => {
    const outgoing = (
      sender.session as unknown as {
        outgoing: {
          next_pending_delivery: number;
          next_delivery_id: number;
          deliveries: { by_id(id: number): { link: unknown } | undefined };
        };
      }
    ).outgoing;
    let count = 0;
    for (let id = outgoing.next_pending_delivery; id < outgoing.next_delivery_id; id++)
      if (outgoing.deliveries.by_id(id)?.link === sender) count++;
    return count;
  };

  const answerDrain = (sender: rheaTypes.Sender): void => {
    if (stopped || !sender.is_open()) return;
    // Only once every transfer is out, or the drain flow would take credit those transfers need.
    if (unsent(sender) > 0) setImmediate(() => answerDrain(sender));
    else sender.set_drained(internals(sender).credit > 0);
  };

  const pump = (queue: SubQueue): void => {
    if (stopped) return;
    for (const sender of queue.senders) {
      if (!sender.is_open()) continue;
      let credit = internals(sender).credit - unsent(sender);
      while (credit > 0) {
        const next = queue.messages.find((m) => m.lock === undefined);
        if (next === undefined) break;
        deliver(queue, sender, next);
        credit--;
      }
      if (drainRequested.has(sender)) answerDrain(sender);
    }
  };

  const deliver = (queue: SubQueue, sender: rheaTypes.Sender, stored: StoredMessage): void => {
    const tagBytes = randomBytes(16);
    const receiveAndDelete = internals(sender).local.attach.snd_settle_mode === 1;
    const lockedUntil = Date.now() + lockDurationMs;
    const outgoing: rheaTypes.Message = {
      ...stored.message,
      delivery_count: stored.deliveryCount,
      message_annotations: {
        ...(stored.message.message_annotations ?? {}),
        'x-opt-sequence-number': rhea.types.wrap_long(stored.sequenceNumber),
        'x-opt-enqueued-time': new Date(stored.enqueuedAt),
        ...(receiveAndDelete ? {} : { 'x-opt-locked-until': new Date(lockedUntil) }),
      },
    };
    const delivery = sender.send(outgoing, tagBytes);
    log(
      `[sb-peer] ${queue.path}: #${stored.sequenceNumber} delivered (earlier deliveries: ${stored.deliveryCount})`,
    );
    if (receiveAndDelete) {
      queue.messages.splice(queue.messages.indexOf(stored), 1);
      queue.completed += 1;
      return;
    }
    const token = lockKey(tagBytes);
    stored.lock = {
      token,
      lockedUntil,
      delivery,
      timer: setTimeout(() => release(queue, stored, 'lock expired'), lockDurationMs),
    };
    byDelivery.set(delivery, { queue, stored });
    byLockToken.set(token, { queue, stored });
  };

  /** The receiver's disposition of a peek-locked delivery (complete/abandon/defer/dead-letter). */
  const settle = (delivery: rheaTypes.Delivery): void => {
    if (delivery.settled) return;
    const entry = byDelivery.get(delivery);
    const outcome = outcomeName(delivery.remote_state);
    if (entry === undefined) return;
    const { queue, stored } = entry;
    if (stored.lock?.delivery !== delivery) {
      delivery.update(
        true,
        outcomes
          .rejected({
            error: {
              condition: 'com.microsoft:message-lock-lost',
              description: `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue (${queue.path}).`,
            },
          })
          .described(),
      );
      return;
    }
    const state = delivery.remote_state as unknown as Record<string, unknown>;
    if (outcome === 'accepted') {
      complete(queue, stored);
    } else if (outcome === 'rejected') {
      unlock(stored);
      const error = (state.error ?? {}) as { condition?: string; info?: Record<string, unknown> };
      const info = error.info ?? {};
      deadLetter(
        queue,
        stored,
        typeof info.DeadLetterReason === 'string' ? info.DeadLetterReason : String(error.condition ?? ''),
        typeof info.DeadLetterErrorDescription === 'string' ? info.DeadLetterErrorDescription : '',
      );
    } else if (outcome === 'modified' && state.undeliverable_here === true) {
      // Deferral is not modelled: say so rather than pretend.
      delivery.update(
        true,
        outcomes
          .rejected({
            error: {
              condition: 'amqp:not-implemented',
              description: 'deferral is not supported by the local peer',
            },
          })
          .described(),
      );
      return;
    } else {
      const annotations = state.message_annotations as Record<string, unknown> | undefined;
      if (annotations)
        stored.message.application_properties = {
          ...((stored.message.application_properties as Record<string, unknown>) ?? {}),
          ...annotations,
        };
      delivery.update(true, outcomes.modified({ undeliverable_here: false }).described());
      release(queue, stored, 'abandoned');
      return;
    }
    delivery.update(true, (outcome === 'accepted' ? outcomes.accepted() : outcomes.rejected()).described());
    pump(queue);
  };

  const reply = (
    connection: rheaTypes.Connection,
    replyTo: unknown,
    response: Record<string, unknown>,
  ): void => {
    for (const sender of senderLinks(connection)) {
      const target = internals(sender).remote.attach?.target?.address;
      if (sender.name === replyTo || target === replyTo) {
        sender.send(response as unknown as rheaTypes.Message);
        return;
      }
    }
    log(`[sb-peer] no link for reply_to ${String(replyTo)}`);
  };

  /** Per connection: the scopes its put-tokens granted, until their expiry. */
  const claims = new WeakMap<rheaTypes.Connection, ConnectionClaims>();
  /** Links that passed the access check at attach (a refused one must not move messages). */
  const admitted = new WeakSet<rheaTypes.Sender | rheaTypes.Receiver>();

  const handleCbs = (context: rheaTypes.EventContext): void => {
    const request = context.message!;
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    let status = 200;
    let description = 'OK';
    if (props.operation !== 'put-token') {
      status = 400;
      description = `unknown CBS operation ${String(props.operation)}`;
    } else {
      const result = checkPutToken(
        { type: props.type, name: props.name, token: request.body },
        { name: keyName, key: sasKey },
        { port: actualPort },
        Date.now(),
      );
      if (result.ok) {
        const granted = claims.get(context.connection) ?? new ConnectionClaims();
        claims.set(context.connection, granted);
        granted.add(result.path, result.expiresAtMs);
      } else {
        status = result.status;
        description = result.description;
        log(`[sb-peer] put-token for ${String(props.name)} refused: ${description}`);
      }
    }
    reply(context.connection, request.reply_to, {
      correlation_id: request.message_id,
      application_properties: { 'status-code': status, 'status-description': description },
    });
  };

  /**
   * Service Bus checks access when a link attaches, before it looks the entity up: without a valid
   * token for the address the link is detached with amqp:unauthorized-access.
   */
  const admit = (
    link: rheaTypes.Sender | rheaTypes.Receiver,
    connection: rheaTypes.Connection,
    address: string,
    claim: 'Send' | 'Listen',
  ): boolean => {
    if (claims.get(connection)?.allows(address, Date.now()) === true) {
      admitted.add(link);
      return true;
    }
    log(`[sb-peer] link to ${address} refused: no valid token for it on this connection`);
    link.close(unauthorizedLink(claim, address, actualPort));
    return false;
  };

  const handleManagement = (context: rheaTypes.EventContext, queue: SubQueue | undefined): void => {
    const request = context.message!;
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    const respond = (status: number, description: string, body?: unknown) =>
      reply(context.connection, request.reply_to, {
        correlation_id: request.message_id,
        application_properties: { statusCode: status, statusDescription: description },
        ...(body === undefined ? {} : { body }),
      });
    if (queue === undefined) return respond(404, 'entity not found');
    const operation = props.operation;
    if (operation === 'com.microsoft:peek-message') {
      const answer = peekAnswer(queue, request.body);
      return respond(answer.status, answer.description, answer.body);
    }
    if (operation !== 'com.microsoft:renew-lock' && operation !== 'com.microsoft:update-disposition')
      return respond(501, `operation ${String(operation)} is not supported by the local peer`);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const tokens = (body['lock-tokens'] ?? []) as unknown[];
    const lockLost = () =>
      reply(context.connection, request.reply_to, {
        correlation_id: request.message_id,
        application_properties: {
          statusCode: 410,
          statusDescription:
            'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
          errorCondition: 'com.microsoft:message-lock-lost',
        },
      });
    const lockedEntry = (token: unknown) => {
      const bytes = Buffer.isBuffer(token) ? token : Buffer.from(String(token));
      const entry = byLockToken.get(lockKey(bytes)) ?? byLockToken.get(lockKey(tagFromGuidBytes(bytes)));
      return entry?.stored.lock === undefined || entry.stored.lock.lockedUntil < Date.now()
        ? undefined
        : entry;
    };
    if (operation === 'com.microsoft:update-disposition') {
      // The client settles here when the receiving link is gone (e.g. re-attached after a drain).
      const status = typeof body['disposition-status'] === 'string' ? body['disposition-status'] : '';
      const entries = tokens.map(lockedEntry);
      if (entries.some((entry) => entry === undefined)) return lockLost();
      for (const entry of entries) {
        const { queue: owner, stored } = entry!;
        if (status === 'completed') complete(owner, stored, ' (management link)');
        else if (status === 'abandoned') release(owner, stored, 'abandoned');
        else if (status === 'suspended') {
          unlock(stored);
          deadLetter(
            owner,
            stored,
            typeof body['deadletter-reason'] === 'string' ? body['deadletter-reason'] : '',
            typeof body['deadletter-description'] === 'string' ? body['deadletter-description'] : '',
          );
        } else return respond(501, `disposition ${status} is not supported by the local peer`);
      }
      return respond(200, 'OK', {});
    }
    const expirations: Date[] = [];
    for (const token of tokens) {
      const entry = lockedEntry(token);
      const stored = entry?.stored;
      if (stored?.lock === undefined) return lockLost();
      const lock = stored.lock;
      clearTimeout(lock.timer);
      lock.lockedUntil = Date.now() + lockDurationMs;
      const owner = entry!.queue;
      lock.timer = setTimeout(() => release(owner, stored, 'lock expired'), lockDurationMs);
      expirations.push(new Date(lock.lockedUntil));
    }
    respond(200, 'OK', { expirations: rhea.types.wrap_array(expirations, 0x83, undefined) });
  };

  const senderLinks = (connection: rheaTypes.Connection): rheaTypes.Sender[] => {
    const found: rheaTypes.Sender[] = [];
    const sessions = (connection as unknown as { local_channel_map: Record<string, unknown> })
      .local_channel_map;
    for (const session of Object.values(sessions ?? {})) {
      const links = (session as { links: Record<string, rheaTypes.link> }).links;
      for (const link of Object.values(links ?? {}))
        if (link.is_sender()) found.push(link as rheaTypes.Sender);
    }
    return found;
  };

  const container = rhea.create_container({ id: 'image-factory-sb-peer' });
  container.options.treat_modified_as_released = false;

  container.on('connection_open', (context: rheaTypes.EventContext) => {
    connections.add(context.connection);
  });
  container.on('disconnected', (context: rheaTypes.EventContext) => {
    connections.delete(context.connection);
  });
  container.on('connection_close', (context: rheaTypes.EventContext) => {
    connections.delete(context.connection);
  });

  container.on('receiver_open', (context: rheaTypes.EventContext) => {
    const receiver = context.receiver!;
    const address = internals(receiver).remote.attach?.target?.address ?? '';
    internals(receiver).local.attach.max_message_size = MAX_MESSAGE_SIZE;
    receiver.set_target({ address });
    if (address === '$cbs') return;
    if (
      !admit(receiver, context.connection, address, address.endsWith(MANAGEMENT_SUFFIX) ? 'Listen' : 'Send')
    )
      return;
    if (address.endsWith(MANAGEMENT_SUFFIX)) return;
    const queue = entity(address);
    if (queue === undefined || queue.deadLetter === undefined) {
      receiver.close({
        condition: 'amqp:not-found',
        description: `The messaging entity '${address}' could not be found (local peer knows: ${options.queues.join(', ')}).`,
      });
    }
  });

  container.on('sender_open', (context: rheaTypes.EventContext) => {
    const sender = context.sender!;
    const remote = internals(sender).remote.attach;
    const address = remote?.source?.address ?? '';
    sender.set_source({ address });
    internals(sender).local.attach.max_message_size = MAX_MESSAGE_SIZE;
    internals(sender).local.attach.snd_settle_mode = remote?.snd_settle_mode ?? 0;
    if (address === '$cbs') return;
    if (!admit(sender, context.connection, address, 'Listen')) return;
    if (address.endsWith(MANAGEMENT_SUFFIX)) return;
    const queue = entity(address);
    if (queue === undefined) {
      sender.close({
        condition: 'amqp:not-found',
        description: `The messaging entity '${address}' could not be found (local peer knows: ${options.queues.join(', ')}).`,
      });
      return;
    }
    queue.senders.add(sender);
  });

  const forgetSender = (context: rheaTypes.EventContext): void => {
    const sender = context.sender;
    if (sender === undefined) return;
    for (const queue of queues.values()) queue.senders.delete(sender);
  };
  container.on('sender_close', forgetSender);

  container.on('sendable', (context: rheaTypes.EventContext) => {
    for (const queue of queues.values()) if (queue.senders.has(context.sender!)) pump(queue);
  });
  container.on('sender_flow', (context: rheaTypes.EventContext) => {
    const sender = context.sender!;
    if (internals(sender)._draining) drainRequested.add(sender);
    else drainRequested.delete(sender);
    for (const queue of queues.values()) if (queue.senders.has(sender)) pump(queue);
    if (drainRequested.has(sender)) answerDrain(sender);
  });

  for (const event of ['accepted', 'rejected', 'released', 'modified'] as const) {
    container.on(event, (context: rheaTypes.EventContext) => {
      if (context.delivery) settle(context.delivery);
    });
  }

  container.on('message', (context: rheaTypes.EventContext) => {
    const receiver = context.receiver!;
    const address = internals(receiver).remote.attach?.target?.address ?? '';
    if (address === '$cbs') return handleCbs(context);
    if (!admitted.has(receiver)) {
      context.delivery?.reject(unauthorizedLink('Send', address, actualPort));
      return;
    }
    if (address.endsWith(MANAGEMENT_SUFFIX))
      return handleManagement(context, entity(address.slice(0, -MANAGEMENT_SUFFIX.length)));
    const queue = entity(address);
    if (queue === undefined) return;
    const format = (context as unknown as { format?: number }).format;
    const raw = context.message as unknown;
    const size = Buffer.isBuffer(raw) ? raw.length : rhea.message.encode(context.message!).length;
    if (size > MAX_MESSAGE_SIZE) {
      // Service Bus refuses a transfer above the link's max_message_size; nothing is enqueued.
      context.delivery?.reject({
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (size ${size} bytes) exceeds the limit (${MAX_MESSAGE_SIZE} bytes) of queue '${queue.path}'.`,
      });
      return;
    }
    const messages = format === BATCH_FORMAT && Buffer.isBuffer(raw) ? decodeBatch(raw) : [context.message!];
    for (const message of messages) enqueue(queue, message);
    pump(queue);
  });

  container.on('error', (error: unknown) => log(`[sb-peer] error: ${String(error)}`));

  const server = container.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  actualPort = port;
  log(`[sb-peer] listening on 127.0.0.1:${port} (queues: ${options.queues.join(', ')})`);

  return {
    connectionString: `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=${keyName};SharedAccessKey=${sasKey};UseDevelopmentEmulator=true`,
    port,
    queue(name: string): PeerQueueView {
      const queue = entity(name);
      if (queue === undefined || queue.deadLetter === undefined)
        throw new Error(`the local peer has no queue '${name}'`);
      const dlq = queue.deadLetter;
      return {
        active: queue.messages.map(view),
        deadLettered: dlq.messages.map(view),
        counts: {
          active: queue.messages.length,
          locked: queue.messages.filter((m) => m.lock !== undefined).length,
          deadLettered: dlq.messages.length,
          completed: queue.completed,
        },
      };
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const queue of queues.values()) for (const m of queue.messages) unlock(m);
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          /* already gone */
        }
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Sockets the client did not close yet must not keep the server (and jest) alive.
        for (const connection of connections)
          (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
      });
    },
  };
}
