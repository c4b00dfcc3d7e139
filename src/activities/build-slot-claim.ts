/**
 * Whether a build may start its Image Builder run now (build-slots.ts): reads only. Tickets (image
 * templates tagged with the slot key) sorting before this build's count against the cap whatever
 * their state, so only the ones after it are read (one of them may run: it started before this
 * ticket appeared). An unreadable one is counted as running: a read fault can delay a build, never
 * let it exceed the cap. One list and a few reads per ask however long the queue.
 */
import type { AzurePorts } from '../ports/azure';
import type { ClaimBuildSlotInput } from '../domain/pipeline/activities';
import {
  BUILD_SLOT_TAG,
  decideBuildSlot,
  type SlotDecision,
  type SlotTicket,
} from '../domain/pipeline/build-slots';
import { isFactoryError } from '../shared/errors';

export interface SlotSettings {
  /** Image Builder runs at a time per subscription and region (BUILD_SLOTS_PER_SUBSCRIPTION_REGION). */
  perSubscriptionRegion: number;
  log: (line: string) => void;
}

export async function claimBuildSlot(
  azure: AzurePorts,
  slots: SlotSettings,
  input: ClaimBuildSlotInput,
): Promise<SlotDecision> {
  const builder = azure.imageBuilder(input.credential);
  const limit = slots.perSubscriptionRegion;
  const ids = await azure
    .testVms(input.credential)
    .listTaggedResources(input.scope, BUILD_SLOT_TAG, input.slotKey);
  const names = ids
    .filter((id) => /\/providers\/Microsoft\.VirtualMachineImages\/imageTemplates\/[^/]+$/i.test(id))
    .map((id) => id.split('/').pop() ?? '')
    .sort();
  const tickets: SlotTicket[] = [];
  let listedMine = false;
  for (const name of names) {
    if (name === input.templateName) {
      listedMine = true;
      tickets.push({ name, running: false });
    } else if (name < input.templateName) tickets.push({ name, running: false });
  }
  if (!listedMine) {
    // A listing can lag behind a create: this build's own ticket is looked up directly.
    const own = await builder.getTemplate({ ...input.scope, name: input.templateName });
    if (own !== undefined) tickets.push({ name: input.templateName, running: false });
  }
  const after = names.filter((name) => name > input.templateName);
  for (const name of after) {
    // The cap is reached already: no need to read on.
    if (tickets.filter((t) => t.name !== input.templateName).length >= limit) break;
    let running = true;
    try {
      const runState = (await builder.getTemplate({ ...input.scope, name }))?.lastRun?.runState;
      running = runState === 'Running' || runState === 'Canceling';
    } catch (error) {
      if (!isFactoryError(error) || !error.retryable) throw error;
      slots.log(`build slot: could not read ticket ${name}, counting it as running: ${error.message}`);
    }
    if (running) tickets.push({ name, running });
  }
  return decideBuildSlot(tickets, input.templateName, limit);
}
