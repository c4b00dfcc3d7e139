/**
 * Pieces of the local Service Bus peer that only shape data: rhea internals it reads, the stored
 * message and its view for tests, body decoding, lock tokens, the client's batch envelope and the
 * peek-message answer (which only reads a queue).
 */
import * as rheaTypes from 'rhea';
// rhea exports a Container instance whose methods sit on its prototype: keep `this`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const rhea = require('rhea') as typeof rheaTypes;

export interface PeerMessageView {
  messageId: unknown;
  body: unknown;
  contentType?: string;
  applicationProperties: Record<string, unknown>;
  sequenceNumber: number;
  /** Deliveries that ended without completion (AMQP header delivery-count). */
  deliveryCount: number;
  enqueuedTime: Date;
  locked: boolean;
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
}

export interface PeerQueueView {
  active: PeerMessageView[];
  deadLettered: PeerMessageView[];
  counts: { active: number; locked: number; deadLettered: number; completed: number };
}

/** Parts of rhea's link objects its typings leave out. */
export interface LinkInternals {
  local: { attach: { max_message_size?: number; snd_settle_mode?: number } };
  remote: {
    attach?: { source?: { address?: string }; target?: { address?: string }; snd_settle_mode?: number };
  };
  credit: number;
  _draining?: boolean;
}
export const internals = (link: rheaTypes.Sender | rheaTypes.Receiver): LinkInternals =>
  link as unknown as LinkInternals;
export const outcomes = rhea.message as unknown as {
  accepted(): { described(): unknown };
  rejected(fields?: { error: { condition: string; description: string } }): { described(): unknown };
  modified(fields: { undeliverable_here: boolean }): { described(): unknown };
};
export const decodeMessage = (bytes: Buffer): rheaTypes.Message =>
  rhea.message.decode(bytes) as unknown as rheaTypes.Message;

export interface StoredMessage {
  sequenceNumber: number;
  enqueuedAt: number;
  message: rheaTypes.Message;
  deliveryCount: number;
  lock?: { token: string; lockedUntil: number; timer: NodeJS.Timeout; delivery: rheaTypes.Delivery };
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
}

export class SubQueue {
  readonly messages: StoredMessage[] = [];
  readonly senders = new Set<rheaTypes.Sender>();
  completed = 0;
  constructor(
    readonly path: string,
    readonly deadLetter: SubQueue | undefined,
  ) {}
}

export function view(stored: StoredMessage): PeerMessageView {
  const m = stored.message;
  return {
    messageId: m.message_id,
    body: bodyOf(m),
    ...(m.content_type === undefined ? {} : { contentType: String(m.content_type) }),
    applicationProperties: { ...((m.application_properties as Record<string, unknown>) ?? {}) },
    sequenceNumber: stored.sequenceNumber,
    deliveryCount: stored.deliveryCount,
    enqueuedTime: new Date(stored.enqueuedAt),
    locked: stored.lock !== undefined,
    ...(stored.deadLetterReason === undefined ? {} : { deadLetterReason: stored.deadLetterReason }),
    ...(stored.deadLetterErrorDescription === undefined
      ? {}
      : { deadLetterErrorDescription: stored.deadLetterErrorDescription }),
  };
}

/** The body as the client sent it: a data section's bytes decoded as UTF-8 JSON when possible. */
export function bodyOf(m: rheaTypes.Message): unknown {
  const body = m.body as unknown;
  const content =
    body !== null && typeof body === 'object' && 'typecode' in body && 'content' in body
      ? (body as { content: unknown }).content
      : body;
  if (Buffer.isBuffer(content)) {
    const text = content.toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return content;
}

export function lockKey(tag: Buffer | string): string {
  return (typeof tag === 'string' ? Buffer.from(tag) : tag).toString('hex');
}

/**
 * The client turns the delivery tag into a GUID string with .NET byte order (first three groups
 * reversed) and sends `string_to_uuid` of that string back in renew-lock: undo the reordering.
 */
export function tagFromGuidBytes(bytes: Buffer): Buffer {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map((i) => bytes[i] ?? 0));
}

export function outcomeName(state: unknown): string | undefined {
  if (state === null || typeof state !== 'object') return undefined;
  const ctor = (state as { constructor?: { composite_type?: string } }).constructor;
  return ctor?.composite_type;
}

/** Decodes the client's batch envelope (format 0x80013700): one data section per encoded message. */
export function decodeBatch(payload: Buffer): rheaTypes.Message[] {
  const out: rheaTypes.Message[] = [];
  const envelope = decodeMessage(payload);
  const body = envelope.body as unknown as { typecode?: number; content?: unknown; multiple?: boolean };
  if (body?.typecode !== 0x75) return out;
  const parts: unknown[] = body.multiple ? (body.content as unknown[]) : [body.content];
  for (const part of parts) if (Buffer.isBuffer(part)) out.push(decodeMessage(part));
  return out;
}

/** The client sends from-sequence-number as a long built from 8 big-endian bytes. */
function sequenceNumberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE(0));
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

/**
 * com.microsoft:peek-message (Service Bus AMQP request-response operations, "Peek message"):
 * request map `from-sequence-number` (long) and `message-count` (int); the answer is 200 with
 * `messages`, a list of maps whose `message` is the encoded AMQP message, or 204 when no message
 * has that sequence number or a later one. Peek locks nothing and returns locked messages too.
 */
export function peekAnswer(
  queue: SubQueue,
  body: unknown,
): { status: number; description: string; body?: unknown } {
  const request = (body ?? {}) as Record<string, unknown>;
  const from = sequenceNumberOf(request['from-sequence-number']);
  const count = request['message-count'];
  if (from === undefined || typeof count !== 'number' || !Number.isInteger(count) || count < 1)
    return {
      status: 400,
      description: 'peek-message needs from-sequence-number (long) and message-count (int > 0)',
    };
  const found = queue.messages
    .filter((m) => m.sequenceNumber >= from)
    .sort((a, b) => a.sequenceNumber - b.sequenceNumber)
    .slice(0, count);
  if (found.length === 0) return { status: 204, description: 'No Content' };
  return {
    status: 200,
    description: 'OK',
    body: {
      messages: found.map((stored) => ({
        message: rhea.message.encode({
          ...stored.message,
          delivery_count: stored.deliveryCount,
          message_annotations: {
            ...(stored.message.message_annotations ?? {}),
            'x-opt-sequence-number': rhea.types.wrap_long(stored.sequenceNumber),
            'x-opt-enqueued-time': new Date(stored.enqueuedAt),
          },
        }),
      })),
    },
  };
}
