// Which event is current: the configured one, or the cached event whose window
// (opened gate.earlyOpenMinutes early) contains now. Pure.
import type { EventRow } from '../store/attendees.js';

export function currentEvent(events: readonly EventRow[], nowMs: number, earlyOpenMs: number): EventRow | null {
  const open = events.filter((e) => (e.startsAt === null || e.startsAt - earlyOpenMs <= nowMs) && (e.endsAt === null || nowMs <= e.endsAt));
  // The one ending soonest: a short session inside a long festival takes precedence.
  open.sort((a, b) => (a.endsAt ?? Infinity) - (b.endsAt ?? Infinity));
  return open[0] ?? null;
}
