// npm run bench:gate: the daemon's per-frame work (decode, detect, embed, match, policy,
// outbox record, relay) on 640x480 and 1280x720 JPEG frames of an enrolled attendee:
// sustained frames/s, frame-arrival-to-relay latency under the N-of-M vote, CPU use; each
// row with liveness off and on (`advisory`: the same two MiniFASNet runs per matched face
// as `required`, but the photo used here is still let in, so latency can be measured).
// BENCH_LIVENESS=off,advisory picks the liveness modes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GateDaemon } from '../src/app/daemon.js';
import { startRecognition } from '../src/app/recognition.js';
import { loadConfig } from '../src/config/load.js';
import { enrollAttendee } from '../src/enroll/enroll.js';
import { SHARED_FACES, SHARED_MODELS } from '../test/paths.js';
import { percentile } from './stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const APPROACHES = Number(process.env.BENCH_APPROACHES ?? 40);
const TTL_MS = 300;
const models = process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS;
const LIVENESS = (process.env.BENCH_LIVENESS ?? 'off,advisory').split(',');

/** A frame with the attendee's face at the left or right of a w x h scene. */
async function frame(w: number, h: number, side: 'left' | 'right'): Promise<Buffer> {
  const faceH = Math.round(h * 0.6);
  const person = await sharp(join(SHARED_FACES, 'people/obama/1.jpg')).resize({ height: faceH }).toBuffer();
  const pw = (await sharp(person).metadata()).width!;
  return sharp({ create: { width: w, height: h, channels: 3, background: '#303030' } })
    .composite([{ input: person, left: side === 'left' ? Math.round(w * 0.05) : w - pw - Math.round(w * 0.05), top: Math.round((h - faceH) / 2) }])
    .jpeg({ quality: 85 })
    .toBuffer();
}

async function run(w: number, h: number, inputPx: number, liveness: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-gate-'));
  // A short track lifetime lets the latency phase end one approach with a pause.
  const overrides = { 'liveness.mode': liveness, 'models.detectorInputPx': inputPx, 'relay.driver': 'sim', 'camera.kind': 'replay', 'gate.cooldownMs': 0, 'gate.trackTtlMs': TTL_MS };
  const config = loadConfig({ file: null, env: {}, overrides });
  const rec = await startRecognition(config, models, dataDir);
  rec.store.upsertEvent({ id: 'bench' });
  await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config, embedderId: rec.embedderId },
    { eventId: 'bench', userId: 'obama', photos: [{ label: 'o2', data: await sharp(join(SHARED_FACES, 'people/obama/2.jpg')).toBuffer() }] },
  );
  await rec.stop();
  config.event.id = 'bench';
  const daemon = new GateDaemon({ config, configFile: null, modelsDir: models, dataDir });
  await daemon.start();
  const frames = { left: await frame(w, h, 'left'), right: await frame(w, h, 'right') };
  let seq = 0;
  const feed = (side: 'left' | 'right') => daemon.processFrame({ data: frames[side], seq: seq++, capturedAtMs: performance.now(), sourceId: 'bench' });
  // Throughput: frames back to back, the face moving between two places.
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < SECONDS * 1000) await feed(Math.floor(seq / 30) % 2 === 0 ? 'left' : 'right');
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fps = seq / wallS;
  // Latency: approaches of votesWindow frames, each ended by a pause longer than the track
  // lifetime, so every approach is a new track that must collect its votes again.
  daemon.stats.grantLatencyMs.length = 0;
  await new Promise((r) => setTimeout(r, TTL_MS + 30)); // the throughput phase's track ends
  for (let i = 0; i < APPROACHES; i++) {
    for (let k = 0; k < config.gate.votesWindow; k++) await feed(i % 2 ? 'left' : 'right');
    await new Promise((r) => setTimeout(r, TTL_MS + 30));
  }
  const lat = daemon.stats.grantLatencyMs;
  const lv = daemon.stats.livenessMs;
  const livenessMs = lv.length ? lv.reduce((a, b) => a + b, 0) / lv.length : 0;
  console.log(
    `${w}x${h} (detector ${inputPx}px, liveness ${liveness}): ${fps.toFixed(1)} frames/s sustained, liveness ${livenessMs.toFixed(1)} ms/frame, CPU ${((cpu.user + cpu.system) / 1e6 / wallS).toFixed(2)} cores; ` +
      `frame-to-relay p50 ${percentile(lat, 50).toFixed(1)} ms, p95 ${percentile(lat, 95).toFixed(1)} ms over ${lat.length} of ${APPROACHES} approaches granted`,
  );
  await daemon.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`gate benchmark: ${SECONDS} s per row, votes 2 of 3, one attendee enrolled, simulated relay`);
for (const [w, h] of [[640, 480], [1280, 720]] as const) for (const px of [640, 320]) for (const lv of LIVENESS) await run(w, h, px, lv);
