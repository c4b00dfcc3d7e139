/**
 * Build slots: at most N Image Builder runs at a time per subscription and region (setting
 * BUILD_SLOTS_PER_SUBSCRIPTION_REGION), across every pipeline and every instance of the app.
 *
 * The local durable host has no durable entities, so the semaphore is not an entity. Its state is
 * the image templates themselves, which every build creates anyway and always deletes at the end:
 * - a build's template is its ticket: tagged `imagefactory.buildSlot = <subscription>/<region>`,
 *   named `it-<yyMMddHHmmss of the build's start>-…`, so names sort in arrival order;
 * - a ticket whose run has started holds a slot, whoever it is (so a late ticket never pushes a
 *   running build out);
 * - a build may start when (tickets ahead of it) + (running tickets behind it) < N; an unreadable
 *   ticket behind it counts as running (a read fault delays, never exceeds the cap);
 * - the ticket disappears with the template (success, failure, cancel: compensation deletes it), so
 *   a slot cannot leak while the build's own compensation runs.
 * Known limit (documented): the check and the start are two calls, so two builds whose tickets
 * appear within the same few seconds, each not yet seeing the other, can both start: the cap can be
 * exceeded by one for that moment. Image Builder queues such a run; nothing breaks. Tickets are
 * counted in the pipeline's template resource group: pipelines that share a subscription and region
 * share the slots when they share that group (one template group per subscription, as in infra).
 * Pure: used by the claim activity and by tests.
 */

export const BUILD_SLOT_TAG = 'imagefactory.buildSlot';

/** The slot pool a build belongs to. */
export const buildSlotKey = (subscriptionId: string, location: string): string =>
  `${subscriptionId}/${location}`.toLowerCase();

export interface SlotTicket {
  /** Template name (sorts in arrival order). */
  name: string;
  /** Its run has started (Running or Canceling): it holds a slot. */
  running: boolean;
}

export interface SlotDecision {
  granted: boolean;
  /** Whether this build's own ticket (template) exists; when not, there is nothing to wait for. */
  ticketExists: boolean;
  /** Running builds not counted in `ahead` (behind this one: they started before its ticket appeared). */
  running: number;
  /** Builds ahead of this one (running or not: every one of them counts against the cap). */
  ahead: number;
  limit: number;
}

export function decideBuildSlot(tickets: SlotTicket[], mine: string, limit: number): SlotDecision {
  const own = tickets.find((t) => t.name === mine);
  const others = tickets.filter((t) => t.name !== mine);
  const running = others.filter((t) => t.running).length;
  const ahead = others.filter((t) => !t.running && t.name < mine).length;
  return {
    granted: own !== undefined && (own.running || running + ahead < limit),
    ticketExists: own !== undefined,
    running,
    ahead,
    limit,
  };
}

/** How often the first build in the queue asks again: a slot may free at any moment. */
export const BUILD_SLOT_POLL_MS = 60_000;
/** The longest a queued build waits before asking again, however far back it is. */
export const BUILD_SLOT_MAX_POLL_MS = 15 * 60_000;

/**
 * When a build that was refused a slot asks again: one minute per place it has in the queue beyond
 * the cap, up to 15 minutes. A queue of 200 builds then reads ARM about a thousand times an hour
 * instead of 12 000 (ARM allows 12 000 reads an hour per principal and subscription), and the build
 * next in line still notices a freed slot within a minute.
 */
export function slotPollDelayMs(decision: SlotDecision): number {
  const place = Math.max(1, decision.running + decision.ahead - decision.limit + 1);
  return Math.min(BUILD_SLOT_MAX_POLL_MS, place * BUILD_SLOT_POLL_MS);
}

/** yyMMddHHmmss (UTC): the arrival stamp that starts template names. */
export function arrivalStamp(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCFullYear() % 100)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(
    d.getUTCHours(),
  )}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}
