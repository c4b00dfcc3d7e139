/**
 * Durable state of the local host in SQLite (better-sqlite3): synchronous, transactional and a
 * single file, so a SIGKILL between two statements loses nothing that was committed, and a restart
 * on the same file resumes every instance. ':memory:' for tests that don't restart.
 */
import Database from 'better-sqlite3';
import type { EntityRequest, HistoryEvent } from './history';

export interface InstanceRecord {
  instanceId: string;
  name: string;
  executionId: string;
  runtimeStatus: 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';
  /** JSON text of the current execution's input. */
  input: string | undefined;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  parent?: { instanceId: string; taskScheduledId: number; executionId: string };
  /** Orchestration version stamped at creation (host.json defaultVersion or the caller's). */
  version?: string;
  history: HistoryEvent[];
  /** New events not yet seen by the orchestrator (the next episode's input). */
  inbox: HistoryEvent[];
  /** Action signatures of the last episode, for the non-determinism check. */
  lastActions: string[];
}

export interface ActivityWork {
  workId: string;
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  input: string | undefined;
}

export interface TimerWork {
  timerKey: string;
  instanceId: string;
  executionId: string;
  timerId: number;
  fireAt: number;
}

/** A durable entity: its state and the operations waiting for it (processed in arrival order). */
export interface EntityRecord {
  /** "@name@key" */
  entityId: string;
  name: string;
  key: string;
  exists: boolean;
  /** JSON text of the state. */
  state: string | undefined;
  queue: EntityRequest[];
  lastModifiedTime: string;
}

export class HostStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS activities (id TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS timers (id TEXT PRIMARY KEY, fire_at INTEGER NOT NULL, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS entities (id TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.statements = {
      putInstance: this.db.prepare('INSERT OR REPLACE INTO instances (id, data) VALUES (?, ?)'),
      deleteInstance: this.db.prepare('DELETE FROM instances WHERE id = ?'),
      putActivity: this.db.prepare('INSERT OR REPLACE INTO activities (id, data) VALUES (?, ?)'),
      deleteActivity: this.db.prepare('DELETE FROM activities WHERE id = ?'),
      putTimer: this.db.prepare('INSERT OR REPLACE INTO timers (id, fire_at, data) VALUES (?, ?, ?)'),
      deleteTimer: this.db.prepare('DELETE FROM timers WHERE id = ?'),
      putEntity: this.db.prepare('INSERT OR REPLACE INTO entities (id, data) VALUES (?, ?)'),
      putValue: this.db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)'),
      getValue: this.db.prepare('SELECT value FROM kv WHERE key = ?'),
    };
  }

  transaction(work: () => void): void {
    this.db.transaction(work)();
  }

  putInstance(record: InstanceRecord): void {
    this.statements.putInstance.run(record.instanceId, JSON.stringify(record));
  }
  deleteInstance(instanceId: string): void {
    this.statements.deleteInstance.run(instanceId);
  }
  putActivity(work: ActivityWork): void {
    this.statements.putActivity.run(work.workId, JSON.stringify(work));
  }
  deleteActivity(workId: string): void {
    this.statements.deleteActivity.run(workId);
  }
  putTimer(timer: TimerWork): void {
    this.statements.putTimer.run(timer.timerKey, timer.fireAt, JSON.stringify(timer));
  }
  deleteTimer(timerKey: string): void {
    this.statements.deleteTimer.run(timerKey);
  }
  putEntity(entity: EntityRecord): void {
    this.statements.putEntity.run(entity.entityId, JSON.stringify(entity));
  }
  putValue(key: string, value: unknown): void {
    this.statements.putValue.run(key, JSON.stringify(value));
  }
  getValue<T>(key: string): T | undefined {
    const row = this.statements.getValue.get(key) as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  loadAll(): {
    instances: InstanceRecord[];
    activities: ActivityWork[];
    timers: TimerWork[];
    entities: EntityRecord[];
  } {
    const rows = (table: string) =>
      (this.db.prepare(`SELECT data FROM ${table}`).all() as { data: string }[]).map(
        (row) => JSON.parse(row.data) as unknown,
      );
    return {
      instances: rows('instances') as InstanceRecord[],
      activities: rows('activities') as ActivityWork[],
      timers: rows('timers') as TimerWork[],
      entities: rows('entities') as EntityRecord[],
    };
  }

  close(): void {
    this.db.close();
  }
}
