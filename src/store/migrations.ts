// Versioned schema migrations, tracked in PRAGMA user_version. Each runs in one
// transaction; a database is moved from whatever version it has to the latest. Each
// migration is fixed SQL, written once and never edited: a released version's tables are
// what its migration says, whoever reads or writes them (the outbox and audit belong to
// publish/, the API keys to api/; the store only owns the file and its schema).
import type { Database } from 'better-sqlite3';
import { dirname, join } from 'node:path';
import { BACKUP_DIR, newestUsableBackup } from './backup.js';
import { StoreError, type FieldCipher } from './crypto.js';
import { resealUnbound } from './reseal.js';

/** What a migration may need besides the file: the store's cipher, when the opener has it. */
export interface MigrationContext {
  cipher?: FieldCipher;
  /**
   * Set by a migration that replaced plaintext: SQLite leaves old cell contents in free
   * space, so the caller runs VACUUM once the migrations have committed.
   */
  vacuum?: boolean;
}

export interface Migration {
  version: number;
  description: string;
  up(db: Database, ctx: MigrationContext): void;
}

export const migrations: Migration[] = [
  {
    version: 1,
    description: 'events, attendees, embeddings, sync state',
    up(db) {
      db.exec(`
        CREATE TABLE events (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL DEFAULT '',
          starts_at INTEGER,            -- ms since epoch, NULL = open start
          ends_at INTEGER,              -- ms since epoch, NULL = open end
          purge_after INTEGER,          -- ms since epoch; attendees deleted after this
          created_at INTEGER NOT NULL
        );
        CREATE TABLE attendees (
          event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
          user_id TEXT NOT NULL,
          name TEXT NOT NULL DEFAULT '',
          session TEXT NOT NULL,        -- the contract's session object, without kyc
          kyc BLOB NOT NULL,            -- kyc array, sealed (encrypted when a key is set)
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (event_id, user_id)
        );
        CREATE TABLE embeddings (
          id INTEGER PRIMARY KEY,
          event_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          model_id TEXT NOT NULL,
          vector BLOB NOT NULL,         -- float32 x dim, sealed
          quality REAL,
          source TEXT NOT NULL,         -- enroll | sync | reembed
          photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
          created_at INTEGER NOT NULL,
          FOREIGN KEY (event_id, user_id) REFERENCES attendees(event_id, user_id) ON DELETE CASCADE
        );
        CREATE INDEX embeddings_by_event_model ON embeddings(event_id, model_id);
        CREATE INDEX embeddings_by_attendee ON embeddings(event_id, user_id);
        -- Enrollment photos, only when store.keepEnrollmentPhotos is on (to re-embed
        -- after a model change). Sealed like the other sensitive columns.
        CREATE TABLE photos (
          id INTEGER PRIMARY KEY,
          event_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          image BLOB NOT NULL,
          created_at INTEGER NOT NULL,
          FOREIGN KEY (event_id, user_id) REFERENCES attendees(event_id, user_id) ON DELETE CASCADE
        );
        CREATE TABLE sync_state (
          event_id TEXT PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
          cursor TEXT,                  -- last applied page's cursor
          model_id TEXT,                -- embedder the cursor was fetched for
          last_success_at INTEGER,
          last_attempt_at INTEGER,
          last_error TEXT
        );
      `);
    },
  },
  {
    version: 2,
    description: 'outbox of results to publish, hash-chained audit log',
    up(db) {
      db.exec(`
        CREATE TABLE outbox (
          seq        INTEGER PRIMARY KEY AUTOINCREMENT,
          message_id TEXT NOT NULL,
          topic      TEXT NOT NULL,
          payload    TEXT NOT NULL,
          audit_seq  INTEGER,
          created_ms INTEGER NOT NULL
        );
        CREATE TABLE outbox_dropped (
          id              INTEGER PRIMARY KEY CHECK (id = 1),
          count           INTEGER NOT NULL,
          first_audit_seq INTEGER,
          last_audit_seq  INTEGER,
          since_ms        INTEGER NOT NULL,
          until_ms        INTEGER NOT NULL
        );
        CREATE TABLE audit (
          seq       INTEGER PRIMARY KEY,
          ts        INTEGER NOT NULL,
          kind      TEXT NOT NULL,
          payload   TEXT NOT NULL,
          prev_hash TEXT NOT NULL,
          hash      TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 3,
    description: 'API keys for the local identity endpoint',
    up(db) {
      db.exec(`
        CREATE TABLE api_keys (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          name TEXT NOT NULL,
          hash BLOB NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          revoked_at TEXT
        );
        CREATE UNIQUE INDEX api_keys_live_name ON api_keys(name) WHERE revoked_at IS NULL;
      `);
    },
  },
  {
    version: 4,
    description: 'last entry per attendee, so anti-passback survives a restart',
    up(db) {
      db.exec(`
        CREATE TABLE gate_entries (
          event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
          user_id TEXT NOT NULL,
          entered_at INTEGER NOT NULL,  -- ms since epoch
          PRIMARY KEY (event_id, user_id)
        );
      `);
    },
  },
  {
    version: 5,
    description: 'remote command request ids, so a repeated id is answered again and never run twice, across restarts',
    up(db) {
      // IF NOT EXISTS: version 2 of releases before this one also created the table.
      db.exec(`
        CREATE TABLE IF NOT EXISTS command_requests (
          name TEXT NOT NULL,
          id TEXT NOT NULL,
          received_ms INTEGER NOT NULL,
          response TEXT,               -- the JSON answer sent; NULL while the command runs
          PRIMARY KEY (name, id)
        );
      `);
    },
  },
  {
    version: 6,
    description: 'a heartbeat row the daemon writes: proof that the database takes writes',
    up(db) {
      db.exec('CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at_ms INTEGER NOT NULL);');
    },
  },
  {
    version: 7,
    description: 'site-wide entries: this gate\'s own entries numbered for the site, the other gates\' entries, conflicts (docs/fleet.md)',
    up(db) {
      db.exec(`
        CREATE TABLE fleet_own_entries (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the entry's site-wide sequence at this gate, never reused
          event_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          entered_at INTEGER NOT NULL,            -- ms since epoch
          offline INTEGER NOT NULL,               -- 1: granted while the gate could not hear its peers
          published INTEGER NOT NULL DEFAULT 0    -- 1: the broker acknowledged it
        );
        CREATE INDEX fleet_own_unpublished ON fleet_own_entries(seq) WHERE published = 0;
        CREATE INDEX fleet_own_by_attendee ON fleet_own_entries(event_id, user_id);
        -- No foreign key to events: a peer may admit to an event this gate has not cached yet.
        CREATE TABLE fleet_peer_entries (
          event_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          gate_id TEXT NOT NULL,
          entered_at INTEGER NOT NULL,            -- ms since epoch, the peer's clock
          seq INTEGER NOT NULL,
          offline INTEGER NOT NULL,
          received_at INTEGER NOT NULL,
          PRIMARY KEY (event_id, user_id, gate_id)
        );
        CREATE TABLE fleet_conflicts (
          event_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          kept_gate TEXT NOT NULL,
          kept_at INTEGER NOT NULL,
          kept_seq INTEGER NOT NULL,
          conflict_gate TEXT NOT NULL,
          conflict_at INTEGER NOT NULL,
          conflict_seq INTEGER NOT NULL,
          found_at INTEGER NOT NULL,
          PRIMARY KEY (event_id, user_id, kept_gate, kept_seq, conflict_gate, conflict_seq)
        );
      `);
    },
  },
  {
    version: 8,
    description: 'SHA-256 of the enrollment photo an embedding came from, so a repeated import skips photos already enrolled',
    up(db) {
      db.exec(`
        ALTER TABLE embeddings ADD COLUMN photo_sha256 TEXT;  -- hex; NULL for synced embeddings
        CREATE INDEX embeddings_by_photo ON embeddings(event_id, user_id, photo_sha256);
      `);
    },
  },
  {
    version: 9,
    description: 'sealed values bound to their rows (table, column, row identity as associated data); older ones re-sealed with the store key',
    up(db, ctx) {
      // Needs the key when old sealed values exist: refused without it (see reseal.ts).
      if (resealUnbound(db, ctx.cipher).sealedPlain > 0) ctx.vacuum = true;
    },
  },
];

export const LATEST_VERSION = (): number => migrations[migrations.length - 1]!.version;


/**
 * A database written by a newer release (after a rollback): never opened, since the older
 * code would misread or damage it. The message names the backup to restore.
 */
function newerSchemaError(file: string, version: number): StoreError {
  const backup = newestUsableBackup(file, LATEST_VERSION());
  const restore = backup
    ? `restore the backup made before the upgrade: \`sudo systemctl stop gate-agent && sudo -u gate-agent cp ${backup} ${file} && sudo rm -f ${file}-wal ${file}-shm && sudo systemctl start gate-agent\``
    : `no backup this release can open is in ${join(dirname(file), BACKUP_DIR)}; restore one taken with \`gate-agent store backup\` before the upgrade`;
  return new StoreError(
    `database ${file} has schema version ${version}, newer than this gate-agent knows (${LATEST_VERSION()}): a newer release wrote it. Go back to that release (run its scripts/install.sh again), or ${restore} (decisions and syncs since that backup are lost; the next sync fetches the attendees again)`,
  );
}

/** Runs each migration in its own transaction; then VACUUM when one of them asked for it (see MigrationContext). */
export function migrate(db: Database, target = LATEST_VERSION(), ctx: MigrationContext = {}): number {
  let current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_VERSION()) throw newerSchemaError(db.name, current);
  for (const m of migrations) {
    if (m.version <= current || m.version > target) continue;
    db.transaction(() => {
      m.up(db, ctx);
      db.pragma(`user_version = ${m.version}`);
    })();
    current = m.version;
  }
  if (ctx.vacuum) vacuum(db);
  return current;
}

/**
 * Rewrites the file so that values replaced by sealed ones leave no plaintext in free
 * space or in the write-ahead log (both are truncated after the rewrite).
 */
export function vacuum(db: Database): void {
  db.exec('VACUUM');
  db.pragma('wal_checkpoint(TRUNCATE)');
}
