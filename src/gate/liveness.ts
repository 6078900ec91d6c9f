// The liveness (anti-spoofing) check and how its scores become a verdict. The daemon
// scores faces and puts the score on the face (FaceInput.liveness); the gate policy
// fuses the scores of a track's last frames (fuseLiveness) and decides on that, never
// on one frame. `gate-agent eval pad` and the identity endpoint use the same pieces:
// createLivenessCheck(...).scoreFace(image, face) per face, scoreTrack(scores) per track.
import { livenessDefaults, livenessOptionsProblems, type LivenessMode, type LivenessOptions } from '../config/sections/liveness.js';
import { locateModel, modelById } from '../models/manifest.js';
import type { Lane } from '../vision/lanes.js';
import { MiniFasnet, type LivenessScorer, type MiniFasnetModel } from '../vision/minifasnet.js';
import type { Face, RgbImage } from '../vision/types.js';

export interface LivenessResult {
  /** The score against the configured threshold (one frame: a hint; the gate fuses a track). */
  live: boolean;
  /** Probability that the face is live, 0..1; higher = more likely live. */
  score: number;
}

// The options are the config's `liveness` section (src/config/sections/liveness.ts).
export { livenessDefaults, type LivenessMode, type LivenessOptions };

/** A track's verdict from its scores (pure). */
export interface TrackLiveness {
  /** Mean of the last `frames` scores; null with no score at all. */
  score: number | null;
  /** Scores the mean is over (at most `frames`). */
  frames: number;
  /** At least `frames` scores were there. */
  complete: boolean;
  /** complete and score >= threshold. */
  live: boolean;
}

/**
 * The track's evidence: the mean of its last `frames` scores. A mean rather than a vote
 * or a minimum because single frames of a live face dip (blur, a turn of the head) while
 * a replayed photo stays low in every frame (docs/accuracy.md, Liveness).
 */
export function fuseLiveness(scores: readonly number[], o: Pick<LivenessOptions, 'threshold' | 'frames'>): TrackLiveness {
  const last = scores.slice(-o.frames);
  if (last.length === 0) return { score: null, frames: 0, complete: false, live: false };
  const score = last.reduce((a, b) => a + b, 0) / last.length;
  const complete = last.length >= o.frames;
  return { score, frames: last.length, complete, live: complete && score >= o.threshold };
}

/** What a checker may look at besides the face itself. */
export interface LivenessFrameContext {
  /** Capture time of the frame, epoch ms. */
  atMs: number;
  /** The whole frame: the crops reach well beyond the face box. */
  image: RgbImage;
}

export interface LivenessCheck {
  check(frame: LivenessFrameContext, face: Face): Promise<LivenessResult> | LivenessResult;
}

/** The MiniFASNet check, with the per-face and per-track scoring `eval pad` reuses. */
export class MiniFasnetLivenessCheck implements LivenessCheck {
  constructor(
    /** The models in this thread (MiniFasnet) or in the inference worker. */
    private readonly net: LivenessScorer,
    readonly options: Readonly<LivenessOptions>,
  ) {}

  start(): Promise<void> {
    return this.net.start();
  }

  stop(): Promise<void> {
    return this.net.stop();
  }

  /** Probability (0..1) that `face` in `image` is live; `lane` orders the work in the inference worker (the API passes 'api'). */
  scoreFace(image: RgbImage, face: Pick<Face, 'box'>, lane: Lane = 'background'): Promise<number> {
    return this.net.score(image, face.box, lane);
  }

  /** A track's verdict from its per-frame scores, oldest first. */
  scoreTrack(scores: readonly number[]): TrackLiveness {
    return fuseLiveness(scores, this.options);
  }

  /** The gate's per-frame check: a camera frame, first in the inference worker's queue. */
  async check(frame: LivenessFrameContext, face: Face): Promise<LivenessResult> {
    const score = await this.scoreFace(frame.image, face, 'camera');
    return { score, live: score >= this.options.threshold };
  }
}

/** The liveness model files for `options`, located (and hash-checked when `verifyHashes`) in `modelsDir`. */
export async function livenessModels(modelsDir: string, options: LivenessOptions, verifyHashes: boolean): Promise<MiniFasnetModel[]> {
  const problems = livenessOptionsProblems(options);
  if (problems.length) throw new RangeError(`liveness: ${problems.join('; ')}`);
  const models = [];
  for (const id of options.models) {
    const m = modelById(id, 'liveness');
    models.push({ path: await locateModel(modelsDir, m, verifyHashes), cropScale: m.input.cropScale ?? 1, sizePx: m.input.sizePx[0] ?? 80 });
  }
  return models;
}

/**
 * The check for `options` over the model files in `modelsDir` (hash-checked when
 * `verifyHashes`); call start() before use and stop() after. With `scorer` (the inference
 * worker's), the models run there instead of in this thread.
 */
export async function createLivenessCheck(
  modelsDir: string,
  options: LivenessOptions,
  runtime: { threads: number; verifyHashes: boolean },
  scorer?: LivenessScorer,
): Promise<MiniFasnetLivenessCheck> {
  const problems = livenessOptionsProblems(options);
  if (problems.length) throw new RangeError(`liveness: ${problems.join('; ')}`);
  const net = scorer ?? new MiniFasnet(await livenessModels(modelsDir, options, runtime.verifyHashes), runtime.threads);
  return new MiniFasnetLivenessCheck(net, { ...options, models: [...options.models] });
}
