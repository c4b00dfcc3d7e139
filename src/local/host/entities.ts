/**
 * Durable entities: queueing operations for an entity and running its queued operations as one
 * batch through the library's entity handler, committing state, answers and signals together.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { FactoryError, toError } from '../../shared/errors';
import type { CapturedFunction } from './contracts';
import { EventType, entitySchedulerId, parseEntitySchedulerId, type EntityRequest } from './history';
import type { EntityRecord } from './store';
import type { DurableEngine } from './engine';
import { TERMINAL } from './contracts';

/** What durable-functions' Entity.handle returns (lib/src/entities/EntityState.js). */
interface EntityBatchResult {
  entityExists: boolean;
  entityState: string | undefined;
  results: { isError: boolean; result?: string }[];
  signals?: { target: { name: string; key: string }; name: string; input: string }[];
}

/** @internal Queues an operation for an entity (inside the caller's transaction). */
export function sendToEntity(engine: DurableEngine, schedulerId: string, request: EntityRequest): void {
  const id = parseEntitySchedulerId(schedulerId);
  if (id === undefined) throw new FactoryError('BadRequest', `'${schedulerId}' is not an entity id.`);
  entityFunction(engine, id.name.toLowerCase());
  let entity = engine.entities.get(schedulerId);
  if (entity === undefined) {
    entity = {
      entityId: schedulerId,
      name: id.name.toLowerCase(),
      key: id.key,
      exists: false,
      state: undefined,
      queue: [],
      lastModifiedTime: engine.nowIso(),
    };
    engine.entities.set(schedulerId, entity);
  }
  entity.queue.push(request);
  engine.store.putEntity(entity);
}

export function entityFunction(engine: DurableEngine, name: string): CapturedFunction {
  const fn = [...engine.registry.functions.values()].find(
    (candidate) => candidate.triggerType === 'entityTrigger' && candidate.name.toLowerCase() === name,
  );
  if (fn === undefined)
    throw new FactoryError(
      'EntityNotFound',
      `The function '${name}' doesn't exist or is not an entity function.`,
    );
  return fn;
}

/**
 * Runs every queued operation of one entity as one batch through the library's entity handler,
 * then commits state, answers (EventRaised named by request id, to each calling orchestration)
 * and the signals the operations sent, in one transaction.
 */
export async function runEntityBatch(engine: DurableEngine, entity: EntityRecord): Promise<void> {
  const batch = entity.queue.slice();
  const fn = entityFunction(engine, entity.name);
  const trigger = {
    self: { name: entity.name, key: entity.key },
    exists: entity.exists,
    state: entity.state,
    batch: batch.map((request) => ({
      id: request.id,
      name: request.op,
      signal: request.signal,
      input: request.input,
    })),
  };
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: fn.name,
    options: { trigger: fn.trigger as never },
    logHandler: (level, ...args) =>
      engine.log(`[${fn.name} ${entity.entityId}] ${level}: ${args.map(String).join(' ')}`),
  });
  let result: EntityBatchResult;
  try {
    result = (await fn.handler(trigger, context)) as EntityBatchResult;
  } catch (thrown) {
    const message = JSON.stringify(toError(thrown).message);
    result = {
      entityExists: entity.exists,
      entityState: entity.state,
      results: batch.map(() => ({ isError: true, result: message })),
      signals: [],
    };
  }
  engine.store.transaction(() => {
    entity.exists = result.entityExists;
    entity.state = result.entityExists ? result.entityState : undefined;
    entity.queue.splice(0, batch.length);
    entity.lastModifiedTime = engine.nowIso();
    batch.forEach((request, index) => {
      const outcome = result.results[index];
      engine.log(
        `[host] entity ${entity.entityId} ${request.op} ${outcome?.isError ? 'failed' : 'succeeded'}`,
      );
      if (request.signal || request.parent === undefined) return;
      const parent = engine.instances.get(request.parent);
      if (
        parent === undefined ||
        parent.executionId !== request.parentExecution ||
        TERMINAL.includes(parent.runtimeStatus)
      )
        return;
      const response = outcome?.isError
        ? { result: outcome.result, exceptionType: 'Error' }
        : { result: outcome?.result };
      parent.inbox.push({
        ...engine.event(EventType.EventRaised),
        Name: request.id,
        Input: JSON.stringify(response),
      });
      engine.persist(parent);
      engine.episodeRequests.add(parent.instanceId);
    });
    for (const signal of result.signals ?? []) {
      engine.sendToEntity(entitySchedulerId(signal.target), {
        id: randomUUID(),
        op: signal.name,
        signal: true,
        ...(signal.input ? { input: signal.input } : {}),
        timestamp: engine.nowIso(),
      });
    }
    engine.store.putEntity(entity);
  });
  engine.progressCounter++;
}
