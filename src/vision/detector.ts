// SCRFD face detector over onnxruntime.
import sharp from 'sharp';
import { createSession, ort } from '../models/ort.js';
import { decodeScrfd, finalizeDetections, letterbox, nms, type ScrfdOutputs } from './scrfd.js';
import type { Detection, RgbImage } from './types.js';

export interface FaceDetector {
  start(): Promise<void>;
  /**
   * `retryEmpty` false: one detector run, no second look with a border when nothing is
   * found. The camera loop passes it: an empty entrance is its common case, and a face that
   * fills a whole camera frame is not an approach (stills for enrollment keep the retry).
   */
  detect(img: RgbImage, opts?: { retryEmpty?: boolean }): Promise<Detection[]>;
  stop(): Promise<void>;
}

export interface ScrfdOptions {
  modelPath: string;
  /** Square network input, 320/480/640 (multiple of 32). */
  inputPx: number;
  scoreThreshold: number;
  nmsIou: number;
  /**
   * When nothing is found, look again with a border of this fraction of the image's
   * longer side on every edge. A face that fills the whole frame (a tight enrollment
   * crop) is outside what SCRFD was trained on; shrinking it inside a border lets it
   * be found (shared/models/MODELS.md). 0 disables the second look.
   */
  emptyRetryPadRatio: number;
  /**
   * An image smaller than inputPx is detected at its own size (its longer side rounded up
   * to a multiple of 32, the rest padded) instead of being enlarged to inputPx: enlarging
   * adds no detail, and the model's work grows with the square of its input side.
   */
  atImageSize: boolean;
  threads: number;
}

/** The smallest network input: SCRFD's coarsest stride is 32. */
const MIN_INPUT_PX = 64;

const MEAN = 127.5;
const STD = 128;
/** (v - mean) / std for every byte value: a table lookup is much cheaper than the division per pixel. */
const NORM = Float32Array.from({ length: 256 }, (_, v) => (v - MEAN) / STD);

export class ScrfdDetector implements FaceDetector {
  private session: ort.InferenceSession | undefined;
  private inputName = 'input.1';
  /** Output names grouped as scores, boxes, landmarks, each ordered stride 8, 16, 32. */
  private outputs: { scores: string[]; boxes: string[]; landmarks: string[] } | undefined;

  constructor(private readonly opts: ScrfdOptions) {}

  async start(): Promise<void> {
    if (this.opts.inputPx % 32 !== 0) throw new Error(`detector input ${this.opts.inputPx} px is not a multiple of 32; use 320, 480 or 640`);
    this.session = await createSession(this.opts.modelPath, { threads: this.opts.threads });
    this.inputName = this.session.inputNames[0] ?? 'input.1';
    const names = this.session.outputNames;
    if (names.length !== 9) throw new Error(`${this.opts.modelPath} has ${names.length} outputs; an SCRFD model with landmarks has 9`);
    // The documented order is scores(8,16,32), boxes(8,16,32), landmarks(8,16,32).
    this.outputs = { scores: names.slice(0, 3), boxes: names.slice(3, 6), landmarks: names.slice(6, 9) };
  }

  async detect(img: RgbImage, opts: { retryEmpty?: boolean } = {}): Promise<Detection[]> {
    let dets = await this.detectWithBorder(img, 0);
    if (dets.length === 0 && this.opts.emptyRetryPadRatio > 0 && opts.retryEmpty !== false) {
      const pad = Math.round(Math.max(img.width, img.height) * this.opts.emptyRetryPadRatio);
      dets = await this.detectWithBorder(img, pad);
    }
    return finalizeDetections(dets, img.width, img.height);
  }

  /** Detect as if the image had a black border of `pad` px on every side. */
  private async detectWithBorder(img: RgbImage, pad: number): Promise<Detection[]> {
    const session = this.session;
    const outs = this.outputs;
    if (!session || !outs) throw new Error('detector used before start()');
    const S = this.inputSide(img.width + 2 * pad, img.height + 2 * pad);
    const lb = letterbox(img.width + 2 * pad, img.height + 2 * pad, S, this.opts.atImageSize ? 1 : Infinity);
    const rw = Math.max(1, Math.round(img.width * lb.scale));
    const rh = Math.max(1, Math.round(img.height * lb.scale));
    const off = Math.round(pad * lb.scale);
    // At scale 1 (a small image detected at its own size) the pixels go in as they are.
    const resized =
      rw === img.width && rh === img.height
        ? img.data
        : await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
            .resize(rw, rh, { fit: 'fill', kernel: 'linear' })
            .raw()
            .toBuffer();
    const plane = S * S;
    const input = new Float32Array(3 * plane).fill(NORM[0]!);
    for (let y = 0; y < rh; y++) {
      const row = (y + off) * S + off;
      let s = y * rw * 3;
      for (let d = row, end = row + rw; d < end; d++, s += 3) {
        input[d] = NORM[resized[s]!]!;
        input[d + plane] = NORM[resized[s + 1]!]!;
        input[d + 2 * plane] = NORM[resized[s + 2]!]!;
      }
    }
    const result = await session.run({ [this.inputName]: new ort.Tensor('float32', input, [1, 3, S, S]) });
    const pick = (names: string[]) => names.map((n) => result[n]!.data as Float32Array);
    const raw: ScrfdOutputs = { scores: pick(outs.scores), boxes: pick(outs.boxes), landmarks: pick(outs.landmarks) };
    const shift = off / lb.scale;
    return nms(decodeScrfd(raw, S, lb.scale, this.opts.scoreThreshold), this.opts.nmsIou).map((d) => ({
      ...d,
      box: [d.box[0] - shift, d.box[1] - shift, d.box[2] - shift, d.box[3] - shift],
      landmarks: d.landmarks.map(([x, y]) => [x - shift, y - shift]) as Detection['landmarks'],
    }));
  }

  /** The square network input for an image of w x h: inputPx, or less for a smaller image (atImageSize). */
  inputSide(w: number, h: number): number {
    const S = this.opts.inputPx;
    if (!this.opts.atImageSize) return S;
    return Math.min(S, Math.max(MIN_INPUT_PX, Math.ceil(Math.max(w, h) / 32) * 32));
  }

  async stop(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}
