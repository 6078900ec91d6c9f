// npm run liveness:scores: MiniFASNet liveness scores, per frame and per track (the mean
// over the last N frames, as the gate fuses them, for several N), on the shared PAD sets:
// pad/selfie-crops live/attack, spoof/, and the two zalo videos (frames extracted with
// ffmpeg at 8 frames/s and at their full rate into a temp dir). VERBOSE=1 prints every
// frame's score. The figures in docs/accuracy.md (Liveness) come from here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createLivenessCheck, fuseLiveness, livenessDefaults } from '../src/gate/liveness.js';
import { loadConfig } from '../src/config/load.js';
import { createPipeline, inProcessThreads } from '../src/vision/factory.js';
import { cosine } from '../src/vision/embedder.js';
import { decodeImage } from '../src/vision/image.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { percentile } from './stats.js';

const WINDOWS = [1, 3, 5, 8];
const THRESHOLDS = [0.5, 0.7, 0.9];
const models = process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS;
const config = loadConfig({ file: null, env: {}, overrides: {} });
const { pipeline } = await createPipeline(config, models);
await pipeline.start();
const check = await createLivenessCheck(models, { ...livenessDefaults, mode: 'required' }, { threads: inProcessThreads(config), verifyHashes: true });
await check.start();

const byName = new Intl.Collator('en', { numeric: true }).compare;
const files = (dir: string): string[] => readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort(byName).map((f) => join(dir, f));

/**
 * The largest face's score per image (null: no face), the time of each scoreFace call, and
 * where the person changes: a frame whose face is below match.threshold from the previous
 * one starts a new segment (pad/selfie-crops holds two people, one after the other).
 */
async function scores(paths: string[]): Promise<{ s: (number | null)[]; ms: number[]; cuts: number[] }> {
  const s: (number | null)[] = [];
  const ms: number[] = [];
  const cuts: number[] = [];
  let prev: Float32Array | undefined;
  for (const p of paths) {
    const img = await decodeImage(readFileSync(p), { maxPixels: config.vision.maxImagePixels });
    const face = (await pipeline.analyze(img, { embed: true, maxEmbedFaces: 1 })).faces[0];
    if (!face) { s.push(null); continue; }
    if (face.embedding && prev && cosine(face.embedding, prev) < config.match.threshold) cuts.push(s.length);
    prev = face.embedding ?? prev;
    const t0 = performance.now();
    s.push(await check.scoreFace(img, face));
    ms.push(performance.now() - t0);
  }
  return { s, ms, cuts };
}

const f2 = (x: number): string => x.toFixed(2);
function report(name: string, s: (number | null)[]): void {
  const got = s.filter((x): x is number => x !== null);
  console.log(`${name}: ${s.length} frames, ${s.length - got.length} without a face`);
  for (const n of WINDOWS) {
    if (got.length < n) continue;
    const w: number[] = [];
    for (let i = n; i <= got.length; i++) w.push(fuseLiveness(got.slice(0, i), { threshold: 0, frames: n }).score!);
    const at = THRESHOLDS.map((t) => `>=${t}: ${w.filter((x) => x >= t).length}/${w.length}`).join(', ');
    const label = n === 1 ? 'per frame      ' : `mean of ${n} frames`;
    console.log(`  ${label}: first ${f2(w[0]!)} min ${f2(Math.min(...w))} median ${f2(percentile(w, 50))} max ${f2(Math.max(...w))}; ${at}`);
  }
  if (process.env.VERBOSE) console.log(`  frames: ${s.map((x) => (x === null ? '-' : f2(x))).join(' ')}`);
}

const tmp = mkdtempSync(join(tmpdir(), 'liveness-scores-'));
const allMs: number[] = [];
try {
  const sets: [string, string[]][] = [
    ['pad/selfie-crops/live', files(join(SHARED_FACES, 'pad/selfie-crops/live'))],
    ['pad/selfie-crops/attack', files(join(SHARED_FACES, 'pad/selfie-crops/attack'))],
    ['spoof/image_T1 (live)', [join(SHARED_FACES, 'spoof/image_T1.jpg')]],
    ['spoof/image_F1, F2 (attacks)', [join(SHARED_FACES, 'spoof/image_F1.jpg'), join(SHARED_FACES, 'spoof/image_F2.jpg')]],
  ];
  for (const v of ['live-2', 'attack-screen-1']) {
    for (const fps of [8, 0]) {
      const out = join(tmp, `${v}-${fps}`);
      mkdirSync(out);
      execFileSync('ffmpeg', ['-v', 'error', '-i', join(SHARED_FACES, `pad/zalo/${v}.mp4`), ...(fps ? ['-vf', `fps=${fps}`] : []), '-q:v', '2', join(out, '%03d.jpg')]);
      sets.push([`pad/zalo/${v}.mp4 (${fps ? `${fps} frames/s` : 'every frame'})`, files(out)]);
    }
  }
  console.log(`MiniFASNet liveness, models ${livenessDefaults.models.join(' + ')}, score = mean softmax of the live class; track = mean of the last N scored frames`);
  for (const [name, paths] of sets) {
    const r = await scores(paths);
    allMs.push(...r.ms);
    report(name, r.s);
    // Each person of a set on their own, as the gate would see them: one track each.
    const bounds = [0, ...r.cuts, r.s.length];
    if (bounds.length > 2) {
      const names = paths.map((p) => basename(p));
      for (let k = 0; k + 1 < bounds.length; k++) report(`  person ${k + 1} (${names[bounds[k]!]} .. ${names[bounds[k + 1]! - 1]})`, r.s.slice(bounds[k], bounds[k + 1]));
    }
  }
  console.log(`scoreFace (both models, crop + 2 inferences): p50 ${percentile(allMs, 50).toFixed(2)} ms, p95 ${percentile(allMs, 95).toFixed(2)} ms over ${allMs.length} faces`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
  await check.stop();
  await pipeline.stop();
}
