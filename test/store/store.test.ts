// The attendee store on real SQLite files: migrations, encryption, retention, keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import BetterSqlite3 from 'better-sqlite3';
import { AttendeeStore } from '../../src/store/attendees.js';
import { FieldCipher, parseKey, StoreError } from '../../src/store/crypto.js';
import { DB_FILE, openDatabase } from '../../src/store/db.js';
import { LATEST_VERSION, migrate, migrations } from '../../src/store/migrations.js';
import { localSession } from '../../src/store/session.js';
import { Galleries } from '../../src/match/galleries.js';
import { unitVectors } from '../vectors.js';
import { Outbox } from '../../src/publish/outbox.js';
import { sealerOf } from '../../src/store/open.js';
import { purgeExpiredInBatches } from '../../src/store/purge.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'store-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function fill(store: AttendeeStore, n: number, vs: Float32Array[]): void {
  store.upsertEvent({ id: 'ev', name: 'Event' });
  store.transaction(() => {
    for (let i = 0; i < n; i++) {
      const s = localSession(`u${i}`, { name: `User ${i}` });
      s.kyc = [{ stepId: 'kyc', data: { kyc: { document: { idNumber: { value: `SECRET-ID-${i}`, verified: true } } } } }];
      store.upsertAttendee('ev', s);
      store.addEmbedding('ev', `u${i}`, { vector: vs[i]!, modelId: 'm1', quality: 0.9, source: 'sync' });
    }
  });
}

test('migrations run from empty to the latest version, WAL and foreign keys on', async () => {
  await withDir(async (dir) => {
    const db = openDatabase(dir);
    assert.equal(db.pragma('user_version', { simple: true }), LATEST_VERSION());
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    for (const t of ['events', 'attendees', 'embeddings', 'photos', 'sync_state', 'outbox', 'audit', 'api_keys']) assert.ok(tables.includes(t), t);
    db.close();
  });
});

test('a database at each earlier version migrates to the latest with its data intact', async () => {
  for (const m of migrations.slice(0, -1)) {
    await withDir(async (dir) => {
      const old = openDatabase(dir, { migrateTo: m.version });
      assert.equal(old.pragma('user_version', { simple: true }), m.version);
      const store = new AttendeeStore(old, new FieldCipher(null));
      fill(store, 3, unitVectors(3, 512, 9));
      old.close();
      const db = openDatabase(dir);
      assert.equal(db.pragma('user_version', { simple: true }), LATEST_VERSION());
      const s2 = new AttendeeStore(db, new FieldCipher(null));
      assert.equal(s2.listAttendees('ev').length, 3, `from version ${m.version}`);
      assert.equal(s2.getSession('ev', 'u1')?.userInfo.name, 'User 1');
      db.close();
    });
  }
});

test('a database from a newer gate-agent is refused with what to do', async () => {
  await withDir(async (dir) => {
    const raw = new BetterSqlite3(join(dir, DB_FILE));
    raw.pragma('user_version = 99');
    raw.close();
    assert.throws(() => openDatabase(dir), /schema version 99, newer than this gate-agent knows .* a newer release wrote it. Go back to that release .* no backup this release can open is in /);
    const db = new BetterSqlite3(':memory:');
    migrate(db);
    db.close();
  });
});

