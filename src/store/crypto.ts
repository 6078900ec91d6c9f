// AES-256-GCM for the sensitive columns (embeddings, KYC, kept photos). The key is
// never stored in the database: it comes from a key file or an environment variable.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { logger } from '../log.js';

export class StoreError extends Error {
  override name = 'StoreError';
}

const PLAIN = 0x00;
const SEALED = 0x01;

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
 * Seals and opens column values. Layout: 0x00 | plain, or
 * 0x01 | key id (4) | iv (12) | tag (16) | ciphertext. The key id lets a wrong key
 * be reported as such instead of as corrupt data.
 */
export class FieldCipher {
  private readonly id: Buffer | null;
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

  seal(plain: Buffer): Buffer {
    if (!this.key || !this.id) return Buffer.concat([Buffer.from([PLAIN]), plain]);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([Buffer.from([SEALED]), this.id, iv, c.getAuthTag(), ct]);
  }

  open(stored: Buffer): Buffer {
    if (stored[0] === PLAIN) return stored.subarray(1);
    if (stored[0] !== SEALED) throw new StoreError('stored value has an unknown format; the database is damaged');
    if (!this.key || !this.id) throw new StoreError('the database holds encrypted data but no key is configured; set store.keyFile or GATE_AGENT_STORE_KEY');
    if (!stored.subarray(1, 5).equals(this.id)) throw new StoreError('the database was encrypted with a different key; configure the key it was written with');
    const d = createDecipheriv('aes-256-gcm', this.key, stored.subarray(5, 17));
    d.setAuthTag(stored.subarray(17, 33));
    try {
      return Buffer.concat([d.update(stored.subarray(33)), d.final()]);
    } catch {
      throw new StoreError('an encrypted value failed its integrity check; the database was altered or damaged');
    }
  }

  sealJson(v: unknown): Buffer {
    return this.seal(Buffer.from(JSON.stringify(v)));
  }

  openJson<T>(stored: Buffer): T {
    return JSON.parse(this.open(stored).toString('utf8')) as T;
  }

  sealVector(v: Float32Array): Buffer {
    return this.seal(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }

  openVector(stored: Buffer): Float32Array {
    const b = this.open(stored);
    // copy: the Buffer may sit at an offset not aligned to 4 bytes
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
}
