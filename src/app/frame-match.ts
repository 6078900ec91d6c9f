// The match stage of the frame loop: quality gate, evidence fused over each track's
// frames, and the gallery-aware threshold, turning one frame's faces into the policy's
// FaceInputs. Kept out of daemon.ts so the loop stays one straight line.
import type { Config } from '../config/types.js';
import { TrackFuser } from '../gate/fusion.js';
import type { FaceInput } from '../gate/types.js';
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

  /** The effective threshold for a gallery (doctor, the log). */
  thresholdFor(gallery: AttendeeGallery): EffectiveThreshold {
    return this.thresholds.forAttendees(gallery.attendeeCount);
  }

  async match(faces: readonly Face[], gallery: AttendeeGallery, atMs: number): Promise<FrameMatch> {
    const { quality, match } = this.config;
    const threshold = this.thresholdFor(gallery);
    const problems = faces.map((f) => qualityProblem(f, quality));
    const fused = this.fuser.fuse(faces.map((f, i) => ({ box: f.box, embedding: problems[i] ? null : (f.embedding ?? null) })), atMs);
    const out: FaceInput[] = [];
    for (const [i, f] of faces.entries()) {
      const e = fused[i];
      const m = e ? decideMatch(await gallery.search(e.embedding, 2), { threshold: threshold.threshold, margin: match.margin }) : null;
      out.push({ box: f.box, interEyePx: f.interEyePx, yawDeg: f.yawDeg, sharpness: f.sharpness, qualityProblem: problems[i] ?? null, match: m });
    }
    return { faces: out, threshold };
  }
}
