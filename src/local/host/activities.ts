/**
 * Running one activity work item: the captured activity handler with a fresh InvocationContext,
 * under host.json functionTimeout, and recording its TaskCompleted/TaskFailed for the instance.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { Clock, VirtualClock } from '../../shared/clock';
import { toError } from '../../shared/errors';
import { EventType, type HistoryEvent } from './history';
import type { ActivityWork } from './store';
import { FunctionTimeoutError, activityFailure } from './failures';
import type { DurableEngine } from './engine';
import { TERMINAL } from './contracts';

export async function runActivity(engine: DurableEngine, work: ActivityWork): Promise<void> {
  const fn = engine.registry.functions.get(work.name);
  let completion: HistoryEvent;
  const count = (engine.stats.activityExecutions.get(work.name) ?? 0) + 1;
  engine.stats.activityExecutions.set(work.name, count);
  const startedAt = engine.clock.now();
  if (fn === undefined || fn.triggerType !== 'activityTrigger') {
    completion = taskFailed(
      engine,
      work,
      new Error(`The function '${work.name}' doesn't exist, is disabled, or is not an activity function.`),
    );
  } else {
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: work.name,
      options: { trigger: fn.trigger as never },
      logHandler: (level, ...args) => engine.log(`[${work.name}] ${level}: ${args.map(String).join(' ')}`),
    });
    try {
      const input: unknown = work.input === undefined ? undefined : JSON.parse(work.input);
      const result = await withinFunctionTimeout(engine, work.name, () => fn.handler(input, context));
      completion = {
        ...engine.event(EventType.TaskCompleted),
        TaskScheduledId: work.taskScheduledId,
        Result: JSON.stringify(result ?? null),
      };
      engine.log(`[host] activity ${work.name} (${work.instanceId}#${work.taskScheduledId}) succeeded`);
    } catch (thrown) {
      completion = taskFailed(engine, work, toError(thrown));
      engine.log(
        `[host] activity ${work.name} (${work.instanceId}#${work.taskScheduledId}) failed: ${String(completion.Reason)}`,
      );
    }
  }
  engine.stats.activityRuns.push({ name: work.name, startedAt, endedAt: engine.clock.now() });
  const instance = engine.instances.get(work.instanceId);
  engine.store.transaction(() => {
    engine.store.deleteActivity(work.workId);
    if (
      instance === undefined ||
      instance.executionId !== work.executionId ||
      TERMINAL.includes(instance.runtimeStatus)
    )
      return;
    instance.inbox.push(completion);
    engine.persist(instance);
    engine.episodeRequests.add(instance.instanceId);
  });
}

/**
 * Runs an activity under host.json functionTimeout: past it the host records the execution as a
 * failure with its FunctionTimeoutException and stops waiting (the real host also restarts the
 * worker; here the handler's late outcome is ignored). Measured on a virtual clock (when it is
 * moved past the limit) or on the real clock. Not on a scaled clock: it multiplies the
 * simulation's own CPU time by its speedup (at ×2000 a 0.3 s activity "takes" 10 min), so a
 * timeout there would be ours, not Azure's.
 */
export function withinFunctionTimeout(
  engine: DurableEngine,
  name: string,
  run: () => unknown,
): Promise<unknown> {
  const limit = engine.functionTimeoutMs;
  const running = Promise.resolve().then(run);
  const clock = engine.clock as Partial<VirtualClock> & Clock;
  const virtual = typeof clock.onAdvance === 'function';
  if (limit === undefined || (!virtual && clock.toRealDelay !== undefined)) return running;
  const startedAt = clock.now();
  const timedOut = () => clock.now() - startedAt >= limit;
  let cancel = () => undefined as void;
  const timeout = new Promise<never>((_, reject) => {
    const fail = () => reject(new FunctionTimeoutError(name, limit));
    if (virtual && clock.onAdvance) {
      const unsubscribe = clock.onAdvance(() => {
        if (timedOut()) fail();
      });
      cancel = () => void unsubscribe();
    } else {
      const timer = setTimeout(fail, Math.min(limit, 2 ** 31 - 1));
      timer.unref?.();
      cancel = () => clearTimeout(timer);
    }
  });
  running.catch(() => undefined); // a late failure after the timeout is ignored
  return Promise.race([running, timeout]).finally(cancel);
}

export function taskFailed(engine: DurableEngine, work: ActivityWork, error: Error): HistoryEvent {
  return {
    ...engine.event(EventType.TaskFailed),
    TaskScheduledId: work.taskScheduledId,
    ...activityFailure(work.name, error),
  };
}
