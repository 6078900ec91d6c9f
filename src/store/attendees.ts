// The attendee cache: events, attendees with their sessions, embeddings tagged with
// the model that made them, sync state, and retention.
import { EventEmitter } from 'node:events';
import type { Database, Statement } from 'better-sqlite3';
import { FieldCipher, StoreError, type RowBinding } from './crypto.js';
import { vacuum } from './migrations.js';
import { kycAt, OUTBOX_PAYLOAD, photoAt, vectorAt } from './sealed-columns.js';
import type { AttendeeSession } from './session.js';
import { isoWithOffset } from '../clock.js';
import { errorText } from '../errors.js';
import { logger, type Logger } from '../log.js';

export interface EventRow {
  id: string;
  name: string;
  startsAt: number | null;
  endsAt: number | null;
  purgeAfter: number | null;
}

export interface AttendeeRow {
  eventId: string;
  userId: string;
  name: string;
  updatedAt: number;
}

export interface StoredEmbedding {
  id: number;
  userId: string;
  vector: Float32Array;
}

export interface NewEmbedding {
  vector: Float32Array;
  modelId: string;
  quality: number | null;
  source: 'enroll' | 'sync' | 'reembed';
  photo?: Buffer | null;
  /** SHA-256 (hex) of the enrollment photo's bytes: a repeated enrollment of it is skipped. */
  photoSha256?: string | null;
}

/** What changed, so galleries follow without a full rebuild. */
export type StoreChange =
  | { kind: 'embedding-added'; eventId: string; userId: string; modelId: string; id: number; vector: Float32Array }
  /** modelId null: all of the attendee's embeddings (the attendee was removed). */
  | { kind: 'embeddings-removed'; eventId: string; userId: string; modelId: string | null }
  | { kind: 'event-removed'; eventId: string };

export interface SyncState {
  cursor: string | null;
  modelId: string | null;
  lastSuccessAt: number | null;
  lastAttemptAt: number | null;
  lastError: string | null;
}

export class AttendeeStore extends EventEmitter<{ change: [StoreChange] }> {
  private pending: StoreChange[] = [];
  private depth = 0;
  /**
   * Prepared once per SQL text: preparing took a fifth of a 200-attendee sync page's time
   * on the event loop. Not for iterate(): a statement being iterated cannot run again
   * until it is done, so iterating readers prepare their own.
   */
  private readonly statements = new Map<string, Statement>();

  constructor(
    readonly db: Database,
    public cipher: FieldCipher,
    private readonly now: () => number = Date.now,
    private readonly log: Logger = logger('store'),
  ) {
    super();
  }

  /**
   * Run fn in one transaction; change events are emitted only after it commits, so
   * a gallery never holds what a rolled-back page wrote.
   */
  transaction<T>(fn: () => T): T {
    this.depth++;
    // An inner transaction that fails (and is caught by an outer one) must take its
    // changes back with it: they were rolled back to its savepoint.
    const mark = this.pending.length;
    let ok = false;
    try {
      const r = this.db.transaction(fn)();
      ok = true;
      return r;
    } finally {
      this.depth--;
      if (!ok) this.pending.length = mark;
      if (this.depth === 0) {
        const changes = this.pending;
        this.pending = [];
        for (const c of changes) this.notify(c);
      }
    }
  }

  private sql(text: string): Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  private changed(c: StoreChange): void {
    if (this.depth > 0) this.pending.push(c);
    else this.notify(c);
  }

  /**
   * Each listener on its own: one that throws must neither make a committed write look
   * failed nor keep the change from the listeners after it (a gallery would go stale),
   * and its failure is logged, not lost.
   */
  private notify(c: StoreChange): void {
    // rawListeners: a `once` listener's wrapper removes itself when called, as emit would.
    for (const listener of this.rawListeners('change')) {
      try {
        listener.call(this, c);
      } catch (err) {
        this.log.error({ err: errorText(err), change: c.kind, eventId: c.eventId }, 'a store change listener failed; the change is committed');
      }
    }
  }

  // ---- events
  upsertEvent(e: { id: string; name?: string; startsAt?: number | null; endsAt?: number | null; purgeAfter?: number | null }): void {
    this.sql(
        `INSERT INTO events (id, name, starts_at, ends_at, purge_after, created_at) VALUES (@id, @name, @startsAt, @endsAt, @purgeAfter, @now)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, starts_at = excluded.starts_at, ends_at = excluded.ends_at, purge_after = excluded.purge_after`,
      )
      .run({ id: e.id, name: e.name ?? '', startsAt: e.startsAt ?? null, endsAt: e.endsAt ?? null, purgeAfter: e.purgeAfter ?? null, now: this.now() });
  }

