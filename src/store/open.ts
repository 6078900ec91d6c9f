// Opening the attendee store the way every command and the daemon do.
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
  const key = loadKey(config.store.keyFile, env.GATE_AGENT_STORE_KEY);
  const cipher = new FieldCipher(key);
  // With the cipher, migration 9 can re-seal values written before it (see migrations.ts).
  return new AttendeeStore(openDatabase(dataDir, { cipher }), cipher);
}

/**
 * The outbox's sealer when the store encrypts: queued results carry the attendee's
 * session, KYC data included, so they are sealed like the attendees table.
 */
export function sealerOf(store: AttendeeStore): { sealer?: { seal(b: Buffer): Buffer; open(b: Buffer): Buffer } } {
  return store.cipher.encrypting ? { sealer: { seal: (b) => store.cipher.seal(b, OUTBOX_PAYLOAD), open: (b) => store.cipher.open(b, OUTBOX_PAYLOAD) } } : {};
}
