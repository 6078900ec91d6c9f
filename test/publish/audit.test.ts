// The audit hash chain on a real SQLite file: verifies, and names the first
// record that was altered or removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendAudit, auditHash, auditVerifyReport, verifyAuditChain, GENESIS_HASH } from '../../src/publish/audit.js';
import { Outbox } from '../../src/publish/outbox.js';
import { decision, identity, sampleSession, tempDb, defer } from './helpers.js';

function filled(n: number) {
  const t = tempDb();
  const outbox = new Outbox(t.db, { identity, maxMessages: 1000 });
  for (let i = 1; i <= n; i++) outbox.recordDecision(decision(i), i % 2 === 0 ? sampleSession() : null);
  return { ...t, outbox };
}

void test('chain of decisions verifies, and links each record to the previous', (t) => {
  const f = filled(5);
  defer(t, () => f.cleanup());
  const r = verifyAuditChain(f.db);
  assert.equal(r.ok, true);
  assert.equal(r.records, 5);
  const rows = f.db.prepare('SELECT seq, prev_hash, hash, payload FROM audit ORDER BY seq').all() as { seq: number; prev_hash: string; hash: string; payload: string }[];
  assert.equal(rows[0]?.prev_hash, GENESIS_HASH);
  for (let i = 1; i < rows.length; i++) assert.equal(rows[i]?.prev_hash, rows[i - 1]?.hash);
  assert.ok(!rows.some((r) => r.payload.includes('kyc') || r.payload.includes('DL1234567')), 'no KYC data in the audit table');
  assert.match(auditVerifyReport(f.db).text, /ok: 5 records/);
});

void test('altering a payload with SQL is reported at that seq', (t) => {
  const f = filled(6);
  defer(t, () => f.cleanup());
  f.db.prepare(`UPDATE audit SET payload = json_set(payload, '$.decision', 'denied') WHERE seq = 4`).run();
  const r = verifyAuditChain(f.db);
  assert.deepEqual(r.ok ? null : [r.seq, r.records], [4, 3]);
  const rep = auditVerifyReport(f.db);
  assert.equal(rep.exitCode, 1);
  assert.match(rep.text, /BROKEN at seq 4/);
});

void test('a rewritten hash, or a deleted record, is reported at the first seq that no longer fits', (t) => {
  const f = filled(6);
  defer(t, () => f.cleanup());
  f.db.prepare(`UPDATE audit SET hash = ? WHERE seq = 2`).run('f'.repeat(64));
  const r1 = verifyAuditChain(f.db);
  assert.equal(r1.ok ? 0 : r1.seq, 2);
  const g = filled(6);
  defer(t, () => g.cleanup());
  g.db.prepare('DELETE FROM audit WHERE seq = 5').run();
  const r2 = verifyAuditChain(g.db);
  assert.equal(r2.ok ? 0 : r2.seq, 6);
  assert.match(r2.ok ? '' : r2.problem, /5\.\.5 are missing/);
});

void test('an empty table verifies; an extra record appended by hand without the chain does not', (t) => {
  const f = filled(0);
  defer(t, () => f.cleanup());
  assert.match(auditVerifyReport(f.db).text, /no records yet/);
  appendAudit(f.db, 'remote_open', { requestId: 'r1' }, 1);
  f.db.prepare(`INSERT INTO audit (seq, ts, kind, payload, prev_hash, hash) VALUES (2, 2, 'decision', '{}', ?, ?)`).run(GENESIS_HASH, 'x');
  const r = verifyAuditChain(f.db);
  assert.equal(r.ok ? 0 : r.seq, 2);
});

void test('the server can recompute a decision hash from the sessions message alone', (t) => {
  const f = filled(0);
  defer(t, () => f.cleanup());
  f.outbox.recordDecision(decision(1, 'unknown'), null);
  f.outbox.recordDecision(decision(2), sampleSession('usr_77'));
  const msgs = f.outbox.peek(0, 10).map((r) => JSON.parse(r.payload) as { userInfo?: { userId: string }; gate: Record<string, unknown> & { timestamp: string; audit: { seq: number; hash: string; prevHash: string } } });
  let prev = GENESIS_HASH;
  for (const m of msgs) {
    const { audit, ...gate } = m.gate;
    assert.equal(audit.prevHash, prev);
    const payload = { ...gate, userId: m.userInfo?.userId ?? null };
    assert.equal(auditHash(audit.prevHash, { seq: audit.seq, ts: Date.parse(gate.timestamp), kind: 'decision', payload }), audit.hash);
    prev = audit.hash;
  }
});
