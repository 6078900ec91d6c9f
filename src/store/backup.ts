// A consistent copy of the agent's database while the daemon keeps writing (SQLite's
// online backup API), and finding the backup to restore when a rollback meets a newer schema.
import BetterSqlite3 from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StoreError } from './crypto.js';
import { DB_FILE } from './db.js';

export const BACKUP_DIR = 'backups';

export interface BackupResult {
  file: string;
  bytes: number;
  schemaVersion: number;
}

/** Default backup path: <dataDir>/backups/gate-agent-<UTC time>.db (no colons: it is a file name). */
export function defaultBackupPath(dataDir: string, nowMs: number): string {
  return join(dataDir, BACKUP_DIR, `gate-agent-${new Date(nowMs).toISOString().replace(/[:.]/g, '-')}.db`);
}

/**
 * Copy <dataDir>/gate-agent.db to `dest`. The source is opened read-only and never
 * migrated, so a newer release can back up an older database before it upgrades it.
 * The copy is written beside `dest` and renamed when complete and checked.
 */
export async function backupDatabase(dataDir: string, dest: string): Promise<BackupResult> {
  const src = join(dataDir, DB_FILE);
  if (!existsSync(src)) throw new StoreError(`no database at ${src}: nothing to back up (check dataDir / --data-dir)`);
  if (existsSync(dest)) throw new StoreError(`${dest} already exists; give another file name (backups are never overwritten)`);
  mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
  const partial = `${dest}.partial`;
  rmSync(partial, { force: true });
  const db = new BetterSqlite3(src, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(partial);
  } finally {
    db.close();
  }
  // Templates and KYC data are in it (sealed when store.keyFile is set): owner only.
  chmodSync(partial, 0o600);
  const schemaVersion = checkCopy(partial);
  renameSync(partial, dest);
  return { file: dest, bytes: statSync(dest).size, schemaVersion };
}

/** One self-contained file (rollback journal, not WAL: no -wal/-shm beside it), checked. */
function checkCopy(file: string): number {
  const copy = new BetterSqlite3(file, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new StoreError(`the backup ${file} failed its integrity check (${String(check)}); the disk may be failing`);
    return copy.pragma('user_version', { simple: true }) as number;
  } finally {
    copy.close();
  }
}

/** Schema version of a database file, without changing it; null when unreadable. */
export function schemaVersionOf(file: string): number | null {
  try {
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    try {
      return db.pragma('user_version', { simple: true }) as number;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/** The newest backup beside `dbFile` that this code can open (schema <= maxVersion), or null. */
export function newestUsableBackup(dbFile: string, maxVersion: number): string | null {
  const dir = join(dirname(dbFile), BACKUP_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.db'));
  } catch {
    return null;
  }
  const usable = names
    .map((n) => join(dir, n))
    .map((f) => ({ f, mtime: statSync(f).mtimeMs, v: schemaVersionOf(f) }))
    .filter((b) => b.v !== null && b.v <= maxVersion)
    .sort((a, b) => b.mtime - a.mtime);
  return usable[0]?.f ?? null;
}
