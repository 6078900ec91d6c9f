// Opening the attendee store the way every command and the daemon do.
import type { Database } from 'better-sqlite3';
import type { Config } from '../config/types.js';
import { AttendeeStore } from './attendees.js';
import { FieldCipher, loadKey } from './crypto.js';
import { openDatabase } from './db.js';
import { OUTBOX_PAYLOAD } from './sealed-columns.js';

/**
 * Opening never deletes anything: purging ended events is an explicit act (the daemon's
 * housekeeping, `gate-agent attendees purge`), so a read-only command never loses data.
 */
export function openStore(config: Config, dataDir: string, env: NodeJS.ProcessEnv = process.env): AttendeeStore {
  const cipher = configuredCipher(config, env);
  return new AttendeeStore(openStoreDatabase(config, dataDir, env, cipher), cipher);
}

/** The cipher of the configured store key (store.keyFile or GATE_AGENT_STORE_KEY); a pass-through one when none is set. */
export function configuredCipher(config: Config, env: NodeJS.ProcessEnv = process.env): FieldCipher {
  return new FieldCipher(loadKey(config.store.keyFile, env.GATE_AGENT_STORE_KEY));
}

/**
 * The store's database alone (API keys, the audit log), opened with the configured key all
 * the same: opening may run migration 9, which re-seals values written before it and must
 * know whether a key is set (without it, plaintext values would be left unsealed and then
 * refused by a keyed gate).
 */
export function openStoreDatabase(config: Config, dataDir: string, env: NodeJS.ProcessEnv = process.env, cipher = configuredCipher(config, env)): Database {
  return openDatabase(dataDir, { cipher });
}

/**
 * The outbox's sealer when the store encrypts: queued results carry the attendee's
 * session, KYC data included, so they are sealed like the attendees table.
 */
export function sealerOf(store: AttendeeStore): { sealer?: { seal(b: Buffer): Buffer; open(b: Buffer): Buffer } } {
  return store.cipher.encrypting ? { sealer: { seal: (b) => store.cipher.seal(b, OUTBOX_PAYLOAD), open: (b) => store.cipher.open(b, OUTBOX_PAYLOAD) } } : {};
}
