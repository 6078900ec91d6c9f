// Durable, bounded, ordered queue of outgoing MQTT messages in the agent's
// SQLite database. A decision, its audit record and its message are written in
// one transaction before the relay fires, so a result exists on disk before
// anything physical happens; a message leaves the table only when the broker
// has acknowledged it (PUBACK).
import { randomUUID } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { logger, type Logger } from '../log.js';
import { appendAudit } from './audit.js';
import type { SuppressedSummary } from './record-budget.js';
import { auditPayloadOfDecision, buildEvent, buildSessionMessage, type DecisionInput } from './message.js';
import type { GateIdentity } from './options.js';
import type { AuditRef, GateEventDetails, GateEventType, IdentitySession, OutboxTopic } from './topics.js';


export interface OutboxRow {
  seq: number;
  messageId: string;
  topic: OutboxTopic;
  payload: string;
}

/** Seals queued payloads at rest (the store's AES-256-GCM cipher): results carry KYC data. */
export interface PayloadSealer {
  seal(plain: Buffer): Buffer;
  open(stored: Buffer): Buffer;
}

export interface OutboxOptions {
  identity: Omit<GateIdentity, 'version'>;
  maxMessages: number;
  sealer?: PayloadSealer;
  now?: () => number;
  newId?: () => string;
  log?: Logger;
}

export interface RecordedMessage {
  messageId: string;
  outboxSeq: number;
  audit: AuditRef | null;
}

export class Outbox {
  identity: Omit<GateIdentity, 'version'>;
  private readonly maxMessages: number;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly listeners: (() => void)[] = [];
  private readonly log: Logger;
  private readonly stmts: {
    insert: Statement<[string, string, string | Buffer, number | null, number]>;
    minSeq: Statement<[]>;
    count: Statement<[]>;
    peek: Statement<[number, number]>;
    del: Statement<[number]>;
  };

