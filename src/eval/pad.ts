// `eval pad`: the liveness check on bona fide and attack presentations, per frame and per
// track (a video, or a folder of frames, fused by the mean live probability).
import { spawn } from 'node:child_process';
import type { Config } from '../config/types.js';
import { JpegSplitter } from '../capture/jpeg-splitter.js';
import { replayVideoArgs } from '../capture/ffmpeg-args.js';
import { decodeImage, ImageError, readImageFile } from '../vision/image.js';
import type { FacePipeline } from '../vision/pipeline.js';
import type { Detection, RgbImage } from '../vision/types.js';

/** What `eval pad` needs of a liveness check: the gate's own (src/gate/liveness.ts) fits. */
export interface PadScorer {
  /** Probability (0..1) that the face is live (bona fide). */
  scoreFace(img: RgbImage, face: Pick<Detection, 'box'>): Promise<number>;
}
import type { TrackSource } from './inputs.js';
import { fuseTrack, padRates, type PadDecision, type PadRates } from './metrics.js';

export interface PadSource {
  /** Label in the report: LABEL of LABEL=PATH, else the path as given. */
  label: string;
  attack: boolean;
  tracks: TrackSource[];
}

/** "label=path" names a source; anything else is a path labelled by itself (pure). */
export function parseSourceArg(arg: string, exists: (p: string) => boolean): { label: string; path: string } {
  const m = /^([\w.-]+)=(.+)$/.exec(arg);
  if (m && !exists(arg)) return { label: m[1]!, path: m[2]! };
  return { label: arg, path: arg };
}

/** Encoded frames of a video, decoded by ffmpeg at `fps`; ffmpeg is killed when the caller stops early. */
export async function* videoFrames(path: string, fps: number, ffmpegPath = 'ffmpeg'): AsyncGenerator<Buffer> {
  const args = replayVideoArgs({ kind: 'replay', path, fps, realtime: false, loop: false, mjpegQscale: 2 });
  const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const splitter = new JpegSplitter();
  try {
    for await (const chunk of child.stdout) for (const f of splitter.push(chunk as Buffer)) yield f;
    const code = await exited.catch((err: Error) => {
      throw new ImageError('unreadable', `cannot run ${ffmpegPath} (${err.message}); videos need ffmpeg installed`);
    });
    if (code !== 0) throw new ImageError('unreadable', `ffmpeg could not decode it: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited.catch(() => null);
  }
}

export interface TrackResult {
  path: string;
  source: string;
  attack: boolean;
  frames: number;
  /** Frames where a face was scored. */
  scored: number;
  noFace: number;
  unreadable: number;
  /** Mean live probability over the scored frames; null when none was. */
  live: number | null;
  /** Problem reading the track as a whole (a video ffmpeg could not decode). */
  error?: string;
}

export interface SourceSummary {
  source: string;
  attack: boolean;
  tracks: number;
  frames: number;
  noFace: number;
  unreadable: number;
  /** Share of this source's presentations decided wrongly: APCER for an attack source, BPCER for a bona fide one. */
  frameErrorRate: number;
  trackErrorRate: number;
}

export interface PadReport {
  threshold: number;
  videoFps: number;
  perFrame: PadRates;
  perTrack: PadRates;
  sources: SourceSummary[];
  tracks: TrackResult[];
}

export interface PadDeps {
  pipeline: FacePipeline;
  scorer: PadScorer;
  config: Pick<Config, 'vision'>;
  threshold: number;
  videoFps: number;
  ffmpegPath?: string;
  onTrack?: () => void;
}

async function* trackFrames(t: TrackSource, fps: number, ffmpegPath?: string): AsyncGenerator<Buffer | ImageError> {
  if (t.kind === 'video') {
    yield* videoFrames(t.path, fps, ffmpegPath);
    return;
  }
  for (const p of t.images) {
    try {
      yield await readImageFile(p);
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      yield err;
    }
  }
}

export async function evaluatePad(sources: readonly PadSource[], deps: PadDeps): Promise<PadReport> {
  const frameDecisions: PadDecision[] = [];
  const trackDecisions: PadDecision[] = [];
  const tracks: TrackResult[] = [];
  for (const src of sources) {
    for (const t of src.tracks) {
      const r: TrackResult = { path: t.path, source: src.label, attack: src.attack, frames: 0, scored: 0, noFace: 0, unreadable: 0, live: null };
      const probs: number[] = [];
      try {
        for await (const data of trackFrames(t, deps.videoFps, deps.ffmpegPath)) {
          r.frames++;
          try {
            if (data instanceof ImageError) throw data;
            const img = await decodeImage(data, { maxPixels: deps.config.vision.maxImagePixels });
            // The largest face: the person at the gate, as the gate tracks it.
            const face = (await deps.pipeline.analyze(img, { embed: false })).faces[0];
            if (!face) {
              r.noFace++;
              continue;
            }
            const p = await deps.scorer.scoreFace(img, face);
            probs.push(p);
            frameDecisions.push({ attack: src.attack, source: src.label, live: p >= deps.threshold });
          } catch (err) {
            if (!(err instanceof ImageError)) throw err;
            r.unreadable++;
          }
        }
      } catch (err) {
        if (!(err instanceof ImageError)) throw err;
        r.error = err.message;
      }
      r.scored = probs.length;
      if (probs.length) {
        r.live = fuseTrack(probs);
        trackDecisions.push({ attack: src.attack, source: src.label, live: r.live >= deps.threshold });
      }
      tracks.push(r);
      deps.onTrack?.();
    }
  }
  const summaries: SourceSummary[] = sources.map((s) => {
    const mine = tracks.filter((t) => t.source === s.label && t.attack === s.attack);
    const wrongRate = (ds: PadDecision[]) => {
      const own = ds.filter((d) => d.source === s.label && d.attack === s.attack);
      return own.filter((d) => d.live === s.attack).length / own.length;
    };
    return {
      source: s.label,
      attack: s.attack,
      tracks: mine.length,
      frames: mine.reduce((n, t) => n + t.frames, 0),
      noFace: mine.reduce((n, t) => n + t.noFace, 0),
      unreadable: mine.reduce((n, t) => n + t.unreadable, 0),
      frameErrorRate: wrongRate(frameDecisions),
      trackErrorRate: wrongRate(trackDecisions),
    };
  });
  return { threshold: deps.threshold, videoFps: deps.videoFps, perFrame: padRates(frameDecisions), perTrack: padRates(trackDecisions), sources: summaries, tracks };
}
