// AES-256-GCM for the sensitive columns (embeddings, KYC, kept photos). The key is
// never stored in the database: it comes from a key file or an environment variable.
// Every sealed value is bound to its place (table, column, the row's identity) as
// associated data, so a value moved to another row, or replaced with plaintext, is refused.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { logger } from '../log.js';

export class StoreError extends Error {
  override name = 'StoreError';
}

/** Format markers, the first byte of every stored value. */
export const PLAIN = 0x00;
/** Sealed before schema 9: not bound to its row. Only migration 9 reads it. */
export const SEALED_UNBOUND = 0x01;
/** Sealed and bound to its row (table, column, row identity as AES-GCM associated data). */
export const SEALED = 0x02;

/** 32-byte key from a file (raw 32 bytes, or 64 hex / 44 base64 characters) or an env value. */
export function parseKey(text: Buffer | string, where: string): Buffer {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  if (buf.length === 32) return buf;
  const s = buf.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  const b64 = Buffer.from(s, 'base64');
  if (b64.length === 32) return b64;
  throw new StoreError(`${where}: not a 256-bit key; make one with \`openssl rand -hex 32 > key\` (64 hex characters, 44 base64 characters or 32 raw bytes)`);
}

export function loadKey(keyFile: string | null, envValue: string | undefined): Buffer | null {
  if (envValue) return parseKey(envValue, 'GATE_AGENT_STORE_KEY');
  if (!keyFile) return null;
  let raw: Buffer;
  try {
    raw = readFileSync(keyFile);
  } catch (err) {
    throw new StoreError(`store key file ${keyFile}: cannot read it (${(err as NodeJS.ErrnoException).code}); check store.keyFile and its permissions`);
  }
  // The key opens every template and KYC record: say so when any user could read it.
  const mode = statSync(keyFile).mode & 0o777;
  if (mode & 0o004) logger('store').warn({ keyFile, mode: mode.toString(8) }, `store key file ${keyFile} is readable by every user (mode ${mode.toString(8)}); run \`chmod 600 ${keyFile}\``);
  return parseKey(raw, `store key file ${keyFile}`);
}

export const keyId = (key: Buffer): Buffer => createHash('sha256').update(key).digest().subarray(0, 4);

/**
 * Where a value lives: its table and column and the identity of its row (the columns that
 * say whose value it is: an attendee's event and user id; an embedding's id, attendee and
 * model). Sealed into the value as associated data; the encoding is part of the SEALED
 * format and never changes (a new encoding would be a new format marker).
 */
export interface RowBinding {
  table: string;
  column: string;
  row: readonly (string | number)[];
}

export const aadOf = (at: RowBinding): Buffer => Buffer.from(JSON.stringify(['gate-agent/sealed/2', at.table, at.column, ...at.row]), 'utf8');

/** `attendees.kyc (ev, u1)`: names the value in an error, never its content. */
const where = (at: RowBinding): string => `${at.table}.${at.column} (${at.row.join(', ')})`;

/** IVs drawn from the CSPRNG at a time: one randomBytes call per sealed value cost more than the AES. */
const IVS_PER_DRAW = 256;

/**
 * Seals and opens column values. Layout: 0x00 | plain (only when no key is configured),
 * or 0x02 | key id (4) | iv (12) | tag (16) | ciphertext, sealed with the value's
 * RowBinding as associated data. 0x01 is the same layout without associated data, as
 * written before schema 9; migration 9 re-seals those (openUnbound). The key id lets a
 * wrong key be reported as such instead of as corrupt data.
 */
export class FieldCipher {
  private readonly id: Buffer | null;
  /** Fresh random IVs, used once each, front to back (an IV is public; its only duty is never to repeat). */
  private ivs = Buffer.alloc(0);
  private ivAt = 0;
  constructor(private readonly key: Buffer | null) {
    this.id = key ? keyId(key) : null;
  }

  /**
   * A copy of the key, for a worker thread of this process that opens the same columns
   * (the gallery loader); it never leaves the process and is never logged.
   */
  keyForWorker(): Uint8Array | null {
    return this.key ? new Uint8Array(this.key) : null;
  }

  get encrypting(): boolean {
    return this.key !== null;
  }

  seal(plain: Buffer, at: RowBinding): Buffer {
    if (!this.key || !this.id) return Buffer.concat([Buffer.from([PLAIN]), plain]);
    const iv = this.nextIv();
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(aadOf(at));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([Buffer.from([SEALED]), this.id, iv, c.getAuthTag(), ct]);
  }

