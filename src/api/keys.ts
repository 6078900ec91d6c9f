// API keys for POST /identity, kept in the agent's SQLite database. Only a
// SHA-256 of each key is stored. A slow password hash (scrypt, argon2) exists
// to make guessing low-entropy passwords expensive; these keys are 256 random
// bits, so a preimage search is out of reach with any hash, and a fast hash
// keeps verification cheap for a request path that anyone on the LAN can hit
// with bad keys. Comparison is constant-time against every live key, so
// response timing says nothing about how close a guess was.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { ApiKeyStore } from './identity-service.js';
import { isoWithOffset } from '../clock.js';

/** Recognisable in logs, config files and secret scanners. */
export const KEY_PREFIX = 'sgk_';
const KEY_BYTES = 32;
const NAME_RE = /^[\p{L}\p{N}][\p{L}\p{N} ._@-]{0,63}$/u;

export interface ApiKeyRow {
  id: number;
  name: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, null while the key is live. */
  revokedAt: string | null;
}


function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export class ApiKeyError extends Error {
  override name = 'UsageError';
}

/**
 * Create a key labelled `name` (unique among live keys, so `keys revoke
 * <name>` is unambiguous). The key itself is returned once and never stored.
 */
export function createKey(db: Database, name: string, now: Date = new Date()): { key: string; id: number } {
  if (!NAME_RE.test(name)) {
    throw new ApiKeyError(`key name ${JSON.stringify(name)} is not valid: use 1-64 letters, digits, spaces or . _ @ -, starting with a letter or digit`);
  }
  const live = db.prepare('SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL').get(name);
  if (live) throw new ApiKeyError(`a live key named ${JSON.stringify(name)} already exists: revoke it first or pick another name`);
  const key = KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
  const info = db
    .prepare('INSERT INTO api_keys (name, hash, created_at) VALUES (?, ?, ?)')
    .run(name, hashKey(key), now.toISOString());
  return { key, id: Number(info.lastInsertRowid) };
}

export function listKeys(db: Database): ApiKeyRow[] {
  return db
    .prepare('SELECT id, name, created_at AS createdAt, revoked_at AS revokedAt FROM api_keys ORDER BY id')
    .all() as ApiKeyRow[];
}

/**
 * Revoke by numeric id or by the name of a live key. Returns the revoked row,
 * or null when nothing live matched.
 */
export function revokeKey(db: Database, idOrName: number | string, now: Date = new Date()): ApiKeyRow | null {
  const byId = typeof idOrName === 'number' || /^\d+$/.test(idOrName);
  const row = (
    byId
      ? db.prepare('SELECT id FROM api_keys WHERE id = ? AND revoked_at IS NULL').get(Number(idOrName))
      : db.prepare('SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL').get(idOrName)
  ) as { id: number } | undefined;
  if (!row) return null;
  db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(now.toISOString(), row.id);
  return listKeys(db).find((k) => k.id === row.id) ?? null;
}

/** The ApiKeyStore the server uses. Reads SQLite on every check, so a revocation applies at once. */
export class SqliteApiKeyStore implements ApiKeyStore {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  verify(presentedKey: string): { name: string } | null {
    // Cheap shape check first; also bounds the hashing work per request.
    if (!presentedKey.startsWith(KEY_PREFIX) || presentedKey.length > 128) return null;
    const presented = hashKey(presentedKey);
    const rows = this.db.prepare('SELECT name, hash FROM api_keys WHERE revoked_at IS NULL').all() as { name: string; hash: Buffer }[];
    let found: string | null = null;
    // No early exit: every live key is compared whatever the outcome.
    for (const r of rows) {
      if (r.hash.length === presented.length && timingSafeEqual(r.hash, presented)) found = r.name;
    }
    return found === null ? null : { name: found };
  }
}

/** What `gate-agent keys create` prints: the key once, plainly or as JSON. */
export function formatCreatedKey(created: { key: string; id: number }, name: string, json: boolean): string {
  if (json) return JSON.stringify({ key: created.key });
  return `${created.key}\n\nAPI key ${created.id} "${name}" created. It is shown only now: store it where the client keeps secrets.`;
}

/** What `gate-agent keys list` prints; never the key or its hash. */
/** A stored UTC time as local time with its offset, for people. */
const local = (iso: string): string => (Number.isNaN(Date.parse(iso)) ? iso : isoWithOffset(Date.parse(iso)));

export function formatKeyList(rows: readonly ApiKeyRow[], json: boolean): string {
  if (json) return JSON.stringify(rows);
  if (rows.length === 0) return 'no API keys; create one with `gate-agent keys create --name <label>`';
  const lines = rows.map((r) => `${String(r.id).padEnd(5)} ${r.name.padEnd(24)} ${local(r.createdAt)}  ${r.revokedAt ? `revoked ${local(r.revokedAt)}` : 'live'}`);
  return [`${'ID'.padEnd(5)} ${'NAME'.padEnd(24)} ${'CREATED'.padEnd(24)}  STATE`, ...lines].join('\n');
}
