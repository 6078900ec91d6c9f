// ArcFace embedder: aligned 112x112 crops in one batch, L2-normalised 512-d output.
import { createSession, ort } from '../models/ort.js';
import { ARCFACE_SIZE, ARCFACE_TEMPLATE, estimateSimilarity, sharpnessOfTensor, warpToTensor } from './align.js';
import type { Detection, RgbImage } from './types.js';

export interface EmbeddedFace {
  embedding: Float32Array;
  sharpness: number;
}

export interface FaceEmbedder {
  start(): Promise<void>;
  /** One result per detection, in the same order. */
  embed(img: RgbImage, faces: readonly Detection[]): Promise<EmbeddedFace[]>;
  /** Alignment and quality only, no inference (cheap checks before spending an embedding). */
  crop(img: RgbImage, faces: readonly Detection[]): { tensor: Float32Array; sharpness: number[] };
  stop(): Promise<void>;
}

export interface ArcfaceOptions {
  modelPath: string;
  threads: number;
  /** Largest batch sent in one run. */
  maxBatch: number;
}

const MEAN = 127.5;
const STD = 127.5;
const PER_FACE = 3 * ARCFACE_SIZE * ARCFACE_SIZE;

export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

export class ArcfaceEmbedder implements FaceEmbedder {
  private session: ort.InferenceSession | undefined;
  private inputName = 'input.1';
  private outputName = '';
  dim = 512;

  constructor(private readonly opts: ArcfaceOptions) {}

  async start(): Promise<void> {
    this.session = await createSession(this.opts.modelPath, { threads: this.opts.threads });
    this.inputName = this.session.inputNames[0] ?? 'input.1';
    this.outputName = this.session.outputNames[0] ?? '';
  }

  crop(img: RgbImage, faces: readonly Detection[]): { tensor: Float32Array; sharpness: number[] } {
    const tensor = new Float32Array(PER_FACE * faces.length);
    const sharpness = faces.map((f, i) => {
      const t = estimateSimilarity(f.landmarks, ARCFACE_TEMPLATE);
      warpToTensor(img, t, tensor, i * PER_FACE, MEAN, STD);
      return sharpnessOfTensor(tensor, i * PER_FACE, MEAN, STD);
    });
    return { tensor, sharpness };
  }

  async embed(img: RgbImage, faces: readonly Detection[]): Promise<EmbeddedFace[]> {
    if (faces.length === 0) return [];
    const { tensor, sharpness } = this.crop(img, faces);
    const embeddings = await this.embedTensor(tensor, faces.length);
    return embeddings.map((embedding, i) => ({ embedding, sharpness: sharpness[i]! }));
  }

  /** The crops at `indices` of a crop tensor, contiguous, in that order. */
  select(tensor: Float32Array, indices: readonly number[]): Float32Array {
    if (indices.every((x, k) => x === k)) return tensor.subarray(0, indices.length * PER_FACE);
    const out = new Float32Array(indices.length * PER_FACE);
    indices.forEach((x, k) => out.set(tensor.subarray(x * PER_FACE, (x + 1) * PER_FACE), k * PER_FACE));
    return out;
  }

  /** Run aligned crops (N x 3 x 112 x 112, normalised) through the model in batches. */
  async embedTensor(tensor: Float32Array, n: number): Promise<Float32Array[]> {
    const session = this.session;
    if (!session) throw new Error('embedder used before start()');
    const out: Float32Array[] = [];
    for (let start = 0; start < n; start += this.opts.maxBatch) {
      const count = Math.min(this.opts.maxBatch, n - start);
      const slice = tensor.subarray(start * PER_FACE, (start + count) * PER_FACE);
      const res = await session.run({
        [this.inputName]: new ort.Tensor('float32', slice, [count, 3, ARCFACE_SIZE, ARCFACE_SIZE]),
      });
      const data = res[this.outputName]!.data as Float32Array;
      this.dim = data.length / count;
      for (let i = 0; i < count; i++) out.push(l2normalize(data.subarray(i * this.dim, (i + 1) * this.dim)));
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
