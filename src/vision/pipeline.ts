// decode -> detect -> align -> embed, with per-stage timings.
import { performance } from 'node:perf_hooks';
import { decodeImage, type DecodeOptions } from './image.js';
import type { FaceDetector } from './detector.js';
import type { ArcfaceEmbedder } from './embedder.js';
import { interEyePx, yawDeg } from './quality.js';
import type { Lane } from './lanes.js';
import type { AnalyzedImage, Detection, Face, RgbImage } from './types.js';

export interface StageTimings {
  decodeMs: number;
  detectMs: number;
  alignMs: number;
  embedMs: number;
}

export interface AnalyzeOptions {
  /** Compute embeddings (false: detection and quality only). */
  embed: boolean;
  /** Embed at most this many faces, largest first (the rest keep quality only). */
  maxEmbedFaces?: number;
  /** Embed only faces at least this far between the eyes (smaller ones are bystanders). */
  minEmbedInterEyePx?: number;
  /**
   * Which faces to embed, as indices into the detections (largest first); replaces the two
   * options above. Each run embeds its faces as one batch and the INT8 model's activation
   * scale is per run, so picking one face here is not the same as picking it afterwards.
   */
  chooseFaces?: (dets: readonly Detection[], width: number, height: number) => number[];
  /** false: no second detector run on a bordered copy when no face is found (camera frames). */
  retryEmpty?: boolean;
  /**
   * Whose work this is, for the inference worker's queue (lanes.ts): camera frames go
   * first, API work waits with a bound, background work (enrollment) waits. Default
   * background; the in-process pipeline runs everything at once and ignores it.
   */
  lane?: Lane;
}

export interface AnalyzeResult extends AnalyzedImage {
  timings: StageTimings;
}

/**
 * The face pipeline as its users see it: in this thread (FacePipeline) or in the
 * inference worker (WorkerPipeline), created by factory.ts.
 */
export interface FaceAnalyzer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Detect, align and embed. The worker pipeline moves `img.data` to the worker and back
   * (no copy): after the call `img.data` is a new view of the same bytes, and any other
   * reference to the old array is empty.
   */
  analyze(img: RgbImage, opts: AnalyzeOptions): Promise<AnalyzeResult>;
  analyzeEncoded(input: Buffer, opts: AnalyzeOptions): Promise<AnalyzeResult>;
}

export class FacePipeline implements FaceAnalyzer {
  constructor(
    readonly detector: FaceDetector,
    readonly embedder: ArcfaceEmbedder,
    private readonly decodeOpts: DecodeOptions,
  ) {}

  async start(): Promise<void> {
    await this.detector.start();
    await this.embedder.start();
  }

  async stop(): Promise<void> {
    await this.detector.stop();
    await this.embedder.stop();
  }

  async analyzeEncoded(input: Buffer, opts: AnalyzeOptions): Promise<AnalyzeResult> {
    const t0 = performance.now();
    const img = await decodeImage(input, this.decodeOpts);
    const decodeMs = performance.now() - t0;
    const res = await this.analyze(img, opts);
    res.timings.decodeMs = decodeMs;
    return res;
  }

  async analyze(img: RgbImage, opts: AnalyzeOptions): Promise<AnalyzeResult> {
    const t0 = performance.now();
    const dets = await this.detector.detect(img, { retryEmpty: opts.retryEmpty ?? true });
    const t1 = performance.now();
    const eyes = dets.map((d) => interEyePx(d.landmarks));
    // Faces come largest first, so the ones to embed are a prefix of those big enough.
    const chosen = !opts.embed
      ? []
      : opts.chooseFaces
        ? opts.chooseFaces(dets, img.width, img.height)
        : dets.map((_, i) => i).filter((i) => eyes[i]! >= (opts.minEmbedInterEyePx ?? 0)).slice(0, opts.maxEmbedFaces ?? dets.length);
    const { tensor, sharpness } = this.embedder.crop(img, dets);
    const t2 = performance.now();
    const embedded = chosen.length ? await this.embedder.embedTensor(this.embedder.select(tensor, chosen), chosen.length) : [];
    const t3 = performance.now();
    const byIndex = new Map(chosen.map((i, k) => [i, embedded[k]!]));
    const faces: Face[] = dets.map((d, i) => ({
      ...d,
      interEyePx: eyes[i]!,
      yawDeg: yawDeg(d.landmarks),
      sharpness: sharpness[i]!,
      ...(byIndex.has(i) ? { embedding: byIndex.get(i)! } : {}),
    }));
    return {
      width: img.width,
      height: img.height,
      faces,
      timings: { decodeMs: 0, detectMs: t1 - t0, alignMs: t2 - t1, embedMs: t3 - t2 },
    };
  }
}
