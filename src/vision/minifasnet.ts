// MiniFASNet passive liveness (Silent-Face-Anti-Spoofing) over onnxruntime, exactly
// as shared/models/MODELS.md and the reference (src/anti_spoof_predict.py,
// src/generate_patches.py) run it: per model, the face box scaled around its centre,
// shifted to stay inside the image, cut out and resized to 80x80 with OpenCV's
// INTER_LINEAR rule, fed as BGR 0..255 without mean/std; softmax per model, the
// softmaxes summed, class 1 = live. The crop and resize are pure and tested directly.
import { createSession, ort } from '../models/ort.js';
import type { Lane } from './lanes.js';
import type { Detection, RgbImage } from './types.js';

/** One liveness model: its file, the scale of its crop around the face box, and its input side. */
export interface MiniFasnetModel {
  path: string;
  cropScale: number;
  sizePx: number;
}

/** Inclusive pixel rectangle [x1, y1, x2, y2], as the reference's _get_new_box returns it. */
export type PixelRect = [number, number, number, number];

/**
 * The reference's crop for `box` ([x1, y1, x2, y2]) at `scale`: the scale is first
 * lowered so the scaled box fits in the image, then the box is centred on the face and
 * shifted back inside the image; coordinates are truncated to integers like its int().
 */
export function livenessCropRect(box: Detection['box'], width: number, height: number, scale: number): PixelRect {
  const boxW = Math.max(1, box[2] - box[0]);
  const boxH = Math.max(1, box[3] - box[1]);
  const s = Math.min((height - 1) / boxH, (width - 1) / boxW, scale);
  const newW = boxW * s;
  const newH = boxH * s;
  const cx = box[0] + boxW / 2;
  const cy = box[1] + boxH / 2;
  let x1 = cx - newW / 2, y1 = cy - newH / 2, x2 = cx + newW / 2, y2 = cy + newH / 2;
  if (x1 < 0) { x2 -= x1; x1 = 0; }
  if (y1 < 0) { y2 -= y1; y1 = 0; }
  if (x2 > width - 1) { x1 -= x2 - width + 1; x2 = width - 1; }
  if (y2 > height - 1) { y1 -= y2 - height + 1; y2 = height - 1; }
  return [Math.trunc(x1), Math.trunc(y1), Math.trunc(x2), Math.trunc(y2)];
}

/**
 * Cut `rect` (inclusive) out of the RGB image, resize it to size x size the way
 * cv2.resize(INTER_LINEAR) does (pixel centres aligned, edge pixels repeated, results
 * rounded to 8 bits) and write it as planar BGR 0..255 at out[offset..offset+3*size*size).
 */
export function cropToBgrTensor(img: RgbImage, rect: PixelRect, size: number, out: Float32Array, offset = 0): void {
  const x0 = Math.max(0, rect[0]), y0 = Math.max(0, rect[1]);
  const w = Math.max(1, Math.min(img.width - 1, rect[2]) - x0 + 1);
  const h = Math.max(1, Math.min(img.height - 1, rect[3]) - y0 + 1);
  const sx = w / size, sy = h / size;
  const plane = size * size;
  const { data, width } = img;
  const xs = new Int32Array(size * 2);
  const fxs = new Float32Array(size);
  for (let u = 0; u < size; u++) {
    let fx = (u + 0.5) * sx - 0.5;
    let ix = Math.floor(fx);
    fx -= ix;
    if (ix < 0) { ix = 0; fx = 0; }
    if (ix >= w - 1) { ix = w - 1; fx = 0; }
    xs[2 * u] = (x0 + ix) * 3;
    xs[2 * u + 1] = (x0 + Math.min(ix + 1, w - 1)) * 3;
    fxs[u] = fx;
  }
  for (let v = 0; v < size; v++) {
    let fy = (v + 0.5) * sy - 0.5;
    let iy = Math.floor(fy);
    fy -= iy;
    if (iy < 0) { iy = 0; fy = 0; }
    if (iy >= h - 1) { iy = h - 1; fy = 0; }
    const r0 = (y0 + iy) * width * 3;
    const r1 = (y0 + Math.min(iy + 1, h - 1)) * width * 3;
    for (let u = 0; u < size; u++) {
      const fx = fxs[u]!, a = xs[2 * u]!, b = xs[2 * u + 1]!;
      const o = offset + v * size + u;
      for (let c = 0; c < 3; c++) {
        const top = data[r0 + a + c]! * (1 - fx) + data[r0 + b + c]! * fx;
        const bottom = data[r1 + a + c]! * (1 - fx) + data[r1 + b + c]! * fx;
        // RGB in, BGR planes out: channel c goes to plane 2 - c.
        out[o + (2 - c) * plane] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
}

export function softmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Index of the live class in the models' output. */
export const LIVE_CLASS = 1;

/** Scores a face box for liveness: MiniFasnet here, or the same models in the inference worker. */
export interface LivenessScorer {
  start(): Promise<void>;
  /** Probability (0..1) that the face in `box` is live; `lane` orders the work in the inference worker. */
  score(img: RgbImage, box: Detection['box'], lane?: Lane): Promise<number>;
  stop(): Promise<void>;
}

export class MiniFasnet implements LivenessScorer {
  private sessions: { session: ort.InferenceSession; input: string; output: string; model: MiniFasnetModel }[] = [];

  constructor(
    private readonly models: readonly MiniFasnetModel[],
    private readonly threads: number,
  ) {}

  async start(): Promise<void> {
    for (const model of this.models) {
      const session = await createSession(model.path, { threads: this.threads });
      this.sessions.push({ session, input: session.inputNames[0] ?? 'input', output: session.outputNames[0] ?? 'output', model });
    }
  }

  /**
   * Probability that the face in `box` is live, 0..1: the reference's summed softmax of
   * the models' live class, divided by the number of models.
   */
  async score(img: RgbImage, box: Detection['box']): Promise<number> {
    if (this.sessions.length === 0) throw new Error('liveness models used before start()');
    let live = 0;
    for (const { session, input, output, model } of this.sessions) {
      const n = model.sizePx;
      const tensor = new Float32Array(3 * n * n);
      cropToBgrTensor(img, livenessCropRect(box, img.width, img.height, model.cropScale), n, tensor);
      const res = await session.run({ [input]: new ort.Tensor('float32', tensor, [1, 3, n, n]) });
      live += softmax(res[output]!.data as Float32Array)[LIVE_CLASS] ?? 0;
    }
    return live / this.sessions.length;
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) await s.session.release();
    this.sessions = [];
  }
}