test('encryption on and off give the same search results; sealed columns hold no plaintext', async () => {
  const vs = unitVectors(300, 512, 5);
  const results: string[][] = [];
  for (const key of [null, randomBytes(32)]) {
    await withDir(async (dir) => {
      const db = openDatabase(dir);
      const store = new AttendeeStore(db, new FieldCipher(key));
      fill(store, 300, vs);
      const galleries = new Galleries(store, { modelId: 'm1', dim: 512, threads: 1, rescoreTop: 16 });
      galleries.start();
      const g = await galleries.get('ev');
      const out: string[] = [];
      for (const q of vs.slice(0, 50)) out.push(...(await g.search(q, 2)).map((c) => `${c.userId}:${c.similarity.toFixed(6)}`));
      results.push(out);
      assert.equal(store.getSession('ev', 'u7')!.kyc.length, 1);
      // A queued result carries the session with its KYC data: sealed like the store.
      const outbox = new Outbox(db, { identity: { gateId: 'g', siteId: 's', eventId: 'ev', modelId: 'm1' }, maxMessages: 10, ...sealerOf(store) });
      outbox.recordDecision({ decision: 'granted', reason: 'granted', similarity: 0.9, timingsMs: {}, atMs: 1 }, store.getSession('ev', 'u7')!);
      assert.match(outbox.peek(0, 1)[0]!.payload, /SECRET-ID-7/);
      await galleries.stop();
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const file = await readFile(join(dir, DB_FILE));
      const secretVisible = file.includes(Buffer.from('SECRET-ID-7'));
      const vectorVisible = file.includes(Buffer.from(vs[7]!.buffer));
      assert.equal(secretVisible, key === null, 'KYC plaintext on disk only without a key');
      assert.equal(vectorVisible, key === null, 'raw embedding on disk only without a key');
    });
  }
  assert.deepEqual(results[0], results[1]);
});