  getEvent(id: string): EventRow | undefined {
    const r = this.sql('SELECT id, name, starts_at, ends_at, purge_after FROM events WHERE id = ?').get(id) as
      | { id: string; name: string; starts_at: number | null; ends_at: number | null; purge_after: number | null }
      | undefined;
    return r && { id: r.id, name: r.name, startsAt: r.starts_at, endsAt: r.ends_at, purgeAfter: r.purge_after };
  }

  requireEvent(id: string): EventRow {
    const e = this.getEvent(id);
    if (!e) throw new StoreError(`event "${id}" is not in the local cache; add it with \`gate-agent events add ${id}\` or run \`gate-agent sync --event ${id}\``);
    return e;
  }

  /**
   * The event, if attendees may still be added to it: one that has ended would have them
   * deleted at its purge time (or at once), so enrolling into it is refused.
   */
  requireOpenEvent(id: string): EventRow {
    const e = this.requireEvent(id);
    if (e.endsAt !== null && e.endsAt <= this.now()) {
      const purge = e.purgeAfter === null ? '' : `; its attendees are deleted at ${isoWithOffset(e.purgeAfter)}`;
      throw new StoreError(
        `event "${id}" ended at ${isoWithOffset(e.endsAt)}${purge}, so nobody can be enrolled into it; ` +
          `move its end with \`gate-agent events add ${id} --ends <ISO time>\` or enroll into a current event`,
      );
    }
    return e;
  }

  listEvents(): (EventRow & { attendees: number })[] {
    return (
      this.sql(
          `SELECT e.id, e.name, e.starts_at, e.ends_at, e.purge_after, (SELECT COUNT(*) FROM attendees a WHERE a.event_id = e.id) AS n
           FROM events e ORDER BY e.starts_at IS NULL, e.starts_at, e.id`,
        )
        .all() as { id: string; name: string; starts_at: number | null; ends_at: number | null; purge_after: number | null; n: number }[]
    ).map((r) => ({ id: r.id, name: r.name, startsAt: r.starts_at, endsAt: r.ends_at, purgeAfter: r.purge_after, attendees: r.n }));
  }

  removeEvent(id: string): boolean {
    const n = this.transaction(() => this.sql('DELETE FROM events WHERE id = ?').run(id).changes);
    if (n) this.changed({ kind: 'event-removed', eventId: id });
    return n > 0;
  }

  // ---- attendees
  upsertAttendee(eventId: string, session: AttendeeSession): void {
    const { kyc, ...rest } = session;
    this.sql(
        `INSERT INTO attendees (event_id, user_id, name, session, kyc, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(event_id, user_id) DO UPDATE SET name = excluded.name, session = excluded.session, kyc = excluded.kyc, updated_at = excluded.updated_at`,
      )
      .run(eventId, session.userInfo.userId, session.userInfo.name, JSON.stringify(rest), this.cipher.sealJson(kyc, kycAt(eventId, session.userInfo.userId)), this.now());
  }

  hasAttendee(eventId: string, userId: string): boolean {
    return this.sql('SELECT 1 FROM attendees WHERE event_id = ? AND user_id = ?').get(eventId, userId) !== undefined;
  }

  getSession(eventId: string, userId: string): AttendeeSession | undefined {
    const r = this.sql('SELECT session, kyc FROM attendees WHERE event_id = ? AND user_id = ?').get(eventId, userId) as
      | { session: string; kyc: Buffer }
      | undefined;
    if (!r) return undefined;
    const rest = JSON.parse(r.session) as Omit<AttendeeSession, 'kyc'>;
    return { ...rest, kyc: this.cipher.openJson<AttendeeSession['kyc']>(r.kyc, kycAt(eventId, userId)) };
  }

  /** The attendee of the event whose session carries this ticket QR id; null for none (an empty id never matches). */
  userByQrId(eventId: string, qrId: string): string | null {
    if (qrId === '') return null;
    const r = this.sql("SELECT user_id FROM attendees WHERE event_id = ? AND json_extract(session, '$.qrId') = ? LIMIT 1").get(eventId, qrId) as { user_id: string } | undefined;
    return r?.user_id ?? null;
  }

