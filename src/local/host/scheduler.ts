/**
 * The engine's scheduling: which episodes, activities and entity batches run next within host.json's
 * concurrency limits, when the engine is idle, and durable timers (fired by the clock, or armed
 * with setTimeout in real-clock mode).
 */
import { EventType } from './history';
import type { DurableEngine } from './engine';
import { TERMINAL } from './contracts';
import { runActivity } from './activities';
import { runEntityBatch } from './entities';
import { mayRun, runEpisode } from './replay';

/** Earliest pending durable timer (clock ms), if any. */
export function nextTimerDue(engine: DurableEngine): number | undefined {
  let earliest: number | undefined;
  for (const timer of engine.timers.values())
    if (earliest === undefined || timer.fireAt < earliest) earliest = timer.fireAt;
  return earliest;
}

/** Fires every timer due at `now`; the host calls this after moving a virtual clock. */
export function fireDueTimers(engine: DurableEngine, now: number = engine.clock.now()): number {
  const due = [...engine.timers.values()]
    .filter((timer) => timer.fireAt <= now)
    .sort((a, b) => a.fireAt - b.fireAt);
  for (const timer of due) {
    engine.timers.delete(timer.timerKey);
    const instance = engine.instances.get(timer.instanceId);
    engine.store.transaction(() => {
      engine.store.deleteTimer(timer.timerKey);
      if (
        instance === undefined ||
        instance.executionId !== timer.executionId ||
        TERMINAL.includes(instance.runtimeStatus)
      )
        return;
      instance.inbox.push({
        ...engine.event(EventType.TimerFired),
        TimerId: timer.timerId,
        FireAt: new Date(timer.fireAt).toISOString(),
      });
      engine.persist(instance);
      engine.episodeRequests.add(instance.instanceId);
    });
  }
  if (due.length > 0) pump(engine);
  return due.length;
}

export function isIdle(engine: DurableEngine): boolean {
  return (
    engine.runningActivities.size === 0 &&
    engine.runningEpisodes.size === 0 &&
    engine.pendingActivities.size === 0 &&
    engine.runningEntities.size === 0 &&
    [...engine.entities.values()].every((entity) => entity.queue.length === 0) &&
    [...engine.episodeRequests].every((id) => engine.runningEpisodes.has(id))
  );
}

export function requestEpisode(engine: DurableEngine, instanceId: string): void {
  engine.episodeRequests.add(instanceId);
  pump(engine);
}

export function pump(engine: DurableEngine): void {
  if (engine.pumpQueued || engine.stopped) return;
  engine.pumpQueued = true;
  setImmediate(() => {
    engine.pumpQueued = false;
    runPump(engine);
  });
}

export function runPump(engine: DurableEngine): void {
  if (engine.stopped) return;
  engine.progressCounter++;
  for (const instanceId of [...engine.episodeRequests]) {
    if (engine.runningEpisodes.size >= engine.maxConcurrentOrchestrations) break;
    if (engine.runningEpisodes.has(instanceId)) continue;
    engine.episodeRequests.delete(instanceId);
    const instance = engine.instances.get(instanceId);
    if (instance === undefined || instance.inbox.length === 0 || TERMINAL.includes(instance.runtimeStatus))
      continue;
    if (!mayRun(engine, instance)) continue;
    void runEpisode(engine, instance).finally(() => pump(engine));
    engine.stats.peakConcurrentEpisodes = Math.max(
      engine.stats.peakConcurrentEpisodes,
      engine.runningEpisodes.size,
    );
  }
  for (const work of [...engine.pendingActivities.values()]) {
    if (engine.runningActivities.size >= engine.maxConcurrentActivities) break;
    engine.pendingActivities.delete(work.workId);
    engine.runningActivities.add(work.workId);
    engine.stats.peakConcurrentActivities = Math.max(
      engine.stats.peakConcurrentActivities,
      engine.runningActivities.size,
    );
    void runActivity(engine, work).finally(() => {
      engine.runningActivities.delete(work.workId);
      pump(engine);
    });
  }
  for (const entity of engine.entities.values()) {
    if (entity.queue.length === 0 || engine.runningEntities.has(entity.entityId)) continue;
    engine.runningEntities.add(entity.entityId);
    void runEntityBatch(engine, entity).finally(() => {
      engine.runningEntities.delete(entity.entityId);
      pump(engine);
    });
  }
  if (engine.realTimers) armRealTimer(engine);
  if (isIdle(engine)) {
    const waiters = engine.idleWaiters;
    engine.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

export function armRealTimer(engine: DurableEngine): void {
  if (engine.realTimer) clearTimeout(engine.realTimer);
  const due = engine.nextTimerDue();
  if (due === undefined) return;
  const remaining = due - engine.clock.now();
  const delay = Math.max(0, Math.min(engine.clock.toRealDelay?.(remaining) ?? remaining, 2 ** 31 - 1));
  // Timers may fire a little early (scaled clocks magnify that): re-arm after every wake-up.
  engine.realTimer = setTimeout(() => {
    engine.fireDueTimers();
    pump(engine);
  }, delay);
  engine.realTimer.unref?.();
}