test('a wrong or missing key is reported as such; rotation re-seals everything', async () => {
  await withDir(async (dir) => {
    const k1 = randomBytes(32), k2 = randomBytes(32);
    const db = openDatabase(dir);
    const store = new AttendeeStore(db, new FieldCipher(k1));
    fill(store, 5, unitVectors(5, 512, 6));
    assert.throws(() => new AttendeeStore(db, new FieldCipher(k2)).getSession('ev', 'u1'), /encrypted with a different key/);
    assert.throws(() => new AttendeeStore(db, new FieldCipher(null)).getVector(1), /no key is configured; set store.keyFile or GATE_AGENT_STORE_KEY/);
    const { values } = store.rekey(new FieldCipher(k2));
    assert.equal(values, 10);
    assert.throws(() => new AttendeeStore(db, new FieldCipher(k1)).getSession('ev', 'u1'), /different key/);
    const s2 = new AttendeeStore(db, new FieldCipher(k2));
    assert.equal(s2.getSession('ev', 'u1')!.kyc.length, 1);
    assert.equal(s2.getVector(1)!.length, 512);
    db.prepare('UPDATE attendees SET kyc = ? WHERE user_id = ?').run(Buffer.concat([Buffer.from([1]), randomBytes(60)]), 'u2');
    assert.throws(() => s2.getSession('ev', 'u2'), StoreError);
    db.close();
  });
  assert.equal(parseKey('a'.repeat(64), 'x').length, 32);
  assert.throws(() => parseKey('short', 'key file k'), /key file k: not a 256-bit key; make one with `openssl rand -hex 32/);
});

test('retention: an event past its purge time loses its attendees and embeddings', async () => {
  await withDir(async (dir) => {
    let now = 1_000_000;
    const db = openDatabase(dir);
    const store = new AttendeeStore(db, new FieldCipher(null), () => now);
    fill(store, 4, unitVectors(4, 512, 7));
    store.upsertEvent({ id: 'ev', name: 'Event', endsAt: now + 10, purgeAfter: now + 1000 });
    assert.deepEqual(store.purgeExpired(), []);
    now += 1000;
    assert.deepEqual(store.purgeExpired(), ['ev']);
    assert.equal(store.listAttendees('ev').length, 0);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM embeddings').get() as { n: number }).n, 0);
    db.close();
  });
});

test('retention in bounded steps: each step deletes at most batchRows rows, the event goes only at the end', async () => {
  await withDir(async (dir) => {
    let now = 1_000_000;
    const db = openDatabase(dir);
    const store = new AttendeeStore(db, new FieldCipher(null), () => now);
    fill(store, 25, unitVectors(25, 512, 8));
    store.upsertEvent({ id: 'other' });
    store.upsertAttendee('other', localSession('keep', { name: 'Keep' }));
    store.upsertEvent({ id: 'ev', name: 'Event', endsAt: now + 10, purgeAfter: now + 1000 });
    assert.deepEqual(store.expiredEvents(), []);
    now += 1000;
    assert.deepEqual(store.expiredEvents(), ['ev']);
    const seen: string[] = [];
    store.on('change', (c) => seen.push(`${c.kind}:${c.eventId}`));
    const embeddings = () => (db.prepare("SELECT COUNT(*) AS n FROM embeddings WHERE event_id = 'ev'").get() as { n: number }).n;
    const sizes: number[] = [];
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    let steps = 0;
    const realStep = store.purgeEventStep.bind(store);
    store.purgeEventStep = (id, rows) => {
      steps++;
      const r = realStep(id, rows);
      sizes.push(embeddings());
      if (!r.done) assert.deepEqual(seen, [], 'no change event before the purge is complete');
      return r;
    };
    assert.deepEqual(await purgeExpiredInBatches(store, { batchRows: 10 }), ['ev']);
    clearInterval(ticker);
    // 25 embeddings in 3 steps, then the attendees in 3 more, then the final check
    assert.deepEqual(sizes.slice(0, 3), [15, 5, 0]);
    assert.ok(steps >= 6 && steps <= 8, `${steps} steps`);
    assert.ok(turns >= 1, 'the event loop ran between steps');
    assert.deepEqual(seen, ['event-removed:ev']);
    assert.equal(store.listAttendees('ev').length, 0);
    assert.equal(store.listAttendees('other').length, 1, 'other events untouched');
    assert.deepEqual(store.expiredEvents(), [], 'an emptied event is not purged again');
    assert.deepEqual(await purgeExpiredInBatches(store, { batchRows: 10 }), []);
    db.close();
  });
});

test('change events are emitted only after a transaction commits', async () => {
  await withDir(async (dir) => {
    const db = openDatabase(dir);
    const store = new AttendeeStore(db, new FieldCipher(null));
    store.upsertEvent({ id: 'ev' });
    const seen: string[] = [];
    store.on('change', (c) => seen.push(c.kind));
    assert.throws(() =>
      store.transaction(() => {
        store.upsertAttendee('ev', localSession('x', {}));
        store.addEmbedding('ev', 'x', { vector: unitVectors(1, 512, 8)[0]!, modelId: 'm1', quality: null, source: 'enroll' });
        throw new Error('page failed');
      }),
    );
    assert.deepEqual(seen, []);
    assert.equal(store.hasAttendee('ev', 'x'), false);
    db.close();
  });
});

test('a change listener that throws is logged; the write stays committed and later listeners still hear it', async () => {
  await withDir(async (dir) => {
    const db = openDatabase(dir);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
        cb();
      },
    });
    const store = new AttendeeStore(db, new FieldCipher(null), Date.now, pino({ level: 'info' }, sink));
    store.upsertEvent({ id: 'ev' });
    const seen: string[] = [];
    let onceCalls = 0;
    store.on('change', () => {
      throw new Error('gallery exploded');
    });
    store.once('change', () => onceCalls++);
    store.on('change', (c) => seen.push(c.kind));
    const vector = unitVectors(1, 512, 8)[0]!;
    // Inside a transaction (emitted after commit) and outside one (emitted at once).
    store.transaction(() => {
      store.upsertAttendee('ev', localSession('x', {}));
      store.addEmbedding('ev', 'x', { vector, modelId: 'm1', quality: null, source: 'enroll' });
    });
    store.removeEvent('ev');
    assert.deepEqual(seen, ['embedding-added', 'event-removed']);
    assert.equal(onceCalls, 1, 'a once listener is called once, as with emit');
    const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err: string; change: string });
    assert.deepEqual(
      errors.map((e) => [e.level, e.err, e.change]),
      [
        [50, 'gallery exploded', 'embedding-added'],
        [50, 'gallery exploded', 'event-removed'],
      ],
    );
    assert.match(errors[0]!.msg, /change listener failed/);
    assert.ok(!lines.join('\n').includes(String(vector[0])), 'the embedding is not logged');
    db.close();
  });
});
