// The outbox on a real SQLite file, without a broker: transactions, order, bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Outbox } from '../../src/publish/outbox.js';
import { decision, identity, sampleSession, tempDb, defer } from './helpers.js';
import { migrate } from '../../src/store/migrations.js';

void test('a decision and its message commit or roll back with the caller transaction', (t) => {
  const f = tempDb();
  defer(t, () => f.cleanup());
  const outbox = new Outbox(f.db, { identity, maxMessages: 100 });
  f.db.exec('CREATE TABLE decisions (id INTEGER PRIMARY KEY, message_id TEXT)');
  const save = f.db.transaction((i: number, fail: boolean) => {
    const rec = outbox.recordDecision(decision(i), sampleSession());
    f.db.prepare('INSERT INTO decisions (message_id) VALUES (?)').run(rec.messageId);
    if (fail) throw new Error('relay refused');
    return rec;
  });
  const ok = save(1, false);
  assert.throws(() => save(2, true), /relay refused/);
  assert.equal(outbox.depth(), 1);
  assert.equal((f.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n, 1);
  const [row] = outbox.peek(0, 10);
  assert.equal(row?.messageId, ok.messageId);
  assert.equal((JSON.parse(row?.payload ?? '{}') as { gate: { audit: { seq: number } } }).gate.audit.seq, 1);
});

void test('peek returns oldest first after a cursor; ack removes only what was acknowledged', (t) => {
  const f = tempDb();
  defer(t, () => f.cleanup());
  const outbox = new Outbox(f.db, { identity, maxMessages: 100 });
  const seqs = [1, 2, 3, 4, 5].map((i) => outbox.recordDecision(decision(i), null).outboxSeq);
  assert.deepEqual(outbox.peek(0, 3).map((r) => r.seq), seqs.slice(0, 3));
  assert.deepEqual(outbox.peek(seqs[2] ?? 0, 10).map((r) => r.seq), seqs.slice(3));
  outbox.ack([seqs[0] ?? 0, seqs[2] ?? 0]);
  assert.deepEqual(outbox.peek(0, 10).map((r) => r.seq), [seqs[1], seqs[3], seqs[4]]);
});

void test('bounded: the oldest are dropped first, counted once, and turned into one event', (t) => {
  const f = tempDb();
  defer(t, () => f.cleanup());
  const outbox = new Outbox(f.db, { identity, maxMessages: 10 });
  const recs = Array.from({ length: 13 }, (_, i) => outbox.recordDecision(decision(i), null));
  assert.equal(outbox.depth(), 10);
  assert.equal(outbox.pendingDropped(), 3);
  assert.deepEqual(outbox.peek(0, 100).map((r) => r.messageId), recs.slice(3).map((r) => r.messageId));
  assert.equal(outbox.takeDropReport(), 3);
  assert.equal(outbox.takeDropReport(), 0);
  const rows = outbox.peek(0, 100);
  assert.equal(rows.length, 11, 'the report is exempt from the bound');
  const ev = JSON.parse(rows.at(-1)?.payload ?? '{}') as { type: string; detail: { count: number; firstAuditSeq: number; lastAuditSeq: number } };
  assert.deepEqual([ev.type, ev.detail.count, ev.detail.firstAuditSeq, ev.detail.lastAuditSeq], ['outbox_dropped', 3, 1, 3]);
});

void test('the outbox survives closing and reopening the database file', (t) => {
  const f = tempDb();
  defer(t, () => f.cleanup());
  const ids = [1, 2, 3].map((i) => new Outbox(f.db, { identity, maxMessages: 10 }).recordDecision(decision(i), null).messageId);
  f.db.close();
  const again = tempDbAt(f.path);
  defer(t, () => again.close());
  assert.deepEqual(new Outbox(again, { identity, maxMessages: 10 }).peek(0, 10).map((r) => r.messageId), ids);
});

function tempDbAt(path: string): Database.Database {
  const db = new Database(path);
  migrate(db); // idempotent on an existing file
  return db;
}
