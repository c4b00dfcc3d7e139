/**
 * The Service Bus part of host.json as extension 5.x (extension bundle 4.x) reads it: flat
 * `extensions.serviceBus.autoCompleteMessages` (default true), `maxConcurrentCalls` (default 16 ×
 * processors), `maxAutoLockRenewalDuration` (TimeSpan, default 00:05:00). The 4.x block
 * `messageHandlerOptions` is ignored by 5.x, so it is ignored here too and reported. Source:
 * Microsoft docs "Azure Service Bus bindings for Azure Functions", host.json settings (extension
 * 5.x+); /work/shared/notes/platform-facts.md.
 *
 * The shape matches the `serviceBus` part of the local host's host.json reader (helper h4's
 * src/local/host/host-json.ts), so that reader can replace this one without touching the trigger.
 */
import { readFileSync } from 'node:fs';

export interface ServiceBusHostSettings {
  autoCompleteMessages: boolean;
  /** undefined: the extension's default, 16 × the instance's processors. */
  maxConcurrentCalls: number | undefined;
  maxAutoLockRenewalDurationMs: number;
  /** Keys host.json sets that extension 5.x ignores (e.g. messageHandlerOptions). */
  ignored: string[];
}

const DEFAULT_LOCK_RENEWAL_MS = 5 * 60_000;

export const DEFAULT_SERVICE_BUS_HOST_SETTINGS: ServiceBusHostSettings = {
  autoCompleteMessages: true,
  maxConcurrentCalls: undefined,
  maxAutoLockRenewalDurationMs: DEFAULT_LOCK_RENEWAL_MS,
  ignored: [],
};

/** `[d.]hh:mm:ss[.fff]` → ms. */
function timeSpanMs(value: string): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value);
  if (!m) return undefined;
  const [, d, h, min, s, frac] = m;
  return (
    (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s)) * 1000 +
    Math.round(Number(`0.${frac ?? '0'}`) * 1000)
  );
}

/** host.json (a path or the parsed document) → the Service Bus extension's settings. */
export function serviceBusHostSettings(source: string | Record<string, unknown>): ServiceBusHostSettings {
  const doc =
    typeof source === 'string'
      ? (JSON.parse(readFileSync(source, 'utf8')) as Record<string, unknown>)
      : source;
  const extensions = (doc.extensions ?? {}) as Record<string, unknown>;
  const block = (extensions.serviceBus ?? {}) as Record<string, unknown>;
  const bad = (key: string, want: string) =>
    new Error(`host.json extensions.serviceBus.${key} must be ${want}, not ${JSON.stringify(block[key])}`);
  const auto = block.autoCompleteMessages;
  if (auto !== undefined && typeof auto !== 'boolean') throw bad('autoCompleteMessages', 'true or false');
  const calls = block.maxConcurrentCalls;
  if (calls !== undefined && (typeof calls !== 'number' || !Number.isInteger(calls) || calls < 1))
    throw bad('maxConcurrentCalls', 'a positive integer');
  const renewal = block.maxAutoLockRenewalDuration;
  const renewalMs = typeof renewal === 'string' ? timeSpanMs(renewal) : undefined;
  if (renewal !== undefined && renewalMs === undefined)
    throw bad('maxAutoLockRenewalDuration', 'a TimeSpan (hh:mm:ss)');
  return {
    autoCompleteMessages: auto ?? true,
    maxConcurrentCalls: calls,
    maxAutoLockRenewalDurationMs: renewalMs ?? DEFAULT_LOCK_RENEWAL_MS,
    ignored: Object.keys(block).filter((key) => key === 'messageHandlerOptions'),
  };
}
