// Where a liveness (anti-spoofing) check plugs in. The daemon runs the check, if
// one is configured, and puts its result on the face (FaceInput.liveness); the
// gate policy never calls it, so the decision code is the same with or without one.
import type { Face, RgbImage } from '../vision/types.js';

export interface LivenessResult {
  /** The checker's verdict at its own threshold. */
  live: boolean;
  /** The checker's score, for audit and tuning; higher = more likely live. */
  score: number;
}

/** What a checker may look at besides the face itself. */
export interface LivenessFrameContext {
  /** Capture time of the frame, epoch ms. */
  atMs: number;
  /** The whole frame, for checkers that look beyond the face box. */
  image: RgbImage;
}

export interface LivenessCheck {
  check(frame: LivenessFrameContext, face: Face): Promise<LivenessResult> | LivenessResult;
}
