// Remote command requests by id, kept in SQLite: a request id seen before (a QoS 1
// redelivery, a replay, the same id after a daemon restart) is never run again, and is
// answered again with its first outcome, as docs/mqtt.md promises one answer per request.
// Bounded: the newest `maxEntries` ids younger than `maxAgeMs` are kept.
import type { Database } from 'better-sqlite3';


export const COMMAND_LOG_DEFAULTS = { maxEntries: 1000, maxAgeMs: 7 * 86_400_000 };

export type CommandSeen = { state: 'new' } | { state: 'running' } | { state: 'answered'; response: string };

export class CommandLog {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
    private readonly limits = COMMAND_LOG_DEFAULTS,
  ) {}

  /** Claims `name:id`: 'new' the first time (now recorded as running), else what is known of it. */
  claim(name: string, id: string): CommandSeen {
    return this.db.transaction((): CommandSeen => {
      const row = this.db.prepare('SELECT response FROM command_requests WHERE name = ? AND id = ?').get(name, id) as { response: string | null } | undefined;
      if (row) return row.response === null ? { state: 'running' } : { state: 'answered', response: row.response };
      const at = this.now();
      this.db.prepare('INSERT INTO command_requests (name, id, received_ms, response) VALUES (?, ?, ?, NULL)').run(name, id, at);
      this.db.prepare('DELETE FROM command_requests WHERE received_ms < ?').run(at - this.limits.maxAgeMs);
      this.db
        .prepare('DELETE FROM command_requests WHERE rowid IN (SELECT rowid FROM command_requests ORDER BY received_ms DESC, rowid DESC LIMIT -1 OFFSET ?)')
        .run(this.limits.maxEntries);
      return { state: 'new' };
    })();
  }

  /** The outcome of a claimed request, sent again when the same id comes back. */
  answered(name: string, id: string, response: string): void {
    this.db.prepare('UPDATE command_requests SET response = ? WHERE name = ? AND id = ?').run(response, name, id);
  }
}
