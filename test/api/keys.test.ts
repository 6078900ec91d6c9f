// API keys on a real SQLite file: create, verify, revoke, list; only hashes stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ApiKeyError, createKey, formatCreatedKey, formatKeyList, KEY_PREFIX, listKeys, revokeKey, SqliteApiKeyStore } from '../../src/api/keys.js';
import { tempDir } from './helpers.js';
import { migrate } from '../../src/store/migrations.js';

async function openDb(t: import('node:test').TestContext): Promise<{ db: Database.Database; file: string }> {
  const file = join(await tempDir(t), 'agent.db');
  const db = new Database(file);
  t.after(() => db.close());
  migrate(db);
  return { db, file };
}

void test('a created key verifies to its name; near misses and other strings do not', async (t) => {
  const { db } = await openDb(t);
  const { key, id } = createKey(db, 'front-desk');
  assert.match(key, /^sgk_[A-Za-z0-9_-]{43}$/);
  assert.equal(id, 1);
  const store = new SqliteApiKeyStore(db);
  assert.deepStrictEqual(store.verify(key), { name: 'front-desk' });
  const last = key.at(-1) === 'A' ? 'B' : 'A';
  assert.equal(store.verify(key.slice(0, -1) + last), null);
  assert.equal(store.verify(key.slice(KEY_PREFIX.length)), null);
  assert.equal(store.verify(`${key} `), null);
  assert.equal(store.verify(''), null);
  assert.equal(store.verify(KEY_PREFIX + 'x'.repeat(10_000)), null);
  const other = createKey(db, 'turnstile-2');
  assert.notEqual(other.key, key);
  assert.deepStrictEqual(store.verify(other.key), { name: 'turnstile-2' });
});

void test('only a SHA-256 of the key is stored: the key is nowhere in the database file', async (t) => {
  const { db, file } = await openDb(t);
  const { key } = createKey(db, 'scanner');
  db.pragma('wal_checkpoint(TRUNCATE)');
  const row = db.prepare('SELECT * FROM api_keys').get() as Record<string, unknown>;
  assert.deepStrictEqual(Object.keys(row).sort(), ['created_at', 'hash', 'id', 'name', 'revoked_at']);
  assert.ok((row.hash as Buffer).equals(createHash('sha256').update(key).digest()));
  const bytes = readFileSync(file);
  const secret = key.slice(KEY_PREFIX.length);
  assert.equal(bytes.includes(Buffer.from(secret)), false, 'key text in the file');
  assert.equal(bytes.includes(Buffer.from(secret.slice(0, 16))), false, 'part of the key in the file');
  assert.equal(bytes.includes(Buffer.from('scanner')), true, 'sanity: the file is readable and holds the row');
});

void test('revoke by name or id: verification fails at once, list shows when', async (t) => {
  const { db } = await openDb(t);
  const store = new SqliteApiKeyStore(db);
  const day = 86_400_000;
  const t0 = Date.now() - 40 * day;
  const a = createKey(db, 'a', new Date(t0));
  const b = createKey(db, 'b', new Date(t0 + day));
  const revoked = revokeKey(db, 'a', new Date(t0 + 31 * day));
  assert.deepStrictEqual(revoked, { id: a.id, name: 'a', createdAt: new Date(t0).toISOString(), revokedAt: new Date(t0 + 31 * day).toISOString() });
  assert.equal(store.verify(a.key), null);
  assert.deepStrictEqual(store.verify(b.key), { name: 'b' });
  assert.equal(revokeKey(db, 'a'), null, 'already revoked');
  assert.equal(revokeKey(db, 'nobody'), null);
  assert.equal(revokeKey(db, String(b.id))?.name, 'b', 'a numeric string is an id');
  assert.equal(store.verify(b.key), null);
  const list = listKeys(db);
  assert.deepStrictEqual(
    list.map((k) => [k.id, k.name, k.revokedAt !== null]),
    [
      [a.id, 'a', true],
      [b.id, 'b', true],
    ],
  );
  assert.ok(list.every((k) => !('hash' in k)));
  // A revoked name can be reused; the old key stays dead.
  const a2 = createKey(db, 'a');
  assert.deepStrictEqual(store.verify(a2.key), { name: 'a' });
  assert.equal(store.verify(a.key), null);
});

void test('names: unique among live keys, and validated', async (t) => {
  const { db } = await openDb(t);
  createKey(db, 'gate 1');
  assert.throws(() => createKey(db, 'gate 1'), (e: Error) => e instanceof ApiKeyError && /already exists: revoke it first/.test(e.message));
  for (const bad of ['', ' lead', 'x'.repeat(65), 'semi;colon', 'new\nline']) {
    assert.throws(() => createKey(db, bad), ApiKeyError, JSON.stringify(bad));
  }
});

void test('keys survive reopening the file; migrate is idempotent', async (t) => {
  const { db, file } = await openDb(t);
  const { key } = createKey(db, 'persist');
  db.close();
  const again = new Database(file);
  t.after(() => again.close());
  migrate(again);
  assert.deepStrictEqual(new SqliteApiKeyStore(again).verify(key), { name: 'persist' });
});

void test('CLI output: the key once (plain or {"key"}), and a list without secrets', async (t) => {
  const { db } = await openDb(t);
  const created = createKey(db, 'kiosk');
  assert.deepStrictEqual(JSON.parse(formatCreatedKey(created, 'kiosk', true)), { key: created.key });
  assert.ok(formatCreatedKey(created, 'kiosk', false).startsWith(`${created.key}\n`));
  const text = formatKeyList(listKeys(db), false);
  assert.match(text, /kiosk/);
  assert.doesNotMatch(text, new RegExp(created.key.slice(4, 20)));
  assert.deepStrictEqual(
    (JSON.parse(formatKeyList(listKeys(db), true)) as { name: string }[]).map((r) => r.name),
    ['kiosk'],
  );
  assert.match(formatKeyList([], false), /no API keys; create one/);
});
