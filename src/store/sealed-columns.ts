// The sealed columns and the row identity each value is bound to (FieldCipher's
// associated data). Readers and writers of these columns, the gallery loader's worker
// threads included, build a value's binding here, so all of them bind the same way.
import type { RowBinding } from './crypto.js';

/** An attendee's KYC steps: one per attendee of an event. */
export const kycAt = (eventId: string, userId: string): RowBinding => ({ table: 'attendees', column: 'kyc', row: [eventId, userId] });

/** An embedding: its id, whose it is and which model made it (a vector moved to another attendee or model is refused). */
export const vectorAt = (id: number, eventId: string, userId: string, modelId: string): RowBinding => ({
  table: 'embeddings',
  column: 'vector',
  row: [id, eventId, userId, modelId],
});

/** A kept enrollment photo. */
export const photoAt = (id: number, eventId: string, userId: string): RowBinding => ({ table: 'photos', column: 'image', row: [id, eventId, userId] });

/**
 * A queued result. The outbox (publish/) seals a payload before its row exists, so the
 * binding is the column only: a payload cannot be moved into another column or table,
 * nor another column's value into the outbox.
 */
export const OUTBOX_PAYLOAD: RowBinding = { table: 'outbox', column: 'payload', row: [] };
