// bench:pipeline's comparison with face-api.js (@vladmandic/face-api on its node-wasm
// backend, SSD MobileNet v1 + 68-point landmarks + its ResNet-34 descriptor, weights from
// the package's model/ folder), in the same process as this project's pipeline: per-image
// time on the same stills, and verification accuracy on LFW pairs from ../shared/faces.
// face-api.js is not a dependency of the gate: install it beside the project
// (`npm install --no-save @vladmandic/face-api @tensorflow/tfjs @tensorflow/tfjs-backend-wasm`)
// or point FACE_API_NODE_MODULES at a node_modules folder holding those packages.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../src/config/load.js';
import { createPipeline, inProcessThreads } from '../src/vision/factory.js';
import { identityPhotos } from './photos.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { percentile } from './stats.js';
import { errorText } from '../src/errors.js';

interface Tensor3D {
  dispose(): void;
}
interface FaceApi {
  tf: { setBackend(b: string): Promise<boolean>; ready(): Promise<void>; getBackend(): string; tensor3d(d: Uint8Array, shape: [number, number, number]): Tensor3D };
  nets: Record<'ssdMobilenetv1' | 'faceLandmark68Net' | 'faceRecognitionNet', { loadFromDisk(dir: string): Promise<void> }>;
  SsdMobilenetv1Options: new (o: { minConfidence: number }) => unknown;
  detectAllFaces(t: Tensor3D, o: unknown): { withFaceLandmarks(): { withFaceDescriptors(): Promise<{ descriptor: Float32Array; detection: { box: { area: number } } }[]> } };
}

function loadFaceApi(): { api: FaceApi; modelDir: string } | { missing: string } {
  const base = process.env.FACE_API_NODE_MODULES ? join(resolve(process.env.FACE_API_NODE_MODULES), '..', 'x.js') : import.meta.url;
  const req = createRequire(base);
  try {
    req('@tensorflow/tfjs-backend-wasm');
    const main = req.resolve('@vladmandic/face-api/dist/face-api.node-wasm.js');
    return { api: req(main) as FaceApi, modelDir: join(main, '..', '..', 'model') };
  } catch (err) {
    return { missing: errorText(err).split('\n')[0]! };
  }
}

const PAIRS = Number(process.env.BENCH_PAIRS ?? 100);

/** Evenly spaced LFW pairs from pairs.tsv, so same and different pairs are both in. */
function lfwPairs(n: number): { a: string; b: string; same: boolean }[] {
  const lines = readFileSync(join(SHARED_FACES, 'lfw', 'pairs.tsv'), 'utf8').trim().split('\n').slice(1);
  const step = Math.max(1, Math.floor(lines.length / n));
  return lines
    .filter((_, i) => i % step === 0)
    .slice(0, n)
    .map((l) => {
      const [a, b, same] = l.split('\t');
      return { a: join(SHARED_FACES, 'lfw', a!), b: join(SHARED_FACES, 'lfw', b!), same: same === 'yes' };
    });
}

/** Accuracy at a threshold, and the best over all thresholds (both sides get the same sweep). */
function accuracy(scores: { s: number; same: boolean }[], threshold: number, higherIsSame: boolean): { atThreshold: number; best: number } {
  const acc = (t: number) => scores.filter(({ s, same }) => (higherIsSame ? s >= t : s <= t) === same).length / scores.length;
  let best = 0;
  for (const { s } of scores) best = Math.max(best, acc(s));
  return { atThreshold: acc(threshold), best };
}