  listAttendees(eventId: string, modelId?: string): (AttendeeRow & { embeddings: number; usable: number })[] {
    return (
      this.sql(
          `SELECT a.event_id, a.user_id, a.name, a.updated_at,
             (SELECT COUNT(*) FROM embeddings m WHERE m.event_id = a.event_id AND m.user_id = a.user_id) AS n,
             (SELECT COUNT(*) FROM embeddings m WHERE m.event_id = a.event_id AND m.user_id = a.user_id AND m.model_id = ?) AS u
           FROM attendees a WHERE a.event_id = ? ORDER BY a.user_id`,
        )
        .all(modelId ?? '', eventId) as { event_id: string; user_id: string; name: string; updated_at: number; n: number; u: number }[]
    ).map((r) => ({ eventId: r.event_id, userId: r.user_id, name: r.name, updatedAt: r.updated_at, embeddings: r.n, usable: r.u }));
  }

  removeAttendee(eventId: string, userId: string): boolean {
    const n = this.sql('DELETE FROM attendees WHERE event_id = ? AND user_id = ?').run(eventId, userId).changes;
    if (n) this.changed({ kind: 'embeddings-removed', eventId, userId, modelId: null });
    return n > 0;
  }

  // ---- embeddings
  addEmbedding(eventId: string, userId: string, e: NewEmbedding): number {
    // One savepoint: a sealed value binds its row's id, which exists only once the row is
    // inserted (with an empty value), so the row and its sealed value are written together.
    const id = this.db.transaction(() => {
      let photoId: number | null = null;
      if (e.photo) {
        const photo = e.photo;
        photoId = Number(this.sql("INSERT INTO photos (event_id, user_id, image, created_at) VALUES (?, ?, x'', ?)").run(eventId, userId, this.now()).lastInsertRowid);
        this.sql('UPDATE photos SET image = ? WHERE id = ?').run(this.cipher.seal(photo, photoAt(photoId, eventId, userId)), photoId);
      }
      const id = this.insertEmbedding(eventId, userId, photoId, e);
      // Set apart: only enrollment has a photo hash (and the column only exists from schema 7).
      if (e.photoSha256) this.sql('UPDATE embeddings SET photo_sha256 = ? WHERE id = ?').run(e.photoSha256, id);
      return id;
    })();
    this.changed({ kind: 'embedding-added', eventId, userId, modelId: e.modelId, id, vector: e.vector });
    return id;
  }

  /** Inserts the row, then seals the vector bound to the id it got (the caller holds a transaction). */
  private insertEmbedding(eventId: string, userId: string, photoId: number | null, e: Omit<NewEmbedding, 'photo'>): number {
    const id = Number(
      this.sql("INSERT INTO embeddings (event_id, user_id, model_id, vector, quality, source, photo_id, created_at) VALUES (?, ?, ?, x'', ?, ?, ?, ?)")
        .run(eventId, userId, e.modelId, e.quality, e.source, photoId, this.now()).lastInsertRowid,
    );
    this.sql('UPDATE embeddings SET vector = ? WHERE id = ?').run(this.cipher.sealVector(e.vector, vectorAt(id, eventId, userId, e.modelId)), id);
    return id;
  }

  /** Hashes of the photos an attendee is already enrolled from, with this model. */
  enrolledPhotoHashes(eventId: string, userId: string, modelId: string): Set<string> {
    const rows = this.sql('SELECT photo_sha256 FROM embeddings WHERE event_id = ? AND user_id = ? AND model_id = ? AND photo_sha256 IS NOT NULL')
      .all(eventId, userId, modelId) as { photo_sha256: string }[];
    return new Set(rows.map((r) => r.photo_sha256));
  }

  /** Replace all of an attendee's embeddings of one model (sync sends the full set). */
  replaceEmbeddings(eventId: string, userId: string, modelId: string, list: NewEmbedding[]): void {
    const had = this.sql('DELETE FROM embeddings WHERE event_id = ? AND user_id = ? AND model_id = ?').run(eventId, userId, modelId).changes;
    if (had) this.changed({ kind: 'embeddings-removed', eventId, userId, modelId });
    for (const e of list) this.addEmbedding(eventId, userId, e);
  }

  /** Every embedding of one event made by one model: what a gallery loads. */
  *iterateEmbeddings(eventId: string, modelId: string): Generator<StoredEmbedding> {
    const stmt = this.db.prepare('SELECT id, user_id, vector FROM embeddings WHERE event_id = ? AND model_id = ? ORDER BY id');
    for (const r of stmt.iterate(eventId, modelId) as Iterable<{ id: number; user_id: string; vector: Buffer }>) {
      yield { id: r.id, userId: r.user_id, vector: this.cipher.openVector(r.vector, vectorAt(r.id, eventId, r.user_id, modelId)) };
    }
  }

