// Hash chain over audit records: hash = sha256(prev_hash || canonical json of
// {seq, ts, kind, payload}). Each sessions message carries its record's seq
// and hashes, so the central server can tell a dropped result (a seq gap) or
// an altered one (a hash that does not recompute) from the messages alone.
import { createHash } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { AuditRef } from './topics.js';

export const GENESIS_HASH = '0'.repeat(64);


/** JSON with object keys sorted at every level, so the same record always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    // undefined, functions and symbols have no JSON form; null keeps the hash defined.
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function auditHash(prevHash: string, rec: { seq: number; ts: number; kind: string; payload: unknown }): string {
  const body = canonicalJson({ seq: rec.seq, ts: rec.ts, kind: rec.kind, payload: rec.payload });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

// Prepared once per connection: appendAudit runs for every decision.
const statements = new WeakMap<Database, { last: Statement; insert: Statement }>();
function stmts(db: Database): { last: Statement; insert: Statement } {
  let s = statements.get(db);
  if (s === undefined) {
    s = {
      last: db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare('INSERT INTO audit (seq, ts, kind, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)'),
    };
    statements.set(db, s);
  }
  return s;
}

/** Append one record. Call inside the transaction that also writes what the record vouches for. */
export function appendAudit(db: Database, kind: string, payload: unknown, atMs: number): AuditRef {
  const last = stmts(db).last.get() as { seq: number; hash: string } | undefined;
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  // Stored as canonical JSON so what is hashed is byte-for-byte what is kept.
  const body = canonicalJson(payload);
  const hash = auditHash(prevHash, { seq, ts: atMs, kind, payload: JSON.parse(body) as unknown });
  stmts(db).insert.run(
    seq,
    atMs,
    kind,
    body,
    prevHash,
    hash,
  );
  return { seq, hash, prevHash };
}

export type AuditVerification =
  | { ok: true; records: number; lastSeq: number; lastHash: string }
  | { ok: false; seq: number; problem: string; records: number };

/** Walk the whole chain; stops at the first record that does not check out. */
export function verifyAuditChain(db: Database): AuditVerification {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let records = 0;
  const rows = db.prepare('SELECT seq, ts, kind, payload, prev_hash, hash FROM audit ORDER BY seq').iterate() as IterableIterator<{
    seq: number;
    ts: number;
    kind: string;
    payload: string;
    prev_hash: string;
    hash: string;
  }>;
  for (const r of rows) {
    const fail = (problem: string): AuditVerification => {
      rows.return?.();
      return { ok: false, seq: r.seq, problem, records };
    };
    if (r.seq !== expectedSeq) return fail(`expected seq ${expectedSeq}: records ${expectedSeq}..${r.seq - 1} are missing`);
    if (r.prev_hash !== prevHash) return fail('prev_hash does not match the previous record hash');
    let payload: unknown;
    try {
      payload = JSON.parse(r.payload);
    } catch {
      return fail('payload is not valid JSON');
    }
    if (auditHash(prevHash, { seq: r.seq, ts: r.ts, kind: r.kind, payload }) !== r.hash) {
      return fail('hash does not match the record contents (record altered)');
    }
    records++;
    expectedSeq++;
    prevHash = r.hash;
  }
  return { ok: true, records, lastSeq: expectedSeq - 1, lastHash: prevHash };
}

/** One line for `gate-agent audit verify`; exit code 0 when ok, 1 otherwise. */
export function auditVerifyReport(db: Database): { ok: boolean; text: string; exitCode: number; result: AuditVerification } {
  const r = verifyAuditChain(db);
  if (r.ok) {
    const text = r.records === 0 ? 'audit chain ok: no records yet' : `audit chain ok: ${r.records} records, last seq ${r.lastSeq}, last hash ${r.lastHash}`;
    return { ok: true, text, exitCode: 0, result: r };
  }
  return { ok: false, text: `audit chain BROKEN at seq ${r.seq}: ${r.problem} (${r.records} records before it verified)`, exitCode: 1, result: r };
}
