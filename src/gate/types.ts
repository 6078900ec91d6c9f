// Shapes the gate policy takes in and hands out. Times are epoch milliseconds
// (Date.now() scale): the event window and the persisted anti-passback entries
// are wall-clock times, so frame times must be too.
import type { MatchResult } from '../match/decide.js';
import type { Detection } from '../vision/types.js';
import type { LivenessResult } from './liveness.js';

export type Box = Detection['box'];

/** Per-stage durations of the frame, passed through to every decision it leads to. */
export interface FrameTimings {
  /** Image decoding, when the frame arrived encoded. */
  decodeMs?: number;
  detectMs: number;
  alignMs: number;
  embedMs: number;
  matchMs: number;
  /** Liveness scoring of the frame's matched faces, when liveness is on. */
  livenessMs?: number;
  /** Looking for a ticket QR code in the frame (gate.mode verify/either). */
  qrMs?: number;
}

export interface DecisionTimings extends FrameTimings {
  /** Time spent in the policy call that produced the decision. */
  decideMs: number;
}

/** One candidate face of a frame, as the daemon saw it. */
export interface FaceInput {
  box: Box;
  interEyePx: number;
  yawDeg: number;
  sharpness: number;
  /** qualityProblem() of the face; a face with a problem never votes. */
  qualityProblem: string | null;
  /** The gallery's answer; null when the face was not embedded or matched. */
  match: MatchResult | null;
  /** The liveness check's result; absent when the face was not checked (only matched faces are). */
  liveness?: LivenessResult;
  /** gate.mode verify/either: the ticket the face was compared with; absent in identify mode. */
  ticket?: TicketCheck;
}

/**
 * shown: `match` is the 1:1 comparison with the ticket's attendee at `threshold` (in
 * either mode, the 1:N result when that comparison failed); required: verify mode and
 * no valid ticket, so the face was not matched at all.
 */
export type TicketCheck = { kind: 'shown'; userId: string; threshold: number } | { kind: 'required' };

export interface FrameInput {
  /** Capture time of the frame, epoch ms: for the event window and the records. */
  atMs: number;
  /**
   * The same instant on a monotonic clock (ms): track lifetime, cooldown and anti-passback
   * are measured on it, so a wall-clock step (NTP after boot on a Pi without RTC) changes
   * none of them. Absent: atMs serves for both.
   */
  monoMs?: number;
  faces: readonly FaceInput[];
  timings: FrameTimings;
}

/** The event's entry window, epoch ms; null on either side = open on that side. */
export interface GateEvent {
  startsAt: number | null;
  endsAt: number | null;
}

export type GateReason =
  | 'granted'
  | 'unknown_face'
  | 'below_margin'
  | 'outside_window'
  | 'anti_passback'
  | 'low_quality'
  | 'liveness_failed'
  /** gate.mode verify: a usable face and no valid ticket shown. */
  | 'ticket_required'
  /** A ticket was shown and the face is not its attendee's (userId: the ticket's attendee). */
  | 'ticket_face_mismatch'
  /** A QR code that no attendee of the event holds (set by the daemon; no track). */
  | 'unknown_ticket'
  /** Set by the daemon, not the policy: the attendee was deleted between match and grant. */
  | 'attendee_removed'
  /** Set by the daemon: a grant decided while the gate was shutting down is not acted on. */
  | 'gate_stopping'
  /** fleet.offline deny-repeat: the gate cannot hear the site's other gates and the attendee already has an entry (docs/fleet.md). */
  | 'peers_unreachable';

export interface GateCandidate {
  userId: string;
  similarity: number;
}

export interface GateDecision {
  /** Only 'grant' opens the relay. */
  kind: 'grant' | 'deny';
  reason: GateReason;
  /** Unique within one GatePolicy's lifetime; 0 for a decision about no track (unknown_ticket). */
  trackId: number;
  /** The attendee the decision is about; null for unknown_face, below_margin, low_quality. */
  userId: string | null;
  /** Best similarity of userId's votes; for unknown faces the best similarity seen (tuning only). */
  similarity: number | null;
  /** The closest attendee seen on the track, for audit and tuning; never an identification. */
  nearest: GateCandidate | null;
  /** Votes for userId among the last votesWindow frames of the track (0 when userId is null). */
  votes: number;
  /** The track's fused liveness (mean score over its last `frames` scored frames); null when liveness is off or nothing was scored. */
  liveness: { score: number; frames: number } | null;
  /** Frames the track had when the decision was made. */
  frames: number;
  /** Capture time of the frame that decided (for expiry reports: the track's last frame). */
  atMs: number;
  /** The time the policy was called with (onFrame's nowMs or tick's nowMs). */
  decidedAtMs: number;
  timings: DecisionTimings;
  /** A sentence for people: the quality problem, the liveness score, the window or last entry. */
  detail: string | null;
  /** The threshold behind the decision when it was not the frame's 1:N one: a ticket's 1:1 verify threshold. */
  threshold?: number;
}
