// The conflict rule (pure). Two lanes can grant the same attendee within the network
// delay: each grant was made before the other reached it. Both doors opened and both
// entries stand (each counts for anti-passback); the rule below only says, the same way
// on every gate, which one is the attendee's entry and which is the conflict.

export interface EntryRef {
  gateId: string;
  enteredAtMs: number;
  seq: number;
}

/**
 * The window within which a second grant of the same attendee should have been refused:
 * anti-passback when it is on, else the cooldown; 0 means repeats are allowed (no conflict).
 */
export function conflictWindowMs(gate: { antiPassbackMinutes: number; cooldownMs: number }): number {
  return gate.antiPassbackMinutes > 0 ? gate.antiPassbackMinutes * 60_000 : gate.cooldownMs;
}

/** Grants of one attendee by two different gates closer together than the window. */
export function isConflict(a: EntryRef, b: EntryRef, windowMs: number): boolean {
  return windowMs > 0 && a.gateId !== b.gateId && Math.abs(a.enteredAtMs - b.enteredAtMs) < windowMs;
}

/** Deterministic on every gate: the earlier grant wins; same millisecond: the smaller gateId (code-unit order), then the smaller seq. */
export function compareEntries(a: EntryRef, b: EntryRef): number {
  if (a.enteredAtMs !== b.enteredAtMs) return a.enteredAtMs - b.enteredAtMs;
  if (a.gateId !== b.gateId) return a.gateId < b.gateId ? -1 : 1;
  return a.seq - b.seq;
}

export interface Conflict<E extends EntryRef> {
  /** The attendee's entry. */
  kept: E;
  /** The other grant: it opened a door too and is recorded, marked as the conflict. */
  conflict: E;
}

/** The conflict a new entry makes with the entries already known for the same attendee (the closest one), or null. */
export function conflictOf<E extends EntryRef>(entry: E, known: readonly E[], windowMs: number): Conflict<E> | null {
  let closest: E | null = null;
  for (const k of known) {
    if (!isConflict(entry, k, windowMs)) continue;
    if (closest === null || Math.abs(k.enteredAtMs - entry.enteredAtMs) < Math.abs(closest.enteredAtMs - entry.enteredAtMs)) closest = k;
  }
  if (closest === null) return null;
  return compareEntries(entry, closest) < 0 ? { kept: entry, conflict: closest } : { kept: closest, conflict: entry };
}