export async function compareWithFaceApi(): Promise<void> {
  const loaded = loadFaceApi();
  if ('missing' in loaded) {
    console.log(`face-api.js comparison skipped: ${loaded.missing}. Install @vladmandic/face-api, @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm (or set FACE_API_NODE_MODULES).`);
    return;
  }
  const { api, modelDir } = loaded;
  await api.tf.setBackend('wasm');
  await api.tf.ready();
  for (const net of ['ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet'] as const) await api.nets[net].loadFromDisk(modelDir);
  const opts = new api.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const config = loadConfig({ file: null, env: {}, overrides: {} });
  const { pipeline } = await createPipeline(config, process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS);
  await pipeline.start();
  // config/raspberry-pi.yaml's detector size, timed alongside
  const { pipeline: at320 } = await createPipeline(loadConfig({ file: null, env: {}, overrides: { 'models.detectorInputPx': 320 } }), process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS);
  await at320.start();
  // Every still enlarged to the detector's 640 input, as before vision.detectAtImageSize (the stills smaller than 640 pay for it)
  const { pipeline: enlarged } = await createPipeline(loadConfig({ file: null, env: {}, overrides: { 'vision.detectAtImageSize': false } }), process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS);
  await enlarged.start();

  /** The largest face's descriptor; face-api decodes with sharp too, so decode time counts on both sides. */
  const faceApiDescribe = async (jpeg: Buffer): Promise<Float32Array | null> => {
    const { data, info } = await sharp(jpeg).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const t = api.tf.tensor3d(new Uint8Array(data.buffer, data.byteOffset, data.length), [info.height, info.width, 3]);
    try {
      const faces = await api.detectAllFaces(t, opts).withFaceLandmarks().withFaceDescriptors();
      faces.sort((x, y) => y.detection.box.area - x.detection.box.area);
      return faces[0]?.descriptor ?? null;
    } finally {
      t.dispose();
    }
  };
  const oursDescribe = async (jpeg: Buffer, p = pipeline): Promise<Float32Array | null> => {
    const r = await p.analyzeEncoded(jpeg, { embed: true, maxEmbedFaces: 1 });
    return r.faces[0]?.embedding ?? null;
  };

  // Per image, the same stills, alternating so machine load hits both alike.
  const stills = identityPhotos().map((p) => readFileSync(p.path));
  for (const s of stills.slice(0, 2)) {
    await faceApiDescribe(s);
    await oursDescribe(s);
  }
  const tf: number[] = [];
  const to: number[] = [];
  const to320: number[] = [];
  const toEnlarged: number[] = [];
  for (const s of stills) {
    let t0 = performance.now();
    await faceApiDescribe(s);
    tf.push(performance.now() - t0);
    t0 = performance.now();
    await oursDescribe(s);
    to.push(performance.now() - t0);
    t0 = performance.now();
    await oursDescribe(s, at320);
    to320.push(performance.now() - t0);
    t0 = performance.now();
    await oursDescribe(s, enlarged);
    toEnlarged.push(performance.now() - t0);
  }
  const small = stills.length - (await Promise.all(stills.map(async (s) => sharp(s).metadata()))).filter((m) => Math.max(m.width ?? 0, m.height ?? 0) >= config.models.detectorInputPx).length;
  console.log(`${small} of the ${stills.length} stills are smaller than ${config.models.detectorInputPx} px: detected at their own size (vision.detectAtImageSize, the default) in the first two rows, enlarged to ${config.models.detectorInputPx} in the third`);
  for (const [label, ours] of [[`detector ${config.models.detectorInputPx}`, to], ['detector 320', to320], [`detector ${config.models.detectorInputPx}, every still enlarged to it`, toEnlarged]] as const) {
    const ratio = percentile(tf, 50) / percentile(ours, 50);
    console.log(
      `face-api.js (${api.tf.getBackend()} backend, SSD MobileNet v1 + landmarks + descriptor) vs this pipeline (${label}, ${inProcessThreads(config)} threads), ${stills.length} stills, one process: ` +
        `median ${percentile(tf, 50).toFixed(1)} vs ${percentile(ours, 50).toFixed(1)} ms per image = ${ratio.toFixed(1)}x faster (goal >= 5x: ${ratio >= 5 ? 'met' : 'MISSED'})`,
    );
  }
  await at320.stop();
  await enlarged.stop();

  const pairs = lfwPairs(PAIRS);
  const fa: { s: number; same: boolean }[] = [];
  const ou: { s: number; same: boolean }[] = [];
  let faMissed = 0;
  let ouMissed = 0;
  for (const p of pairs) {
    const [ja, jb] = [readFileSync(p.a), readFileSync(p.b)];
    const [fa1, fa2, ou1, ou2] = [await faceApiDescribe(ja), await faceApiDescribe(jb), await oursDescribe(ja), await oursDescribe(jb)];
    // No face found: the pair cannot be confirmed (scored as "different").
    if (!fa1 || !fa2) faMissed++;
    if (!ou1 || !ou2) ouMissed++;
    fa.push({ s: fa1 && fa2 ? Math.hypot(...fa1.map((v, i) => v - fa2[i]!)) : Infinity, same: p.same });
    ou.push({ s: ou1 && ou2 ? ou1.reduce((a, v, i) => a + v * ou2[i]!, 0) : -Infinity, same: p.same });
  }
  const accF = accuracy(fa, 0.6, false);
  const accO = accuracy(ou, config.match.threshold, true);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(
    `LFW pairs (${pairs.length} of ../shared/faces/lfw/pairs.tsv, ${pairs.filter((p) => p.same).length} same): ` +
      `face-api.js ${pct(accF.atThreshold)} at its distance 0.6, best ${pct(accF.best)} (${faMissed} pairs without a face); ` +
      `this pipeline ${pct(accO.atThreshold)} at match.threshold ${config.match.threshold}, best ${pct(accO.best)} (${ouMissed} without a face) ` +
      `(goal equal or better: ${accO.best >= accF.best ? 'met' : 'MISSED'})`,
  );
  await pipeline.stop();
}
