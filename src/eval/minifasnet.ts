// A plain MiniFASNet liveness scorer for `eval pad`, written to the contract in
// shared/models/MODELS.md and Silent-Face-Anti-Spoofing's reference test.py.
//
// TO BE REPLACED by the gate's LivenessCheck (src/gate/liveness.ts) once it lands: `eval
// pad` only needs a PadScorer, so the gate's own check (and its config, liveness.*) can
// take this one's place and the evaluation then measures exactly what the gate runs.
import sharp from 'sharp';
import type { Config } from '../config/types.js';
import { locateModel, modelById } from '../models/manifest.js';
import { createSession, ort } from '../vision/ort.js';
import type { Detection, RgbImage } from '../vision/types.js';

/** What `eval pad` needs of a liveness check: the probability that a face is live (bona fide). */
export interface PadScorer {
  start(): Promise<void>;
  scoreFace(img: RgbImage, face: Detection): Promise<number>;
  stop(): Promise<void>;
}

export const MINIFASNET_MODELS = ['minifasnet_v2_2.7', 'minifasnet_v1se_4.0'] as const;
const INPUT_PX = 80;
const LIVE_CLASS = 1;

/**
 * The reference's crop (generate_patches.py, CropImage._get_new_box): the face box scaled
 * by `scale` around its centre, the scale first lowered so the box fits in the image,
 * then shifted to stay inside; corners truncated to integers and inclusive (pure).
 */
export function livenessCropBox(box: readonly [number, number, number, number], width: number, height: number, scale: number): { left: number; top: number; width: number; height: number } {
  const boxW = box[2] - box[0];
  const boxH = box[3] - box[1];
  const s = Math.min((height - 1) / boxH, (width - 1) / boxW, scale);
  const w = boxW * s;
  const h = boxH * s;
  const cx = box[0] + boxW / 2;
  const cy = box[1] + boxH / 2;
  let x0 = cx - w / 2, y0 = cy - h / 2, x1 = cx + w / 2, y1 = cy + h / 2;
  if (x0 < 0) [x1, x0] = [x1 - x0, 0];
  if (y0 < 0) [y1, y0] = [y1 - y0, 0];
  if (x1 > width - 1) [x0, x1] = [x0 - (x1 - width + 1), width - 1];
  if (y1 > height - 1) [y0, y1] = [y0 - (y1 - height + 1), height - 1];
  const left = Math.trunc(x0), top = Math.trunc(y0);
  return { left, top, width: Math.trunc(x1) - left + 1, height: Math.trunc(y1) - top + 1 };
}

/** Softmax of one row of logits (pure). */
export function softmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** 80x80 crop as the model wants it: BGR planes, raw 0..255, no mean or std. */
async function cropTensor(img: RgbImage, face: Detection, scale: number): Promise<Float32Array> {
  const c = livenessCropBox(face.box, img.width, img.height, scale);
  const rgb = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract(c)
    .resize(INPUT_PX, INPUT_PX, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  const plane = INPUT_PX * INPUT_PX;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = rgb[i * 3 + 2]!;
    out[i + plane] = rgb[i * 3 + 1]!;
    out[i + 2 * plane] = rgb[i * 3]!;
  }
  return out;
}

/** Both MiniFASNet models; the live probability is the mean of their class-1 softmax. */
export class MiniFasNetScorer implements PadScorer {
  private sessions: { session: ort.InferenceSession; scale: number; input: string }[] = [];

  constructor(
    private readonly modelsDir: string,
    private readonly config: Pick<Config, 'models'>,
  ) {}

  async start(): Promise<void> {
    for (const id of MINIFASNET_MODELS) {
      const m = modelById(id, 'liveness');
      const path = await locateModel(this.modelsDir, m, this.config.models.verifyHashes);
      const session = await createSession(path, { threads: this.config.models.threads });
      this.sessions.push({ session, scale: m.input.cropScale ?? 1, input: session.inputNames[0] ?? m.input.name });
    }
  }

  async scoreFace(img: RgbImage, face: Detection): Promise<number> {
    let live = 0;
    for (const s of this.sessions) {
      const t = new ort.Tensor('float32', await cropTensor(img, face, s.scale), [1, 3, INPUT_PX, INPUT_PX]);
      const out = await s.session.run({ [s.input]: t });
      const logits = out[s.session.outputNames[0]!]!.data as Float32Array;
      live += softmax(logits)[LIVE_CLASS]!;
    }
    return live / this.sessions.length;
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) await s.session.release();
    this.sessions = [];
  }
}

/** The pass mark for "live": liveness.threshold when the config has one, else 0.5. */
export function livenessThreshold(config: unknown): number {
  const t = (config as { liveness?: { threshold?: unknown } }).liveness?.threshold;
  return typeof t === 'number' && t >= 0 && t <= 1 ? t : 0.5;
}
