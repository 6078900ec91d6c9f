// Opening the attendee store the way every command and the daemon do.
import type { Config } from '../config/types.js';
import { AttendeeStore } from './attendees.js';
import { FieldCipher, loadKey } from './crypto.js';
import { openDatabase } from './db.js';

/**
 * Opening never deletes anything: purging ended events is an explicit act (the daemon's
 * housekeeping, `gate-agent attendees purge`), so a read-only command never loses data.
 */
export function openStore(config: Config, dataDir: string, env: NodeJS.ProcessEnv = process.env): AttendeeStore {
  const key = loadKey(config.store.keyFile, env.GATE_AGENT_STORE_KEY);
  return new AttendeeStore(openDatabase(dataDir), new FieldCipher(key));
}

/**
 * The outbox's sealer when the store encrypts: queued results carry the attendee's
 * session, KYC data included, so they are sealed like the attendees table.
 */
export function sealerOf(store: AttendeeStore): { sealer?: { seal(b: Buffer): Buffer; open(b: Buffer): Buffer } } {
  return store.cipher.encrypting ? { sealer: { seal: (b) => store.cipher.seal(b), open: (b) => store.cipher.open(b) } } : {};
}
