// Sealed values bound to their rows, checked on the bytes of real SQLite files: values
// moved between rows or columns and plaintext put in their place are refused (on the
// loop and in the gallery loader's threads); migration 9 re-seals a store written in the
// format before it, and every attendee still matches afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { AttendeeStore } from '../../src/store/attendees.js';
import { FieldCipher } from '../../src/store/crypto.js';
import { DB_FILE, openDatabase } from '../../src/store/db.js';
import { localSession } from '../../src/store/session.js';
import { sealerOf } from '../../src/store/open.js';
import { Galleries } from '../../src/match/galleries.js';
import { Outbox } from '../../src/publish/outbox.js';
import { startRecognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { defaultConfig, identityPhotos, readPhoto } from '../fixtures.js';
import { BIN, SHARED_MODELS } from '../paths.js';
import { unitVectors } from '../vectors.js';

const DIM = 512;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealed-rows-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A value sealed the way gate-agent did before schema 9: 0x01 | key id | iv | tag | ciphertext, no associated data. */
function sealUnbound(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([Buffer.from([0x01]), createHash('sha256').update(key).digest().subarray(0, 4), iv, c.getAuthTag(), ct]);
}

const kycOf = (u: string) => [{ stepId: 'kyc', data: { kyc: { document: { idNumber: { value: `SECRET-ID-${u}`, verified: true } } } } }];

function fill(store: AttendeeStore, users: string[], vs: Float32Array[]): void {
  store.upsertEvent({ id: 'ev' });
  store.transaction(() => {
    users.forEach((u, i) => {
      const s = localSession(u, { name: `Name ${u}`, email: `${u}@example.org` });
      s.kyc = kycOf(u);
      store.upsertAttendee('ev', s);
      store.addEmbedding('ev', u, { vector: vs[i]!, modelId: 'm', quality: null, source: 'sync' });
    });
  });
}

const openKeyed = (dir: string, key: Buffer | null) => {
  const cipher = new FieldCipher(key);
  return new AttendeeStore(openDatabase(dir, { cipher }), cipher);
};

/** A store written before schema 9 and before a key was set: schema 8, plaintext values. */
function plaintextSchema8(dir: string, users: string[], vs: Float32Array[]): void {
  const plain = openKeyed(dir, null);
  plain.db.pragma('user_version = 8');
  fill(plain, users, vs);
  plain.db.close();
}

/** Loads the event's gallery in a loader thread; the error it fails with, or null. */
async function galleryError(store: AttendeeStore): Promise<string | null> {
  const galleries = new Galleries(store, { modelId: 'm', dim: DIM, threads: 1, rescoreTop: 16, loadWorkers: 1 });
  galleries.start();
  try {
    await galleries.get('ev');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await galleries.stop();
  }
}

/** Runs fn on the database file with plain better-sqlite3, outside the store. */
function raw<T>(dir: string, fn: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(join(dir, DB_FILE));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const kycBytes = (db: BetterSqlite3.Database, u: string) => (db.prepare('SELECT kyc FROM attendees WHERE user_id = ?').get(u) as { kyc: Buffer }).kyc;
const vectorBytes = (db: BetterSqlite3.Database, id: number) => (db.prepare('SELECT vector FROM embeddings WHERE id = ?').get(id) as { vector: Buffer }).vector;

test('a sealed value moved to another row or column is refused, on the loop and in the loader threads; moved back it opens again', async () => {
  await withDir(async (dir) => {
    const key = randomBytes(32);
    const users = ['u1', 'u2', 'u3'];
    const vs = unitVectors(3, DIM, 21);
    const store = openKeyed(dir, key);
    fill(store, users, vs);
    assert.deepEqual(store.getSession('ev', 'u1')!.kyc, kycOf('u1'));
    assert.equal(await galleryError(store), null, 'the untouched store loads');
    store.db.close();

    raw(dir, (db) => {
      const [k1, k2] = [kycBytes(db, 'u1'), kycBytes(db, 'u2')];
      const [v1, v2] = [vectorBytes(db, 1), vectorBytes(db, 2)];
      assert.equal(k1[0], 0x02);
      db.prepare('UPDATE attendees SET kyc = ? WHERE user_id = ?').run(k2, 'u1');
      db.prepare('UPDATE attendees SET kyc = ? WHERE user_id = ?').run(k1, 'u2');
      db.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(v2, 1);
      db.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(v1, 2);
      // A value of another column, and an embedding given to another attendee.
      db.prepare("UPDATE attendees SET kyc = (SELECT vector FROM embeddings WHERE id = 3) WHERE user_id = 'u3'").run();
      db.prepare("UPDATE embeddings SET user_id = 'u1' WHERE id = 3").run();
    });

    const s = openKeyed(dir, key);
    assert.throws(() => s.getSession('ev', 'u1'), /attendees\.kyc \(ev, u1\) failed its integrity check: it was altered, or moved from another row or column; .*Restore a backup, or remove the attendee and sync again/);
    assert.throws(() => s.getSession('ev', 'u2'), /attendees\.kyc \(ev, u2\) failed its integrity check/);
    assert.throws(() => s.getSession('ev', 'u3'), /attendees\.kyc \(ev, u3\) failed its integrity check/);
    assert.throws(() => s.getVector(1), /embeddings\.vector \(1, ev, u1, m\) failed its integrity check/);
    assert.throws(() => s.getVector(2), /embeddings\.vector \(2, ev, u2, m\) failed its integrity check/);
    assert.throws(() => s.getVector(3), /embeddings\.vector \(3, ev, u1, m\) failed its integrity check/);
    assert.throws(() => [...s.iterateEmbeddings('ev', 'm')], /failed its integrity check/);
    assert.match((await galleryError(s)) ?? 'loaded', /embeddings\.vector \(\d, ev, u\d, m\) failed its integrity check/);
    s.db.close();

    // Put back where they were, the same bytes open: the refusal was the binding, not damage.
    raw(dir, (db) => {
      const [k1, k2] = [kycBytes(db, 'u1'), kycBytes(db, 'u2')];
      db.prepare('UPDATE attendees SET kyc = ? WHERE user_id = ?').run(k2, 'u1');
      db.prepare('UPDATE attendees SET kyc = ? WHERE user_id = ?').run(k1, 'u2');
      const [v1, v2] = [vectorBytes(db, 1), vectorBytes(db, 2)];
      db.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(v2, 1);
      db.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(v1, 2);
      db.prepare("UPDATE embeddings SET user_id = 'u3' WHERE id = 3").run();
    });
    const back = openKeyed(dir, key);
    assert.deepEqual(back.getSession('ev', 'u1')!.kyc, kycOf('u1'));
    assert.deepEqual(back.getSession('ev', 'u2')!.kyc, kycOf('u2'));
    assert.deepEqual([...back.getVector(1)!], [...vs[0]!]);
    assert.deepEqual([...back.getVector(3)!], [...vs[2]!]);
    back.db.close();
  });
});

test('with a key set, plaintext or an unbound sealed value in place of a sealed value is refused with what to do', async () => {
  await withDir(async (dir) => {
    const key = randomBytes(32);
    const vs = unitVectors(2, DIM, 22);
    const store = openKeyed(dir, key);
    fill(store, ['u1', 'u2'], vs);
    const outbox = new Outbox(store.db, { identity: { gateId: 'g', siteId: 's', eventId: 'ev', modelId: 'm' }, maxMessages: 10, ...sealerOf(store) });
    outbox.recordDecision({ decision: 'granted', reason: 'granted', similarity: 0.9, timingsMs: {}, atMs: 1 }, store.getSession('ev', 'u1')!);
    store.db.close();

    raw(dir, (db) => {
      db.prepare("UPDATE attendees SET kyc = ? WHERE user_id = 'u1'").run(Buffer.concat([Buffer.from([0x00]), Buffer.from(JSON.stringify(kycOf('u1')))]));
      db.prepare('UPDATE embeddings SET vector = ? WHERE id = 1').run(Buffer.concat([Buffer.from([0x00]), Buffer.from(vs[0]!.buffer)]));
      // The old unbound format, sealed with the right key, after migration 9 has run.
      db.prepare("UPDATE attendees SET kyc = ? WHERE user_id = 'u2'").run(sealUnbound(key, Buffer.from(JSON.stringify(kycOf('u2')))));
      db.prepare('UPDATE outbox SET payload = ?').run(Buffer.concat([Buffer.from([0x00]), Buffer.from('{"forged":true}')]));
    });

    const s = openKeyed(dir, key);
    const plain = /holds a plaintext value although a store key is configured; it is refused .*run `gate-agent store rotate-key --new-key-file <key file>`/;
    assert.throws(() => s.getSession('ev', 'u1'), plain);
    assert.throws(() => s.getVector(1), plain);
    assert.match((await galleryError(s)) ?? 'loaded', /embeddings\.vector \(1, ev, u1, m\) holds a plaintext value although a store key is configured/);
    assert.throws(() => s.getSession('ev', 'u2'), /attendees\.kyc \(ev, u2\) is sealed in the old format that is not bound to its row; it is refused. Migration 9 re-seals/);
    const o = new Outbox(s.db, { identity: { gateId: 'g', siteId: 's', eventId: 'ev', modelId: 'm' }, maxMessages: 10, ...sealerOf(s) });
    assert.throws(() => o.peek(0, 1), /outbox\.payload \(\) holds a plaintext value/);
    s.db.close();
  });
});

test('with a key set, the file holds no KYC value, embedding, kept photo or queued result in plaintext', async () => {
  await withDir(async (dir) => {
    const key = randomBytes(32);
    const vs = unitVectors(20, DIM, 23);
    const users = vs.map((_, i) => `u${i}`);
    const store = openKeyed(dir, key);
    fill(store, users, vs);
    const photo = readPhoto(identityPhotos()[0]!.path);
    store.addEmbedding('ev', 'u0', { vector: vs[1]!, modelId: 'm', quality: null, source: 'enroll', photo });
    const outbox = new Outbox(store.db, { identity: { gateId: 'g', siteId: 's', eventId: 'ev', modelId: 'm' }, maxMessages: 10, ...sealerOf(store) });
    outbox.recordDecision({ decision: 'granted', reason: 'granted', similarity: 0.9, timingsMs: {}, atMs: 1 }, store.getSession('ev', 'u3')!);
    assert.match(outbox.peek(0, 1)[0]!.payload, /SECRET-ID-u3/);
    assert.equal(store.photosToReembed('ev', 'other')[0]!.image.equals(photo), true);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.db.close();
    const file = await readFile(join(dir, DB_FILE));
    for (const u of users) assert.ok(!file.includes(Buffer.from(`SECRET-ID-${u}`)), `KYC of ${u} in plaintext`);
    vs.forEach((v, i) => assert.ok(!file.includes(Buffer.from(v.buffer).subarray(0, 64)), `embedding ${i} in plaintext`));
    assert.ok(!file.includes(photo.subarray(photo.length >> 1, (photo.length >> 1) + 64)), 'kept photo in plaintext');
  });
});

test('rotating a plaintext store to a key leaves no plaintext in the file (it is rewritten)', async () => {
  await withDir(async (dir) => {
    const vs = unitVectors(20, DIM, 25);
    const users = vs.map((_, i) => `u${i}`);
    const store = openKeyed(dir, null);
    fill(store, users, vs);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    assert.ok((await readFile(join(dir, DB_FILE))).includes(Buffer.from('SECRET-ID-u3')), 'plaintext before');
    store.rekey(new FieldCipher(randomBytes(32)));
    store.db.close();
    const file = await readFile(join(dir, DB_FILE));
    for (const u of users) assert.ok(!file.includes(Buffer.from(`SECRET-ID-${u}`)), `KYC of ${u} in plaintext`);
    vs.forEach((v, i) => assert.ok(!file.includes(Buffer.from(v.buffer).subarray(0, 64)), `embedding ${i} in plaintext`));
  });
});

test('migration 9 re-seals a store written before it; without the key or with a wrong one it changes nothing; every attendee still matches', { timeout: 240_000 }, async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'sealed-rows-scratch-'));
  const dir = await mkdtemp(join(tmpdir(), 'sealed-rows-old-'));
  try {
    // Real enrollments (real photos, the real models), in a store without a key.
    const photos = identityPhotos();
    const enrolled = new Map<string, string>();
    const a = await startRecognition(defaultConfig({ 'store.keepEnrollmentPhotos': true }), SHARED_MODELS, scratch);
    try {
      a.store.upsertEvent({ id: 'ev' });
      for (const p of photos) {
        if (enrolled.has(p.identity)) continue;
        await enrollAttendee(
          { pipeline: a.pipeline, store: a.store, galleries: a.galleries, config: a.config, embedderId: a.embedderId },
          { eventId: 'ev', userId: p.identity, name: p.identity, photos: [{ label: p.name, data: readPhoto(p.path) }] },
        );
        const s = a.store.getSession('ev', p.identity)!;
        a.store.upsertAttendee('ev', { ...s, kyc: kycOf(p.identity) });
        enrolled.set(p.identity, p.path);
      }
    } finally {
      await a.stop();
    }
    const modelId = a.embedderId;

    // The store as gate-agent wrote it before schema 9: schema 8, values sealed without a
    // row binding (0x01); the first attendee's KYC still plaintext (written before the key
    // was set, which releases before accepted); one queued result sealed, one plain text.
    const key = randomBytes(32);
    openDatabase(dir, { migrateTo: 8 }).close();
    const plaintextVectors: Buffer[] = [];
    raw(dir, (db) => {
      const src = new BetterSqlite3(join(scratch, DB_FILE), { readonly: true });
      try {
        const old = (v: Buffer) => sealUnbound(key, v.subarray(1));
        const copy = (table: string, sealed: string | null, firstStaysPlain = false) => {
          const rows = src.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all() as Record<string, unknown>[];
          for (const [i, r] of rows.entries()) {
            if (sealed) {
              assert.equal((r[sealed] as Buffer)[0], 0x00);
              if (table === 'embeddings') plaintextVectors.push((r[sealed] as Buffer).subarray(1));
              if (!(firstStaysPlain && i === 0)) r[sealed] = old(r[sealed] as Buffer);
            }
            const cols = Object.keys(r);
            db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`).run(r);
          }
          return rows.length;
        };
        copy('events', null);
        copy('attendees', 'kyc', true);
        assert.ok(copy('photos', 'image') > 0);
        copy('embeddings', 'vector');
      } finally {
        src.close();
      }
      const ins = db.prepare("INSERT INTO outbox (message_id, topic, payload, created_ms) VALUES (?, 't', ?, 1)");
      ins.run('m1', sealUnbound(key, Buffer.from('{"kyc":"SECRET-ID-queued"}')));
      ins.run('m2', '{"kyc":"SECRET-ID-plain-queued"}');
    });
    const formats = () =>
      raw(dir, (db) =>
        ['attendees.kyc', 'embeddings.vector', 'photos.image', 'outbox.payload'].map((tc) => {
          const [t, c] = tc.split('.');
          return (db.prepare(`SELECT ${c} AS v FROM ${t} ORDER BY rowid`).all() as { v: Buffer | string }[]).map((r) => (typeof r.v === 'string' ? 'text' : r.v[0]!)).join(',');
        }),
      );
    const snapshot = () => raw(dir, (db) => JSON.stringify([db.pragma('user_version', { simple: true }), db.prepare('SELECT hex(kyc) FROM attendees ORDER BY rowid').all(), db.prepare('SELECT hex(vector) FROM embeddings ORDER BY id').all(), db.prepare('SELECT hex(image) FROM photos ORDER BY id').all(), db.prepare('SELECT hex(payload) FROM outbox ORDER BY seq').all()]));
    const before = snapshot();
    const n = enrolled.size;
    assert.deepEqual(formats(), [['0', ...Array(n - 1).fill('1')].join(','), Array(n).fill('1').join(','), Array(n).fill('1').join(','), '1,text']);

    // Without the key (keys, audit: commands that open the file without it): refused, nothing changed.
    assert.throws(() => openDatabase(dir), new RegExp(`holds ${3 * n} value\\(s\\) encrypted by an earlier gate-agent, .*needs the store key, and none is configured here. Open the store once with its key .*nothing was changed`));
    assert.equal(snapshot(), before);
    // With a wrong key: refused; the plaintext KYC sealed first is rolled back with the rest.
    assert.throws(() => openDatabase(dir, { cipher: new FieldCipher(randomBytes(32)) }), /migration 9 cannot re-seal .*encrypted with a different key; configure the key it was written with; nothing was changed/);
    assert.equal(snapshot(), before);

    // With the key: the daemon's way of opening (config store.keyFile) re-seals every value.
    const keyFile = join(dir, 'store.key');
    await writeFile(keyFile, key.toString('hex'), { mode: 0o600 });
    const b = await startRecognition(defaultConfig({ 'store.keyFile': keyFile }), SHARED_MODELS, dir);
    try {
      assert.equal(b.store.db.pragma('user_version', { simple: true }), 9);
      assert.deepEqual(formats(), [Array(n).fill('2').join(','), Array(n).fill('2').join(','), Array(n).fill('2').join(','), '2,2']);
      for (const u of enrolled.keys()) assert.deepEqual(b.store.getSession('ev', u)!.kyc, kycOf(u));
      assert.equal(b.store.photosToReembed('ev', 'another-model').length, n);
      const o = new Outbox(b.store.db, { identity: { gateId: 'g', siteId: 's', eventId: 'ev', modelId }, maxMessages: 10, ...sealerOf(b.store) });
      assert.deepEqual(o.peek(0, 2).map((r) => r.payload), ['{"kyc":"SECRET-ID-queued"}', '{"kyc":"SECRET-ID-plain-queued"}']);
      // Every other photo of an enrolled person is still identified as that person.
      const wrong: string[] = [];
      let probes = 0;
      for (const p of photos) {
        if (enrolled.get(p.identity) === p.path) continue;
        probes++;
        const r = await b.recognizer.identify('ev', readPhoto(p.path));
        if (r.decision !== 'match' || r.match?.userId !== p.identity) wrong.push(`${p.name}: ${r.decision} ${r.match?.userId ?? ''}`);
      }
      assert.ok(probes >= 20, `${probes} probes`);
      assert.deepEqual(wrong, []);
    } finally {
      await b.stop();
    }

    // Idempotent: run again (schema marker put back to 8), it finds nothing to do.
    const after = snapshot();
    raw(dir, (db) => db.pragma('user_version = 8'));
    openKeyed(dir, key).db.close();
    assert.equal(snapshot(), after);

    raw(dir, (db) => db.pragma('wal_checkpoint(TRUNCATE)'));
    const file = await readFile(join(dir, DB_FILE));
    for (const u of enrolled.keys()) assert.ok(!file.includes(Buffer.from(`SECRET-ID-${u}`)), `KYC of ${u} in plaintext`);
    assert.ok(!file.includes(Buffer.from('SECRET-ID-plain-queued')), 'queued result in plaintext');
    plaintextVectors.forEach((v, i) => assert.ok(!file.includes(v.subarray(0, 64)), `embedding ${i} in plaintext`));
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
});

test('migration 9 leaves an old value that fails its integrity check as it was, and everything else opens', async () => {
  await withDir(async (dir) => {
    const key = randomBytes(32);
    const vs = unitVectors(3, DIM, 24);
    plaintextSchema8(dir, ['u1', 'u2', 'u3'], vs);
    raw(dir, (db) => {
      for (const r of db.prepare('SELECT rowid AS k, kyc FROM attendees').all() as { k: number; kyc: Buffer }[]) {
        db.prepare('UPDATE attendees SET kyc = ? WHERE rowid = ?').run(sealUnbound(key, r.kyc.subarray(1)), r.k);
      }
      for (const r of db.prepare('SELECT id, vector FROM embeddings').all() as { id: number; vector: Buffer }[]) {
        const v = sealUnbound(key, r.vector.subarray(1));
        if (r.id === 2) v[v.length - 1]! ^= 0xff;
        db.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(v, r.id);
      }
    });
    const s = openKeyed(dir, key);
    assert.equal(s.db.pragma('user_version', { simple: true }), 9);
    assert.deepEqual([...s.getVector(1)!], [...vs[0]!]);
    assert.deepEqual([...s.getVector(3)!], [...vs[2]!]);
    assert.equal(vectorBytes(s.db, 2)[0], 0x01);
    assert.throws(() => s.getVector(2), /embeddings\.vector \(2, ev, u2, m\) is sealed in the old format that is not bound to its row; it is refused/);
    for (const u of ['u1', 'u2', 'u3']) assert.deepEqual(s.getSession('ev', u)!.kyc, kycOf(u));
    s.db.close();
  });
});

test('keys and audit commands open the store with the configured key: the first command after an upgrade seals a plaintext store, and the gate can read it', async () => {
  await withDir(async (dir) => {
    const key = randomBytes(32);
    const vs = unitVectors(2, DIM, 31);
    plaintextSchema8(dir, ['u1', 'u2'], vs);
    // The key is configured now; the operator's first command is `keys list`.
    const env = { ...process.env, GATE_AGENT_DATA_DIR: dir, GATE_AGENT_STORE_KEY: key.toString('hex') };
    const r = spawnSync(process.execPath, [BIN, 'keys', 'list', '--json'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    raw(dir, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), 9);
      assert.equal(kycBytes(db, 'u1')[0], 0x02, 'sealed, bound to its row');
      assert.equal(vectorBytes(db, 1)[0], 0x02);
    });
    const s = openKeyed(dir, key);
    assert.deepEqual([...s.getVector(2)!], [...vs[1]!]);
    assert.deepEqual(s.getSession('ev', 'u1')!.kyc, kycOf('u1'));
    assert.equal(await galleryError(s), null);
    s.db.close();
  });
});

test('every sealed value gets its own IV, across the blocks of IVs the cipher draws at a time, and each opens', () => {
  const cipher = new FieldCipher(randomBytes(32));
  const at = { table: 'attendees', column: 'kyc', row: ['ev', 'u1'] };
  const ivs = new Set<string>();
  const n = 1000;
  for (let i = 0; i < n; i++) {
    const sealed = cipher.seal(Buffer.from(`value ${i}`), at);
    // Layout: marker (1) | key id (4) | iv (12) | tag (16) | ciphertext.
    ivs.add(sealed.subarray(5, 17).toString('hex'));
    assert.equal(cipher.open(sealed, at).toString(), `value ${i}`);
  }
  assert.equal(ivs.size, n);
});
