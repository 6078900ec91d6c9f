// Opening the agent's one SQLite file: WAL, foreign keys, migrations.
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FieldCipher } from './crypto.js';
import { migrate } from './migrations.js';

export const DB_FILE = 'gate-agent.db';

/** `cipher`: the store's, so a migration that re-seals values can (openStore passes it). */
export function openDatabase(dataDir: string, opts: { migrateTo?: number; readonly?: boolean; cipher?: FieldCipher } = {}): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new BetterSqlite3(join(dataDir, DB_FILE), { readonly: opts.readonly ?? false });
  db.pragma('journal_mode = WAL');
  // FULL: a committed decision and its queued result survive power loss, not only a
  // crash of the process. Commits are few (one per decision, one per sync page).
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    try {
      migrate(db, opts.migrateTo, { cipher: opts.cipher });
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return db;
}

export type { Database };