  open(stored: Buffer, at: RowBinding): Buffer {
    const format = stored[0];
    if (!this.key) {
      if (format === PLAIN) return stored.subarray(1);
      if (format === SEALED || format === SEALED_UNBOUND) throw new StoreError('the database holds encrypted data but no key is configured; set store.keyFile or GATE_AGENT_STORE_KEY');
      throw new StoreError(`${where(at)}: the stored value has an unknown format; the database is damaged: restore a backup (\`gate-agent store backup\` makes them) or remove the attendee and sync again`);
    }
    if (format === PLAIN) {
      throw new StoreError(
        `${where(at)} holds a plaintext value although a store key is configured; it is refused (it was written without the key, or put into the file from outside). ` +
          'If this store was never encrypted, unset store.keyFile and GATE_AGENT_STORE_KEY, run `gate-agent store rotate-key --new-key-file <key file>`, then set store.keyFile again; otherwise remove the attendee and sync again',
      );
    }
    if (format === SEALED_UNBOUND) {
      throw new StoreError(
        `${where(at)} is sealed in the old format that is not bound to its row; it is refused. Migration 9 re-seals old values when the store is first opened with its key ` +
          '(this one was damaged then, or put into the file afterwards, e.g. from an old backup); remove the attendee and sync again, or restore a backup taken after the upgrade',
      );
    }
    if (format !== SEALED) throw new StoreError(`${where(at)}: the stored value has an unknown format; the database is damaged: restore a backup or remove the attendee and sync again`);
    return this.decrypt(stored, aadOf(at), () => `${where(at)} failed its integrity check: it was altered, or moved from another row or column; the database was tampered with or damaged. Restore a backup, or remove the attendee and sync again`);
  }

  /**
   * A value sealed before schema 9 (0x01, no associated data): for migration 9 only,
   * which re-seals it bound. Throws on any other format.
   */
  openUnbound(stored: Buffer, at: RowBinding): Buffer {
    if (stored[0] !== SEALED_UNBOUND) throw new StoreError(`${where(at)}: not a value in the old sealed format`);
    if (!this.key) throw new StoreError('the database holds encrypted data but no key is configured; set store.keyFile or GATE_AGENT_STORE_KEY');
    return this.decrypt(stored, null, () => `${where(at)} failed its integrity check; the database was altered or damaged`);
  }

  private nextIv(): Buffer {
    if (this.ivAt + 12 > this.ivs.length) {
      this.ivs = randomBytes(12 * IVS_PER_DRAW);
      this.ivAt = 0;
    }
    this.ivAt += 12;
    return this.ivs.subarray(this.ivAt - 12, this.ivAt);
  }

  private decrypt(stored: Buffer, aad: Buffer | null, damaged: () => string): Buffer {
    if (!this.key || !this.id) throw new StoreError('no store key is configured');
    if (stored.length < 33) throw new StoreError(damaged());
    if (!stored.subarray(1, 5).equals(this.id)) throw new StoreError('the database was encrypted with a different key; configure the key it was written with');
    const d = createDecipheriv('aes-256-gcm', this.key, stored.subarray(5, 17));
    if (aad) d.setAAD(aad);
    d.setAuthTag(stored.subarray(17, 33));
    try {
      const head = d.update(stored.subarray(33));
      // GCM's final() checks the tag and returns nothing more: no second copy of the value.
      const tail = d.final();
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      throw new StoreError(damaged());
    }
  }

  sealJson(v: unknown, at: RowBinding): Buffer {
    return this.seal(Buffer.from(JSON.stringify(v)), at);
  }

  openJson<T>(stored: Buffer, at: RowBinding): T {
    return JSON.parse(this.open(stored, at).toString('utf8')) as T;
  }

  sealVector(v: Float32Array, at: RowBinding): Buffer {
    return this.seal(Buffer.from(v.buffer, v.byteOffset, v.byteLength), at);
  }

  /**
   * A vector opened into `out` (no allocation beyond the decryption's own): for loops over
   * many rows (the gallery loader). Returns false when the stored vector's length differs
   * from out's, leaving out unspecified.
   */
  openVectorInto(stored: Buffer, at: RowBinding, out: Float32Array): boolean {
    const b = this.open(stored, at);
    if (b.byteLength !== out.byteLength) return false;
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(b);
    return true;
  }

  openVector(stored: Buffer, at: RowBinding): Float32Array {
    const b = this.open(stored, at);
    // copy: the Buffer may sit at an offset not aligned to 4 bytes
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
}
