/**
 * Where the local host keeps each timer's schedule status (the real host keeps it in blob storage
 * under azure-webjobs-hosts/timers/…), so a restarted host can tell that an occurrence was missed.
 */
import Database from 'better-sqlite3';

export interface ScheduleStatusRecord {
  last: number | undefined;
  next: number;
  lastUpdated: number;
}

export interface TimerStatusStore {
  get(name: string): ScheduleStatusRecord | undefined;
  set(name: string, status: ScheduleStatusRecord): void;
  close(): void;
}

export class MemoryTimerStatusStore implements TimerStatusStore {
  private readonly map = new Map<string, ScheduleStatusRecord>();
  get(name: string): ScheduleStatusRecord | undefined {
    return this.map.get(name);
  }
  set(name: string, status: ScheduleStatusRecord): void {
    this.map.set(name, { ...status });
  }
  close(): void {
    this.map.clear();
  }
}

export class SqliteTimerStatusStore implements TimerStatusStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS timer_schedule_status (name TEXT PRIMARY KEY, last INTEGER, next INTEGER NOT NULL, last_updated INTEGER NOT NULL)',
    );
  }

  get(name: string): ScheduleStatusRecord | undefined {
    const row = this.db
      .prepare('SELECT last, next, last_updated AS lastUpdated FROM timer_schedule_status WHERE name = ?')
      .get(name) as { last: number | null; next: number; lastUpdated: number } | undefined;
    return row === undefined
      ? undefined
      : { last: row.last ?? undefined, next: row.next, lastUpdated: row.lastUpdated };
  }

  set(name: string, status: ScheduleStatusRecord): void {
    this.db
      .prepare(
        'INSERT INTO timer_schedule_status (name, last, next, last_updated) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT(name) DO UPDATE SET last = excluded.last, next = excluded.next, last_updated = excluded.last_updated',
      )
      .run(name, status.last ?? null, status.next, status.lastUpdated);
  }

  close(): void {
    this.db.close();
  }
}
