// Embeddings of evaluation images through the real pipeline (decode -> detect, with the
// bordered second look for tight crops -> align -> embed), one face per image, kept in an
// optional cache file so a second run (or the gallery-size sweep) does not embed again.
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { ImageError, readImageFile } from '../vision/image.js';
import type { FacePipeline } from '../vision/pipeline.js';
import type { Detection } from '../vision/types.js';
import { EvalInputError } from './inputs.js';

/**
 * The face an evaluation image is about: the one whose box centre is closest to the image
 * centre. LFW's photos are centred on the named person, often with others around; the
 * largest face (the gate's choice) is sometimes a bystander. Ties: the larger face (pure).
 */
export function centralFace(dets: readonly Detection[], width: number, height: number): number | null {
  let best: number | null = null;
  let bestD = Infinity;
  dets.forEach((d, i) => {
    const dx = (d.box[0] + d.box[2]) / 2 - width / 2;
    const dy = (d.box[1] + d.box[3]) / 2 - height / 2;
    const dist = dx * dx + dy * dy;
    if (dist < bestD) [best, bestD] = [i, dist];
  });
  return best;
}

export interface EvalFace {
  embedding: Float32Array;
  score: number;
  interEyePx: number;
  yawDeg: number;
  sharpness: number;
}

export type ImageEmbedding =
  | { status: 'ok'; faces: number; face: EvalFace }
  | { status: 'no_face' }
  | { status: 'error'; message: string };

/** Everything that changes an embedding, so the cache never mixes two pipelines. */
export function pipelineKey(config: Config, detectorId: string, embedderId: string): string {
  const v = config.vision;
  return `${detectorId}@${config.models.detectorInputPx}/s${v.scoreThreshold}/n${v.nmsIou}/p${v.emptyRetryPadRatio}${v.detectAtImageSize ? '/own' : ''}+${embedderId}/central`;
}

interface CacheLine {
  key: string;
  faces: number;
  face: { e: string; score: number; interEyePx: number; yawDeg: number; sharpness: number } | null;
}

const HEADER = { format: 'gate-agent-eval-embeddings', version: 1 };

/**
 * A file of embeddings keyed by pipeline, absolute path, mtime and size; one JSON line per
 * image, appended as it is made, so an interrupted run keeps what it did. It holds face
 * templates (biometric data): written owner-only, and never printed.
 */
export class EmbeddingCache {
  private entries = new Map<string, ImageEmbedding>();
  private started = false;

  constructor(private readonly file: string) {}

  async load(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const lines = text.split('\n');
    const head = lines.shift();
    if (head !== JSON.stringify(HEADER)) throw new EvalInputError('bad_cache', `${this.file} is not an embedding cache of this version; remove it or pick another --cache file`);
    this.started = true;
    for (const l of lines) {
      if (!l) continue;
      let c: CacheLine;
      try {
        c = JSON.parse(l) as CacheLine;
      } catch {
        continue; // a line cut short by an interrupted run
      }
      this.entries.set(c.key, c.face ? { status: 'ok', faces: c.faces, face: { ...c.face, embedding: decodeVector(c.face.e) } } : { status: 'no_face' });
    }
    return this.entries.size;
  }

  get(key: string): ImageEmbedding | undefined {
    return this.entries.get(key);
  }

  async put(key: string, v: ImageEmbedding): Promise<void> {
    if (v.status === 'error') return;
    this.entries.set(key, v);
    const f = v.status === 'ok' ? v.face : null;
    const line: CacheLine = {
      key,
      faces: v.status === 'ok' ? v.faces : 0,
      face: f ? { e: encodeVector(f.embedding), score: f.score, interEyePx: f.interEyePx, yawDeg: f.yawDeg, sharpness: f.sharpness } : null,
    };
    if (!this.started) {
      await writeFile(this.file, JSON.stringify(HEADER) + '\n', { mode: 0o600 });
      this.started = true;
    }
    await appendFile(this.file, JSON.stringify(line) + '\n');
  }
}

const encodeVector = (v: Float32Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
function decodeVector(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Embeds images one at a time (each its own run, as enrollment does), through the cache. */
export class ImageEmbedder {
  hits = 0;
  misses = 0;
  /** Results of this run, so an image met twice (pairs, probes) is embedded once. */
  private memo = new Map<string, Promise<ImageEmbedding>>();

  constructor(
    private readonly pipeline: FacePipeline,
    private readonly key: string,
    private readonly cache: EmbeddingCache | null,
  ) {}

  embed(path: string): Promise<ImageEmbedding> {
    const abs = resolve(path);
    let p = this.memo.get(abs);
    if (!p) {
      p = this.compute(abs);
      this.memo.set(abs, p);
    }
    return p;
  }

  private async compute(abs: string): Promise<ImageEmbedding> {
    let k: string | null = null;
    try {
      const s = await stat(abs);
      k = `${this.key}\0${abs}\0${s.mtimeMs}\0${s.size}`;
    } catch {
      // readImageFile below says what is wrong with it
    }
    const cached = k ? this.cache?.get(k) : undefined;
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    let out: ImageEmbedding;
    try {
      const res = await this.pipeline.analyzeEncoded(await readImageFile(abs), {
        embed: true,
        chooseFaces: (dets, w, h) => {
          const i = centralFace(dets, w, h);
          return i === null ? [] : [i];
        },
      });
      const f = res.faces.find((x) => x.embedding);
      out = f
        ? { status: 'ok', faces: res.faces.length, face: { embedding: f.embedding!, score: f.score, interEyePx: f.interEyePx, yawDeg: f.yawDeg, sharpness: f.sharpness } }
        : { status: 'no_face' };
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      out = { status: 'error', message: err.message };
    }
    if (k && this.cache) await this.cache.put(k, out);
    return out;
  }
}