  constructor(
    readonly db: Database,
    private readonly opts: OutboxOptions,
  ) {
    if (!Number.isInteger(opts.maxMessages) || opts.maxMessages < 1) {
      throw new Error(`mqtt.outboxMaxMessages: ${opts.maxMessages}: must be a positive integer`);
    }
    this.identity = opts.identity;
    this.maxMessages = opts.maxMessages;
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? randomUUID;
    this.log = opts.log ?? logger('publish');
    // Prepared once; better-sqlite3 statements are cheap to keep.
    this.stmts = {
      insert: db.prepare('INSERT INTO outbox (message_id, topic, payload, audit_seq, created_ms) VALUES (?, ?, ?, ?, ?)'),
      minSeq: db.prepare('SELECT MIN(seq) AS s FROM outbox'),
      count: db.prepare('SELECT COUNT(*) AS n FROM outbox'),
      peek: db.prepare('SELECT seq, message_id AS messageId, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      del: db.prepare('DELETE FROM outbox WHERE seq = ?'),
    };
  }

  /** Called (synchronously, possibly inside a transaction) whenever a message is enqueued. */
  onEnqueue(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Low-level enqueue; safe inside a caller's db.transaction. When the outbox
   * is full the oldest messages are dropped first and the drop is recorded for
   * an `outbox_dropped` event.
   */
  enqueueInTransaction(topic: OutboxTopic, messageId: string, payload: unknown, auditSeq: number | null, bypassBound = false): number {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const stored = this.opts.sealer ? this.opts.sealer.seal(Buffer.from(body, 'utf8')) : body;
    const seq = Number(this.stmts.insert.run(messageId, topic, stored, auditSeq, this.now()).lastInsertRowid);
    if (!bypassBound) this.enforceBound(seq);
    for (const l of this.listeners) l();
    return seq;
  }

  private enforceBound(newSeq: number): void {
    // seq - MIN(seq) + 1 bounds the row count from above and is O(log n);
    // COUNT(*) only runs when that bound says the table may be full.
    const min = (this.stmts.minSeq.get() as { s: number | null }).s ?? newSeq;
    if (newSeq - min + 1 <= this.maxMessages) return;
    const n = (this.stmts.count.get() as { n: number }).n;
    const excess = n - this.maxMessages;
    if (excess <= 0) return;
    const dropped = this.db
      .prepare(
        `SELECT COUNT(*) AS count, MIN(audit_seq) AS first, MAX(audit_seq) AS last, MIN(created_ms) AS since, MAX(created_ms) AS until
         FROM (SELECT audit_seq, created_ms FROM outbox ORDER BY seq LIMIT ?)`,
      )
      .get(excess) as { count: number; first: number | null; last: number | null; since: number; until: number };
    this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)').run(excess);
    const prev = this.db.prepare('SELECT count FROM outbox_dropped WHERE id = 1').get() as { count: number } | undefined;
    this.db
      .prepare(
        `INSERT INTO outbox_dropped (id, count, first_audit_seq, last_audit_seq, since_ms, until_ms) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET count = count + excluded.count,
           first_audit_seq = COALESCE(MIN(first_audit_seq, excluded.first_audit_seq), first_audit_seq, excluded.first_audit_seq),
           last_audit_seq = COALESCE(MAX(last_audit_seq, excluded.last_audit_seq), last_audit_seq, excluded.last_audit_seq),
           since_ms = MIN(since_ms, excluded.since_ms), until_ms = MAX(until_ms, excluded.until_ms)`,
      )
      .run(dropped.count, dropped.first, dropped.last, dropped.since, dropped.until);
    // One warning per episode: a gate offline for hours would otherwise log once per face.
    if (prev === undefined) this.log.warn({ dropped: dropped.count, max: this.maxMessages }, 'outbox full: dropping oldest messages');
    else this.log.debug({ dropped: dropped.count, total: prev.count + dropped.count }, 'outbox full: dropped more');
  }

  /**
   * Audit record + sessions message for one decision, in one transaction
   * (a savepoint when called inside the caller's). Call before the relay fires.
   */
  recordDecision(decision: DecisionInput, attendee: IdentitySession | null, eventId?: string): RecordedMessage {
    return this.db.transaction((): RecordedMessage => {
      const messageId = this.newId();
      // eventId: the identity endpoint answers for the event a request names, not the gate's.
      const ctx = { ...this.identity, ...(eventId !== undefined ? { eventId } : {}), messageId };
      const audit = appendAudit(this.db, 'decision', auditPayloadOfDecision(decision, attendee, ctx), decision.atMs);
      const msg = buildSessionMessage(decision, attendee, { ...ctx, audit });
      return { messageId, audit, outboxSeq: this.enqueueInTransaction('sessions', messageId, msg, audit.seq) };
    })();
  }

  recordEvent<T extends GateEventType>(type: T, detail: GateEventDetails[T], bypassBound = false): RecordedMessage {
    // A transaction because enqueue may also drop the oldest rows.
    return this.db.transaction((): RecordedMessage => {
      const messageId = this.newId();
      const ev = buildEvent(type, detail, { ...this.identity, messageId, atMs: this.now() });
      return { messageId, audit: null, outboxSeq: this.enqueueInTransaction('events', messageId, ev, null, bypassBound) };
    })();
  }

  /** Audit record for a minute's suppressed API results plus an `identity_api_summary` event carrying it. */
  recordApiSummary(summary: SuppressedSummary): RecordedMessage {
    return this.db.transaction((): RecordedMessage => {
      const audit = appendAudit(this.db, 'identity_api_summary', { ...summary, gateId: this.identity.gateId }, this.now());
      const messageId = this.newId();
      const ev = buildEvent('identity_api_summary', { ...summary, audit }, { ...this.identity, messageId, atMs: this.now() });
      return { messageId, audit, outboxSeq: this.enqueueInTransaction('events', messageId, ev, audit.seq) };
    })();
  }

  /** Audit record for a remote open plus a `remote_open` event carrying it, in one transaction. */
  recordRemoteOpen(requestId: string | null, params: unknown): RecordedMessage {
    return this.db.transaction((): RecordedMessage => {
      const audit = appendAudit(this.db, 'remote_open', { requestId, params: params ?? null, gateId: this.identity.gateId }, this.now());
      const messageId = this.newId();
      const ev = buildEvent('remote_open', { requestId, audit }, { ...this.identity, messageId, atMs: this.now() });
      return { messageId, audit, outboxSeq: this.enqueueInTransaction('events', messageId, ev, audit.seq) };
    })();
  }

  /**
   * Turns a pending drop count into one `outbox_dropped` event (exempt from
   * the bound, so the report cannot itself be dropped). Returns the count.
   */
  takeDropReport(): number {
    return this.db.transaction((): number => {
      const d = this.db.prepare('SELECT * FROM outbox_dropped WHERE id = 1').get() as
        | { count: number; first_audit_seq: number | null; last_audit_seq: number | null; since_ms: number; until_ms: number }
        | undefined;
      if (d === undefined) return 0;
      this.db.prepare('DELETE FROM outbox_dropped WHERE id = 1').run();
      const since = new Date(d.since_ms).toISOString();
      const until = new Date(d.until_ms).toISOString();
      this.recordEvent('outbox_dropped', { count: d.count, firstAuditSeq: d.first_audit_seq, lastAuditSeq: d.last_audit_seq, since, until }, true);
      return d.count;
    })();
  }

  /** Messages after `afterSeq`, oldest first. */
  peek(afterSeq: number, limit: number): OutboxRow[] {
    const rows = this.stmts.peek.all(afterSeq, limit) as (Omit<OutboxRow, 'payload'> & { payload: string | Buffer })[];
    // A Buffer is a sealed payload (written with a sealer); a string was written plain.
    return rows.map((r) => ({ ...r, payload: typeof r.payload === 'string' ? r.payload : this.openPayload(r.payload) }));
  }

  private openPayload(stored: Buffer): string {
    if (!this.opts.sealer) throw new Error('the outbox holds sealed results but no store key is configured; set store.keyFile');
    return this.opts.sealer.open(stored).toString('utf8');
  }

  /** Remove acknowledged messages; one transaction per batch keeps fsyncs rare. */
  ack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.db.transaction(() => {
      for (const s of seqs) this.stmts.del.run(s);
    })();
  }

  depth(): number {
    return (this.stmts.count.get() as { n: number }).n;
  }

  /** Dropped messages not yet reported (0 when none). */
  pendingDropped(): number {
    const d = this.db.prepare('SELECT count FROM outbox_dropped WHERE id = 1').get() as { count: number } | undefined;
    return d?.count ?? 0;
  }
}
