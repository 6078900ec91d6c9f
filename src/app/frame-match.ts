// The match stage of the frame loop: evidence fused over each track's frames, then the
// Recognizer's rules (match/match-rules.ts: quality gate, gallery-aware threshold, a
// ticket's 1:1 verify threshold, margin), turning one frame's faces into the policy's
// FaceInputs. The identity endpoint decides its stills by the same rules object.
import type { Config } from '../config/types.js';
import { TrackFuser } from '../gate/fusion.js';
import type { FaceInput, TicketCheck } from '../gate/types.js';
import type { AttendeeGallery } from '../match/gallery.js';
import type { EffectiveThreshold } from '../match/calibration.js';
import type { MatchRules } from '../match/match-rules.js';
import type { Face } from '../vision/types.js';

export interface FrameMatch {
  faces: FaceInput[];
  /** The threshold this frame was decided at, for the records and the log. */
  threshold: EffectiveThreshold;
}

export class FrameMatcher {
  private fuser: TrackFuser;

  constructor(
    private readonly config: Pick<Config, 'gate'>,
    /** The Recognizer's rules (rec.recognizer.rules): the gate matches as the identity endpoint does. */
    private readonly rules: MatchRules,
  ) {
    this.fuser = new TrackFuser(config.gate);
  }

  /** A new event or new gate settings: tracks start afresh, as the policy's do. */
  reset(): void {
    this.fuser = new TrackFuser(this.config.gate);
  }

  verifyThreshold(): number {
    return this.rules.verifyThreshold();
  }

  /** The effective threshold for a gallery (status, the log). */
  thresholdFor(gallery: AttendeeGallery): EffectiveThreshold {
    return this.rules.thresholdFor(gallery.attendeeCount);
  }

  /**
   * ticketUserId: the attendee of the valid ticket (gate.mode verify/either), null for none.
   * With one, each face is compared 1:1 with that attendee at the verify threshold; in
   * either mode a face that does not verify is still identified 1:N. In verify mode a face
   * without a ticket is not matched at all.
   */
  async match(faces: readonly Face[], gallery: AttendeeGallery, atMs: number, ticketUserId: string | null = null): Promise<FrameMatch> {
    const { gate } = this.config;
    const threshold = this.thresholdFor(gallery);
    const problems = faces.map((f) => this.rules.qualityProblem(f));
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
      if (e && ticket?.kind === 'shown') m = this.rules.verifyIn(gallery, e.embedding, ticket.userId);
      // identify; either without a ticket, or whose ticket's 1:1 failed: 1:N over the event.
      if (e && gate.mode !== 'verify' && m?.decision !== 'match') m = await this.rules.identifyIn(gallery, e.embedding);
      out.push({ box: f.box, interEyePx: f.interEyePx, yawDeg: f.yawDeg, sharpness: f.sharpness, qualityProblem: problems[i] ?? null, match: m, ...(ticket && { ticket }) });
    }
    return { faces: out, threshold };
  }
}
