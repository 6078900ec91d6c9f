// npm run bench:pipeline: per-stage median and p90 (decode, detect, align, embed) over
// the shared photos, at 1 and 2 threads, and images per second.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { createPipeline } from '../src/vision/factory.js';
import { decodeImage } from '../src/vision/image.js';
import { identityPhotos } from './photos.js';
import { compareWithFaceApi } from './faceapi-compare.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { percentile } from './stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const fmt = (xs: number[]) => `median ${percentile(xs, 50).toFixed(2)} ms, p90 ${percentile(xs, 90).toFixed(2)} ms`;

async function run(threads: number, inputPx: number): Promise<void> {
  const config = loadConfig({ file: null, env: {}, overrides: { 'models.threads': threads, 'models.detectorInputPx': inputPx } });
  const { pipeline } = await createPipeline(config, process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS);
  await pipeline.start();
  const photos = [...identityPhotos().map((p) => p.path), resolve(SHARED_FACES, 'people/groups/two_people.jpg')].map((p) => readFileSync(p));
  const t = { decode: [] as number[], detect: [] as number[], align: [] as number[], embed: [] as number[], total: [] as number[] };
  // Warm-up: onnxruntime allocates and tunes on the first runs.
  for (const p of photos.slice(0, 3)) await pipeline.analyzeEncoded(p, { embed: true, maxEmbedFaces: 1 });
  const start = performance.now();
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of photos) {
      const t0 = performance.now();
      const res = await pipeline.analyzeEncoded(p, { embed: true, maxEmbedFaces: 1 });
      t.total.push(performance.now() - t0);
      t.decode.push(res.timings.decodeMs);
      t.detect.push(res.timings.detectMs);
      t.align.push(res.timings.alignMs);
      if (res.faces.length) t.embed.push(res.timings.embedMs);
      n++;
    }
  }
  const secs = (performance.now() - start) / 1000;
  // Detection alone on a fixed 640x480 frame, the camera's case (no second look needed).
  const frame = await decodeImage(readFileSync(resolve(SHARED_FACES, 'people/obama/1.jpg')), { maxPixels: 1e8 });
  const { default: sharp } = await import('sharp');
  const small = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).resize(640, 480, { fit: 'fill' }).raw().toBuffer();
  const cam = { data: new Uint8Array(small), width: 640, height: 480 };
  const camDetect: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await pipeline.detector.detect(cam);
    camDetect.push(performance.now() - t0);
  }
  // An empty entrance, the idle gate's frame: one detector run on the camera path
  // (daemon.retryEmptyFrames off) against the second bordered look stills get.
  const blank = { data: new Uint8Array(640 * 480 * 3).fill(32), width: 640, height: 480 };
  const idleOne: number[] = [];
  const idleTwo: number[] = [];
  for (let i = 0; i < 30; i++) {
    let t0 = performance.now();
    await pipeline.detector.detect(blank, { retryEmpty: false });
    idleOne.push(performance.now() - t0);
    t0 = performance.now();
    await pipeline.detector.detect(blank);
    idleTwo.push(performance.now() - t0);
  }
  const modelAlone = await modelMedianMs(config.models.detector === 'scrfd_2.5g_kps' ? 'scrfd_2.5g_kps.onnx' : 'scrfd_500m_kps.onnx', [1, 3, inputPx, inputPx], threads);
  console.log(`threads=${threads} detector input=${inputPx}px, ${n} images (${photos.length} photos x ${ROUNDS})`);
  console.log(
    `  idle 640x480 frame (no face), camera path  median ${percentile(idleOne, 50).toFixed(2)} ms = ${(percentile(idleOne, 50) / modelAlone).toFixed(2)}x the detector model alone (${modelAlone.toFixed(2)} ms); ` +
      `with the stills' second look ${percentile(idleTwo, 50).toFixed(2)} ms`,
  );
  console.log(`  decode  ${fmt(t.decode)}`);
  console.log(`  detect  ${fmt(t.detect)}   (stills; smaller than the input: detected at their own size)`);
  console.log(`  detect on a 640x480 frame  ${fmt(camDetect)}`);
  console.log(`  align   ${fmt(t.align)}`);
  console.log(`  embed   ${fmt(t.embed)}   (one face)`);
  console.log(`  total   ${fmt(t.total)}; ${(n / secs).toFixed(1)} images/s`);
  await pipeline.stop();
}

/** Median ms of the model file's session.run alone (random input), in this process. */
async function modelMedianMs(file: string, shape: number[], threads: number): Promise<number> {
  const { createSession, ort } = await import('../src/models/ort.js');
  const s = await createSession(resolve(process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS, file), { threads });
  const t = new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => Math.random() * 2 - 1), shape);
  for (let i = 0; i < 5; i++) await s.run({ [s.inputNames[0]!]: t });
  const ts: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await s.run({ [s.inputNames[0]!]: t });
    ts.push(performance.now() - t0);
  }
  await s.release();
  return percentile(ts, 50);
}

/** The models alone: one session.run on random input, no pre- or post-processing. */
async function inferenceOnly(threads: number): Promise<void> {
  const time = async (file: string, shape: number[]): Promise<string> => `median ${(await modelMedianMs(file, shape, threads)).toFixed(2)} ms`;
  console.log(`inference only, threads=${threads}`);
  console.log(`  SCRFD-500M 640x640  ${await time('scrfd_500m_kps.onnx', [1, 3, 640, 640])}`);
  console.log(`  SCRFD-500M 320x320  ${await time('scrfd_500m_kps.onnx', [1, 3, 320, 320])}`);
  console.log(`  ArcFace INT8 1 face ${await time('arcface_mbf_w600k_int8.onnx', [1, 3, 112, 112])}`);
}

console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (process.env.BENCH_FACEAPI_ONLY !== '1') {
  for (const inputPx of [640, 320]) for (const threads of [1, 2]) await run(threads, inputPx);
  for (const threads of [1, 2]) await inferenceOnly(threads);
}
if (process.env.BENCH_FACEAPI !== '0') await compareWithFaceApi();
console.log(`load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
