// The liveness (anti-spoofing) check and how its scores become a verdict. The daemon
// scores faces and puts the score on the face (FaceInput.liveness); the gate policy
// fuses the scores of a track's last frames (fuseLiveness) and decides on that, never
// on one frame. `gate-agent eval pad` and the identity endpoint use the same pieces:
// createLivenessCheck(...).scoreFace(image, face) per face, scoreTrack(scores) per track.
import type { SchemaNode } from '../config/schema.js';
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

export type LivenessMode = 'off' | 'advisory' | 'required';

/** The `liveness` section of the config. */
export interface LivenessOptions {
  /** off: not run; advisory: scored and recorded, never denies; required: a track below the threshold is denied. */
  mode: LivenessMode;
  /** A track is live when the mean score of its last `frames` scored frames is at least this. */
  threshold: number;
  /** Scored frames of a track the verdict is taken over. */
  frames: number;
  /** Liveness model ids from models/manifest.json; their softmaxes are averaged. */
  models: string[];
}

export const livenessDefaults: Readonly<LivenessOptions> = Object.freeze({
  mode: 'advisory',
  threshold: 0.9,
  frames: 5,
  models: ['minifasnet_v2_2.7', 'minifasnet_v1se_4.0'],
});

const LIVENESS_MODEL_IDS = ['minifasnet_v2_2.7', 'minifasnet_v1se_4.0'];

export const livenessSchema: SchemaNode = {
  type: 'object',
  description: 'Passive liveness (anti-spoofing) with the MiniFASNet models: is the face in front of the camera a person, or a photo or screen? (docs/gate.md, docs/accuracy.md)',
  additionalProperties: false,
  default: {},
  properties: {
    mode: { type: 'string', enum: ['off', 'advisory', 'required'], description: 'off: not run. advisory: matched faces are scored and the track\'s score is recorded with every decision, but never denies. required: a track whose score is below threshold is denied with liveness_failed.', default: livenessDefaults.mode, examples: ['required'] },
    threshold: { type: 'number', description: 'Probability of a live face (0..1) the mean score of a track\'s last `frames` scored frames must reach.', default: livenessDefaults.threshold, minimum: 0, maximum: 1, examples: [0.9] },
    frames: { type: 'integer', description: 'Scored frames of a track the verdict is taken over; with `required` a track waits for this many matched frames before it can open the door.', default: livenessDefaults.frames, minimum: 1, maximum: 30, examples: [5] },
    models: { type: 'array', items: { type: 'string', enum: LIVENESS_MODEL_IDS }, description: 'Liveness model ids from models/manifest.json; the reference averages the softmax of both.', default: [...livenessDefaults.models], examples: [[...livenessDefaults.models]] },
  },
};

/** What the schema cannot say, as `path: value: what is wrong, how to fix`. */
export function livenessProblems(o: LivenessOptions, path = 'liveness'): string[] {
  const problems: string[] = [];
  if (!['off', 'advisory', 'required'].includes(o.mode)) problems.push(`${path}.mode: ${JSON.stringify(o.mode)}: must be off, advisory or required`);
  if (!(o.threshold >= 0 && o.threshold <= 1)) problems.push(`${path}.threshold: ${String(o.threshold)}: must be between 0 and 1 (example: 0.9)`);
  if (!(Number.isInteger(o.frames) && o.frames >= 1)) problems.push(`${path}.frames: ${String(o.frames)}: must be a whole number of at least 1 (example: 5)`);
  if (o.mode !== 'off' && o.models.length === 0) problems.push(`${path}.models: []: at least one model is needed when mode is ${o.mode}; list ${LIVENESS_MODEL_IDS.join(' and ')}`);
  return problems;
}

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
  const problems = livenessProblems(options);
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
  const problems = livenessProblems(options);
  if (problems.length) throw new RangeError(`liveness: ${problems.join('; ')}`);
  const net = scorer ?? new MiniFasnet(await livenessModels(modelsDir, options, runtime.verifyHashes), runtime.threads);
  return new MiniFasnetLivenessCheck(net, { ...options, models: [...options.models] });
}
