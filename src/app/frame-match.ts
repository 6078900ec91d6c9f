// The match stage of the frame loop: quality gate, evidence fused over each track's
// frames, and the gallery-aware threshold, turning one frame's faces into the policy's
// FaceInputs. Kept out of daemon.ts so the loop stays one straight line.
import type { Config } from '../config/types.js';
import { TrackFuser } from '../gate/fusion.js';
import type { FaceInput, TicketCheck } from '../gate/types.js';
import { decideMatch } from '../match/decide.js';
import type { AttendeeGallery } from '../match/gallery.js';
import { ThresholdCache, thresholdRule } from '../match/identification-config.js';
import type { EffectiveThreshold } from '../match/calibration.js';
import { qualityProblem } from '../match/quality-gate.js';
import type { Face } from '../vision/types.js';

export interface FrameMatch {
  faces: FaceInput[];
  /** The threshold this frame was decided at, for the records and the log. */
  threshold: EffectiveThreshold;
}

export class FrameMatcher {
  private readonly thresholds: ThresholdCache;
  private fuser: TrackFuser;

  constructor(private readonly config: Config) {
    this.thresholds = new ThresholdCache(thresholdRule(config), config.identification.verifyTargetFar);
    this.fuser = new TrackFuser(config.gate);
  }

  /** A new event or new gate settings: tracks start afresh, as the policy's do. */
  reset(): void {
    this.fuser = new TrackFuser(this.config.gate);
  }

  /** 1:1 against a ticket's attendee: identification.verifyTargetFar on the calibration table, never below match.threshold. */
  verifyThreshold(): number {
    return this.thresholds.verify();
  }

  /** The effective threshold for a gallery (doctor, the log). */
  thresholdFor(gallery: AttendeeGallery): EffectiveThreshold {
    return this.thresholds.forAttendees(gallery.attendeeCount);
  }

  /**
   * ticketUserId: the attendee of the valid ticket (gate.mode verify/either), null for none.
   * With one, each face is compared 1:1 with that attendee at the verify threshold; in
   * either mode a face that does not verify is still identified 1:N. In verify mode a face
   * without a ticket is not matched at all.
   */
  async match(faces: readonly Face[], gallery: AttendeeGallery, atMs: number, ticketUserId: string | null = null): Promise<FrameMatch> {
    const { quality, match, gate } = this.config;
    const threshold = this.thresholdFor(gallery);
    const problems = faces.map((f) => qualityProblem(f, quality));
    const fused = this.fuser.fuse(faces.map((f, i) => ({ box: f.box, embedding: problems[i] ? null : (f.embedding ?? null) })), atMs);
    const out: FaceInput[] = [];
    for (const [i, f] of faces.entries()) {
      const e = fused[i];
      const ticket: TicketCheck | undefined =
        gate.mode === 'identify' || (gate.mode === 'either' && ticketUserId === null)
          ? undefined
          : ticketUserId === null
            ? { kind: 'required' }
            : { kind: 'shown', userId: ticketUserId, threshold: this.verifyThreshold() };
      let m: FaceInput['match'] = null;
      // One candidate: the margin has no second attendee to apply to.
      if (e && ticket?.kind === 'shown') m = decideMatch(nonNull(gallery.verify(e.embedding, ticket.userId)), { threshold: ticket.threshold, margin: match.margin });
      // identify; either without a ticket, or whose ticket's 1:1 failed: 1:N over the event.
      if (e && gate.mode !== 'verify' && m?.decision !== 'match') m = decideMatch(await gallery.search(e.embedding, 2), { threshold: threshold.threshold, margin: match.margin });
      out.push({ box: f.box, interEyePx: f.interEyePx, yawDeg: f.yawDeg, sharpness: f.sharpness, qualityProblem: problems[i] ?? null, match: m, ...(ticket && { ticket }) });
    }
    return { faces: out, threshold };
  }
}

const nonNull = <T>(x: T | null): T[] => (x === null ? [] : [x]);