  getVector(id: number): Float32Array | undefined {
    const r = this.sql('SELECT event_id, user_id, model_id, vector FROM embeddings WHERE id = ?').get(id) as
      | { event_id: string; user_id: string; model_id: string; vector: Buffer }
      | undefined;
    return r && this.cipher.openVector(r.vector, vectorAt(id, r.event_id, r.user_id, r.model_id));
  }

  countEmbeddings(eventId: string, modelId: string): number {
    return (this.sql('SELECT COUNT(*) AS n FROM embeddings WHERE event_id = ? AND model_id = ?').get(eventId, modelId) as { n: number }).n;
  }

  /** Attendees with no embedding of this model: not matchable until re-embedded or re-synced. */
  attendeesWithoutModel(eventId: string, modelId: string): string[] {
    return (
      this.sql(
          `SELECT user_id FROM attendees a WHERE event_id = ? AND NOT EXISTS
             (SELECT 1 FROM embeddings m WHERE m.event_id = a.event_id AND m.user_id = a.user_id AND m.model_id = ?) ORDER BY user_id`,
        )
        .all(eventId, modelId) as { user_id: string }[]
    ).map((r) => r.user_id);
  }

  /** Kept enrollment photos of attendees lacking this model's embeddings (for re-embedding). */
  photosToReembed(eventId: string, modelId: string): { photoId: number; userId: string; image: Buffer }[] {
    return (
      this.sql(
          `SELECT p.id, p.user_id, p.image FROM photos p WHERE p.event_id = ? AND NOT EXISTS
             (SELECT 1 FROM embeddings m WHERE m.photo_id = p.id AND m.model_id = ?) ORDER BY p.id`,
        )
        .all(eventId, modelId) as { id: number; user_id: string; image: Buffer }[]
    ).map((r) => ({ photoId: r.id, userId: r.user_id, image: this.cipher.open(r.image, photoAt(r.id, eventId, r.user_id)) }));
  }

  addEmbeddingForPhoto(eventId: string, userId: string, photoId: number, e: Omit<NewEmbedding, 'photo'>): void {
    const id = this.db.transaction(() => this.insertEmbedding(eventId, userId, photoId, e))();
    this.changed({ kind: 'embedding-added', eventId, userId, modelId: e.modelId, id, vector: e.vector });
  }

  // ---- sync state
  getSyncState(eventId: string): SyncState {
    const r = this.sql('SELECT cursor, model_id, last_success_at, last_attempt_at, last_error FROM sync_state WHERE event_id = ?').get(eventId) as
      | { cursor: string | null; model_id: string | null; last_success_at: number | null; last_attempt_at: number | null; last_error: string | null }
      | undefined;
    return { cursor: r?.cursor ?? null, modelId: r?.model_id ?? null, lastSuccessAt: r?.last_success_at ?? null, lastAttemptAt: r?.last_attempt_at ?? null, lastError: r?.last_error ?? null };
  }

  setSyncState(eventId: string, s: Partial<SyncState>): void {
    const cur = this.getSyncState(eventId);
    const n = { ...cur, ...s };
    this.sql(
        `INSERT INTO sync_state (event_id, cursor, model_id, last_success_at, last_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(event_id) DO UPDATE SET cursor = excluded.cursor, model_id = excluded.model_id, last_success_at = excluded.last_success_at,
           last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error`,
      )
      .run(eventId, n.cursor, n.modelId, n.lastSuccessAt, n.lastAttemptAt, n.lastError);
  }

  // ---- entries (anti-passback)
  recordEntry(eventId: string, userId: string, atMs: number): void {
    this.sql('INSERT INTO gate_entries (event_id, user_id, entered_at) VALUES (?, ?, ?) ON CONFLICT(event_id, user_id) DO UPDATE SET entered_at = excluded.entered_at')
      .run(eventId, userId, atMs);
  }

  entries(eventId: string): [string, number][] {
    return (this.sql('SELECT user_id, entered_at FROM gate_entries WHERE event_id = ?').all(eventId) as { user_id: string; entered_at: number }[]).map((r) => [r.user_id, r.entered_at]);
  }

