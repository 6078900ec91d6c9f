// The ticket a person showed the camera (pure): a QR code names an attendee for
// gate.ticketWindowMs on the monotonic clock; the faces seen meanwhile are compared with
// that attendee only. A grant uses the ticket up, so one ticket lets one person in.
import type { FrameTimings, GateDecision } from './types.js';

/** The attendee the ticket names, while it is valid. */
export interface ActiveTicket {
  qrId: string;
  userId: string;
}

/** What showing a QR code did: a new or renewed ticket, or a code no attendee of the event holds. */
export type TicketScan = { kind: 'ticket'; userId: string; fresh: boolean } | { kind: 'unknown'; report: boolean };

export class TicketWindow {
  private active: (ActiveTicket & { seenMonoMs: number }) | null = null;
  /** Unknown codes reported, and when: each is reported once per window, not once per frame. */
  private readonly unknownReported = new Map<string, number>();

  constructor(private readonly windowMs: number) {
    if (!(Number.isFinite(windowMs) && windowMs > 0)) throw new RangeError(`ticket window ${String(windowMs)}: must be a positive number of ms`);
  }

  /**
   * A QR code seen at monoMs; userId is the event's attendee holding it, or null. A known code
   * replaces the current ticket (the newest ticket shown wins); an unknown one leaves it.
   */
  show(qrId: string, userId: string | null, monoMs: number): TicketScan {
    if (userId === null) {
      for (const [k, at] of this.unknownReported) if (monoMs - at >= this.windowMs) this.unknownReported.delete(k);
      const report = !this.unknownReported.has(qrId);
      if (report) this.unknownReported.set(qrId, monoMs);
      return { kind: 'unknown', report };
    }
    const fresh = this.current(monoMs)?.qrId !== qrId;
    this.active = { qrId, userId, seenMonoMs: monoMs };
    return { kind: 'ticket', userId, fresh };
  }

  /** The ticket valid at monoMs: seen less than windowMs ago and not used up. */
  current(monoMs: number): ActiveTicket | null {
    const a = this.active;
    if (!a || monoMs - a.seenMonoMs >= this.windowMs || monoMs < a.seenMonoMs) return null;
    return { qrId: a.qrId, userId: a.userId };
  }

  /** The attendee went in: their ticket is used up (showing it again starts a new window). */
  consume(userId: string): void {
    if (this.active?.userId === userId) this.active = null;
  }
}

/** The report of a QR code no attendee of the event holds: a deny about no one, on no track (trackId 0). */
export function unknownTicketDecision(atMs: number, timings: FrameTimings): GateDecision {
  return {
    kind: 'deny',
    reason: 'unknown_ticket',
    trackId: 0,
    userId: null,
    similarity: null,
    nearest: null,
    votes: 0,
    liveness: null,
    frames: 1,
    atMs,
    decidedAtMs: atMs,
    timings: { ...timings, decideMs: 0 },
    detail: 'the QR code shown is not the ticket of an attendee of this event',
  };
}
