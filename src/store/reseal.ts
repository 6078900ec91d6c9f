// Migration 9: values sealed before schema 9 (format 0x01) carry no row binding. With the
// store key, each is opened and sealed again bound to its row (format 0x02); with a key,
// a plaintext value left from before the key was set (0x00, which older releases
// accepted beside sealed ones) is sealed too, and so is a plaintext queued result.
// Without the key nothing can be re-sealed: the migration refuses (its transaction rolls
// back, the file stays at schema 8 untouched) and says to open the store once with the key.
// Fixed code, written once: the bindings are spelled out here as format 0x02 defines
// them, not taken from sealed-columns.ts, which later releases may extend.
import type { Database } from 'better-sqlite3';
import { logger } from '../log.js';
import { FieldCipher, SEALED_UNBOUND, StoreError, type RowBinding } from './crypto.js';

type Row = { k: number; event_id: string; user_id: string; id: number; model_id: string; v: Buffer | string };

const COLUMNS: { table: string; column: string; identity: string; at(r: Row): RowBinding }[] = [
  { table: 'attendees', column: 'kyc', identity: 'event_id, user_id', at: (r) => ({ table: 'attendees', column: 'kyc', row: [r.event_id, r.user_id] }) },
  {
    table: 'embeddings',
    column: 'vector',
    identity: 'id, event_id, user_id, model_id',
    at: (r) => ({ table: 'embeddings', column: 'vector', row: [r.id, r.event_id, r.user_id, r.model_id] }),
  },
  { table: 'photos', column: 'image', identity: 'id, event_id, user_id', at: (r) => ({ table: 'photos', column: 'image', row: [r.id, r.event_id, r.user_id] }) },
  { table: 'outbox', column: 'payload', identity: 'seq', at: () => ({ table: 'outbox', column: 'payload', row: [] }) },
];

const BATCH_ROWS = 500;

export interface ResealCounts {
  /** Old-format sealed values now sealed bound to their rows. */
  resealed: number;
  /** Plaintext values (written before a key was set) now sealed. */
  sealedPlain: number;
  /** Old-format values that failed their integrity check: left as they were, refused when read. */
  damaged: number;
}

/** What migration 9 does; `cipher` is the store's (absent or keyless: no key configured). */
export function resealUnbound(db: Database, cipher: FieldCipher | undefined): ResealCounts {
  const counts: ResealCounts = { resealed: 0, sealedPlain: 0, damaged: 0 };
  const keyed = cipher?.encrypting === true;
  if (!keyed) {
    let old = 0;
    for (const c of COLUMNS) old += db.prepare(`SELECT COUNT(*) FROM ${c.table} WHERE typeof(${c.column}) = 'blob' AND hex(substr(${c.column}, 1, 1)) = '01'`).pluck().get() as number;
    if (old === 0) return counts;
    throw new StoreError(
      `database ${db.name} holds ${old} value(s) encrypted by an earlier gate-agent, which this release re-seals bound to their rows (schema 9); that needs the store key, and none is configured here. ` +
        'Open the store once with its key (start the daemon, or run `gate-agent events list` with store.keyFile or GATE_AGENT_STORE_KEY set), then run this again; nothing was changed',
    );
  }
  const log = logger('store');
  for (const c of COLUMNS) {
    // Old-format blobs, plaintext blobs, and (the outbox) plaintext text.
    const select = db.prepare(
      `SELECT rowid AS k, ${c.identity}, ${c.column} AS v FROM ${c.table}
       WHERE rowid > ? AND (typeof(${c.column}) = 'text' OR hex(substr(${c.column}, 1, 1)) IN ('00', '01')) ORDER BY rowid LIMIT ${BATCH_ROWS}`,
    );
    const update = db.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE rowid = ?`);
    let after = 0;
    for (;;) {
      const rows = select.all(after) as Row[];
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.k;
        const at = c.at(r);
        if (typeof r.v === 'string') {
          update.run(cipher.seal(Buffer.from(r.v, 'utf8'), at), r.k);
          counts.sealedPlain++;
        } else if (r.v[0] === SEALED_UNBOUND) {
          let plain: Buffer;
          try {
            plain = cipher.openUnbound(r.v, at);
          } catch (err) {
            // A wrong key fails every value: stop, change nothing, say so.
            if (err instanceof StoreError && /different key/.test(err.message)) throw new StoreError(`migration 9 cannot re-seal ${db.name}: ${err.message}; nothing was changed`);
            counts.damaged++;
            log.warn({ table: c.table, column: c.column, row: at.row }, `${c.table}.${c.column} (${at.row.join(', ')}) failed its integrity check and was left as it was; it will be refused when read: remove the attendee and sync again`);
            continue;
          }
          update.run(cipher.seal(plain, at), r.k);
          counts.resealed++;
        } else {
          update.run(cipher.seal(r.v.subarray(1), at), r.k);
          counts.sealedPlain++;
        }
      }
    }
  }
  if (counts.resealed + counts.sealedPlain + counts.damaged > 0) log.info(counts, `migration 9: ${counts.resealed} value(s) re-sealed bound to their rows, ${counts.sealedPlain} plaintext value(s) sealed, ${counts.damaged} damaged value(s) left`);
  return counts;
}