  // ---- keys
  /** Re-seal every sensitive value with another key (or none), each bound to its row, in one transaction. */
  rekey(next: FieldCipher): { values: number } {
    let values = 0;
    this.transaction(() => {
      type Row = { k: number; event_id: string; user_id: string; id: number; model_id: string; v: Buffer };
      const redo = (table: string, col: string, select: string, at: (r: Row) => RowBinding) => {
        const rows = this.sql(`SELECT rowid AS k, ${select}, ${col} AS v FROM ${table}`).all() as Row[];
        const upd = this.sql(`UPDATE ${table} SET ${col} = ? WHERE rowid = ?`);
        for (const r of rows) {
          upd.run(next.seal(this.cipher.open(r.v, at(r)), at(r)), r.k);
          values++;
        }
      };
      redo('attendees', 'kyc', 'event_id, user_id', (r) => kycAt(r.event_id, r.user_id));
      redo('embeddings', 'vector', 'id, event_id, user_id, model_id', (r) => vectorAt(r.id, r.event_id, r.user_id, r.model_id));
      redo('photos', 'image', 'id, event_id, user_id', (r) => photoAt(r.id, r.event_id, r.user_id));
      // Queued results: sealed ones are BLOBs, plain ones TEXT (written before a key was set).
      const rows = this.sql('SELECT seq, payload FROM outbox').all() as { seq: number; payload: Buffer | string }[];
      const upd = this.sql('UPDATE outbox SET payload = ? WHERE seq = ?');
      for (const r of rows) {
        const plain = typeof r.payload === 'string' ? Buffer.from(r.payload, 'utf8') : this.cipher.open(r.payload, OUTBOX_PAYLOAD);
        upd.run(next.encrypting ? next.seal(plain, OUTBOX_PAYLOAD) : plain.toString('utf8'), r.seq);
        values++;
      }
    });
    this.cipher = next;
    // The replaced values (plaintext, or sealed with the key being retired) stay in SQLite's
    // free space until the file is rewritten.
    if (next.encrypting) vacuum(this.db);
    return { values };
  }

  /** A real write (one row): throws when the database cannot take writes (disk full, read-only). */
  heartbeat(): void {
    this.sql('INSERT INTO heartbeat (id, at_ms) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at_ms = excluded.at_ms').run(this.now());
  }

  // ---- retention
  /** Delete every event whose purge time has passed (attendees, embeddings, photos cascade). */
  purgeExpired(): string[] {
    const ids = (this.sql('SELECT id FROM events WHERE purge_after IS NOT NULL AND purge_after <= ?').all(this.now()) as { id: string }[]).map((r) => r.id);
    for (const id of ids) this.purgeEvent(id);
    return ids;
  }

  /**
   * One bounded step of purging an event: deletes at most `rows` of its embeddings, or
   * once none is left, of its photos, then of its attendees, each step its own
   * transaction. Returns the attendees deleted and whether the event is empty now; the
   * galleries drop it when it is. Between steps the caller yields to the event loop, so
   * a purge of 100k attendees never holds the gate's loop for long.
   */
  purgeEventStep(eventId: string, rows: number): { attendees: number; done: boolean } {
    const step = (table: string, key: string): number =>
      this.sql(`DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE event_id = ? LIMIT ?)`).run(eventId, rows).changes;
    let attendees = 0;
    const done = this.transaction(() => {
      if (step('embeddings', 'id') > 0 || step('photos', 'id') > 0) return false;
      attendees = step('attendees', 'rowid');
      if (attendees === rows) return false;
      this.sql('UPDATE sync_state SET cursor = NULL WHERE event_id = ?').run(eventId);
      return true;
    });
    if (done) this.changed({ kind: 'event-removed', eventId });
    return { attendees, done };
  }

  /** Events whose purge time has passed and which still hold attendees. */
  expiredEvents(): string[] {
    return (
      this.sql('SELECT e.id FROM events e WHERE e.purge_after IS NOT NULL AND e.purge_after <= ? AND EXISTS (SELECT 1 FROM attendees a WHERE a.event_id = e.id)')
        .all(this.now()) as { id: string }[]
    ).map((r) => r.id);
  }

  /** Delete an event's attendees and biometric data now, keeping the event row. */
  purgeEvent(eventId: string): number {
    const n = this.transaction(() => {
      const users = (this.sql('SELECT user_id FROM attendees WHERE event_id = ?').all(eventId) as { user_id: string }[]).length;
      this.sql('DELETE FROM attendees WHERE event_id = ?').run(eventId);
      this.sql('UPDATE sync_state SET cursor = NULL WHERE event_id = ?').run(eventId);
      return users;
    });
    this.changed({ kind: 'event-removed', eventId });
    return n;
  }
}
