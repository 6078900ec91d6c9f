// The site's entries in this gate's SQLite (tables from store migration 7): its own
// entries numbered for the site (published until the broker acknowledges them), the
// other gates' entries as heard, and the conflicts found between them.
import type { Database } from 'better-sqlite3';
import type { Conflict, EntryRef } from './conflict.js';
import type { SiteEntry } from './topics.js';

export interface OwnEntryRow {
  seq: number;
  eventId: string;
  userId: string;
  enteredAtMs: number;
  offline: boolean;
}

/** What storing a peer's entry did: new (or newer than the stored one), or nothing (a duplicate, an older one). */
export type PeerUpsert = 'stored' | 'duplicate';

export interface StoredConflict extends Conflict<EntryRef> {
  eventId: string;
  userId: string;
  foundAtMs: number;
}

export class EntryStore {
  constructor(
    readonly db: Database,
    private readonly gateId: string,
  ) {}

  /** This gate's grant; call inside the transaction that records the decision, so one is never without the other. Returns its seq. */
  recordOwn(eventId: string, userId: string, enteredAtMs: number, offline: boolean): number {
    const r = this.db.prepare('INSERT INTO fleet_own_entries (event_id, user_id, entered_at, offline) VALUES (?, ?, ?, ?)').run(eventId, userId, enteredAtMs, offline ? 1 : 0);
    return Number(r.lastInsertRowid);
  }

  /** Own entries the broker has not acknowledged yet, oldest first. */
  unpublished(afterSeq: number, limit: number): OwnEntryRow[] {
    const rows = this.db
      .prepare('SELECT seq, event_id, user_id, entered_at, offline FROM fleet_own_entries WHERE published = 0 AND seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit) as { seq: number; event_id: string; user_id: string; entered_at: number; offline: number }[];
    return rows.map((r) => ({ seq: r.seq, eventId: r.event_id, userId: r.user_id, enteredAtMs: r.entered_at, offline: r.offline === 1 }));
  }

  markPublished(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const st = this.db.prepare('UPDATE fleet_own_entries SET published = 1 WHERE seq = ?');
    this.db.transaction(() => {
      for (const s of seqs) st.run(s);
    })();
  }

  unpublishedCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM fleet_own_entries WHERE published = 0').get() as { n: number }).n;
  }

  lastSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM fleet_own_entries').get() as { s: number }).s;
  }

  /** A peer's entry; per (event, attendee, gate) the one with the highest seq is kept. */
  upsertPeer(e: SiteEntry, receivedAtMs: number): PeerUpsert {
    const r = this.db
      .prepare(
        `INSERT INTO fleet_peer_entries (event_id, user_id, gate_id, entered_at, seq, offline, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(event_id, user_id, gate_id) DO UPDATE SET entered_at = excluded.entered_at, seq = excluded.seq, offline = excluded.offline, received_at = excluded.received_at
         WHERE excluded.seq > fleet_peer_entries.seq`,
      )
      .run(e.eventId, e.userId, e.gateId, e.enteredAtMs, e.seq, e.offline ? 1 : 0, receivedAtMs);
    return r.changes > 0 ? 'stored' : 'duplicate';
  }

  /** The latest peer entry per attendee of the event (wall-clock ms). */
  peerEntries(eventId: string): [string, number][] {
    const rows = this.db.prepare('SELECT user_id, MAX(entered_at) AS at FROM fleet_peer_entries WHERE event_id = ? GROUP BY user_id').all(eventId) as { user_id: string; at: number }[];
    return rows.map((r) => [r.user_id, r.at]);
  }

  peerEntryCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM fleet_peer_entries').get() as { n: number }).n;
  }

  /** Every grant of the attendee known here: own ones and the peers', for the conflict rule. */
  known(eventId: string, userId: string): EntryRef[] {
    const own = this.db.prepare('SELECT seq, entered_at FROM fleet_own_entries WHERE event_id = ? AND user_id = ?').all(eventId, userId) as { seq: number; entered_at: number }[];
    const peers = this.db.prepare('SELECT gate_id, seq, entered_at FROM fleet_peer_entries WHERE event_id = ? AND user_id = ?').all(eventId, userId) as { gate_id: string; seq: number; entered_at: number }[];
    return [...own.map((r) => ({ gateId: this.gateId, seq: r.seq, enteredAtMs: r.entered_at })), ...peers.map((r) => ({ gateId: r.gate_id, seq: r.seq, enteredAtMs: r.entered_at }))];
  }

  /** Records a conflict once; true when it was not known before. */
  recordConflict(eventId: string, userId: string, c: Conflict<EntryRef>, foundAtMs: number): boolean {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO fleet_conflicts (event_id, user_id, kept_gate, kept_at, kept_seq, conflict_gate, conflict_at, conflict_seq, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(eventId, userId, c.kept.gateId, c.kept.enteredAtMs, c.kept.seq, c.conflict.gateId, c.conflict.enteredAtMs, c.conflict.seq, foundAtMs);
    return r.changes > 0;
  }

  conflicts(): StoredConflict[] {
    const rows = this.db.prepare('SELECT * FROM fleet_conflicts ORDER BY found_at').all() as Record<string, string | number>[];
    return rows.map((r) => ({
      eventId: String(r.event_id),
      userId: String(r.user_id),
      kept: { gateId: String(r.kept_gate), enteredAtMs: Number(r.kept_at), seq: Number(r.kept_seq) },
      conflict: { gateId: String(r.conflict_gate), enteredAtMs: Number(r.conflict_at), seq: Number(r.conflict_seq) },
      foundAtMs: Number(r.found_at),
    }));
  }

  /** Peer entries and conflicts of events this gate no longer caches, older than maxAgeMs: the table must not grow for months. */
  purge(nowMs: number, maxAgeMs: number): number {
    const cutoff = nowMs - maxAgeMs;
    const a = this.db.prepare('DELETE FROM fleet_peer_entries WHERE entered_at < ? AND event_id NOT IN (SELECT id FROM events)').run(cutoff).changes;
    const b = this.db.prepare('DELETE FROM fleet_own_entries WHERE published = 1 AND entered_at < ? AND event_id NOT IN (SELECT id FROM events)').run(cutoff).changes;
    this.db.prepare('DELETE FROM fleet_conflicts WHERE found_at < ? AND event_id NOT IN (SELECT id FROM events)').run(cutoff);
    return a + b;
  }
}
