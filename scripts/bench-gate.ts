// npm run bench:gate: the daemon through its real capture path. ffmpeg replays a looping
// 640x480 clip at 30 frames/s in real time (an empty entrance and the enrolled attendee
// walking up four times per loop, between them a stranger walking up and two people side
// by side: four grants per 16.5 s loop, so a 60 s row has about 14), the capture
// source hands frames over as raw RGB or MJPEG (camera.frameFormat) through the
// newest-frame slot, and the daemon decodes, detects, embeds, matches, decides, records
// each decision in SQLite and pulses the simulated relay. Each row warms up first, then
// measures: sustained frames/s, frames dropped by the slot, frame-to-relay p50/p95 (frame
// arrival to relay energised, per grant, and the part of it the granted frame waited in the
// newest-frame slot), per-stage medians, CPU (the daemon and its
// ffmpeg), peak RSS and event-loop delay p99 (perf_hooks.monitorEventLoopDelay).
// BENCH_SECONDS (60), BENCH_WARMUP_SECONDS (5), BENCH_FORMATS (raw,mjpeg), BENCH_DETECTOR_PX (320,640);
// for the thread budget: BENCH_MODEL_THREADS (models.threads, 0 = derived), BENCH_IMAGE_THREADS (vision.imageThreads, 0 = derived);
// BENCH_LIVENESS (off; advisory runs the two MiniFASNet models on every matched face, the work of required);
// BENCH_INFERENCE_WORKER (on; on,off compares the models in worker threads with the models on the event loop);
// BENCH_INFERENCE_WORKERS (vision.inferenceWorkers, 1; 1,2 prints a row for each: frames in the models at once).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { GateDaemon } from '../src/app/daemon.js';
import { startRecognition } from '../src/app/recognition.js';
import { loadConfig } from '../src/config/load.js';
import { enrollAttendee } from '../src/enroll/enroll.js';
import { modelThreads as modelThreadsFor } from '../src/vision/factory.js';
import { makeSceneClip, standardPhotos } from './clips.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { percentile } from './stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP_S = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const FORMATS = (process.env.BENCH_FORMATS ?? 'raw,mjpeg').split(',') as ('raw' | 'mjpeg')[];
const DETECTOR_PX = (process.env.BENCH_DETECTOR_PX ?? '320,640').split(',').map(Number);
const MODEL_THREADS = (process.env.BENCH_MODEL_THREADS ?? '0').split(',').map(Number);
const IMAGE_THREADS = (process.env.BENCH_IMAGE_THREADS ?? '0').split(',').map(Number);
const LIVENESS = (process.env.BENCH_LIVENESS ?? 'off').split(',');
/** vision.inferenceWorker per row: on (models in the worker thread), off (on the event loop). */
const WORKER = (process.env.BENCH_INFERENCE_WORKER ?? 'on').split(',');
/** vision.inferenceWorkers per row (with the worker on). */
const WORKERS = (process.env.BENCH_INFERENCE_WORKERS ?? '1').split(',').map(Number);
const FPS = 30;
const SEGMENT_S = 1.5;
const W = 640;
const H = 480;
const models = process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS;
const GOAL_FPS: Record<number, number> = { 320: 25, 640: 15 };
const GOAL_P95_MS: Record<number, number> = { 320: 60 };

/** The replay clip: segments made from the shared photos, joined into one MPEG-4 file. */
function buildClip(dir: string): Promise<string> {
  // Four walk-ups of the enrolled attendee per loop, each after an empty entrance or
  // another person (a new track: trackTtlMs 500 < one segment), for enough grants per row.
  const parts = [
    ['empty', [standardPhotos.empty]],
    ['walk-up', [standardPhotos.enrolled]],
    ['empty', [standardPhotos.empty]],
    ['stranger', [standardPhotos.stranger]],
    ['empty', [standardPhotos.empty]],
    ['walk-up', [standardPhotos.enrolled]],
    ['empty', [standardPhotos.empty]],
    ['walk-up', [standardPhotos.enrolled]],
    ['pair', standardPhotos.pair],
    ['empty', [standardPhotos.empty]],
    ['walk-up', [standardPhotos.enrolled]],
  ] as const;
  return makeSceneClip(dir, parts, join(dir, 'gate.mp4'), { durationS: SEGMENT_S, fps: FPS, widthPx: W, heightPx: H });
}

/** CPU seconds (user + system) of a process from /proc, 0 when it is gone. */
function procCpuS(pid: number | null): number {
  if (pid === null) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100 on Linux)
  } catch {
    return 0;
  }
}

const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

async function run(clip: string, inputPx: number, format: 'raw' | 'mjpeg', modelThreads: number, imageThreads: number, liveness: string, worker: string, workers: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-gate-'));
  const overrides = {
    'models.detectorInputPx': inputPx,
    'models.threads': modelThreads,
    'vision.imageThreads': imageThreads,
    'liveness.mode': liveness,
    'vision.inferenceWorker': worker === 'on',
    'vision.inferenceWorkers': workers,
    'relay.driver': 'sim',
    'camera.kind': 'replay',
    'camera.path': clip,
    'camera.loop': true,
    'camera.realtime': true,
    'camera.fps': FPS,
    'camera.widthPx': W,
    'camera.heightPx': H,
    'camera.frameFormat': format,
    'gate.cooldownMs': 0,
    'gate.antiPassbackMinutes': 0,
    'gate.trackTtlMs': 500,
  };
  const config = loadConfig({ file: null, env: {}, overrides });
  const rec = await startRecognition(config, models, dataDir);
  rec.store.upsertEvent({ id: 'bench' });
  await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config, embedderId: rec.embedderId },
    { eventId: 'bench', userId: 'obama', photos: [{ label: 'o2', data: readFileSync(join(SHARED_FACES, 'people/obama/2.jpg')) }] },
  );
  await rec.stop();
  config.event.id = 'bench';
  const daemon = new GateDaemon({ config, configFile: null, modelsDir: models, dataDir });
  await daemon.start();
  try {
    await sleep(WARMUP_S * 1000);
    const s = daemon.stats;
    s.grantLatencyMs.clear();
    s.grantSlotWaitMs.clear();
    for (const r of Object.values(s.stageMs)) r.clear();
    s.livenessMs.clear();
    const src0 = daemon.source!.status();
    const frames0 = s.frames;
    const granted0 = s.decisions.granted ?? 0;
    const pid = src0.pid;
    const ff0 = procCpuS(pid);
    const cpu0 = process.cpuUsage();
    const eld = monitorEventLoopDelay({ resolution: 10 });
    eld.enable();
    let rss = process.memoryUsage().rss;
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000) {
      await sleep(200);
      rss = Math.max(rss, process.memoryUsage().rss);
    }
    const wallS = (performance.now() - t0) / 1000;
    eld.disable();
    const cpu = process.cpuUsage(cpu0);
    const src = daemon.source!.status();
    const ffCpu = src.pid === pid ? procCpuS(pid) - ff0 : NaN;
    const fps = (s.frames - frames0) / wallS;
    const lat = s.grantLatencyMs.values();
    const p50 = percentile(lat, 50);
    const p95 = percentile(lat, 95);
    const slotWait = s.grantSlotWaitMs.values();
    const stage = (k: keyof typeof s.stageMs) => percentile(s.stageMs[k].values(), 50).toFixed(1);
    // A frame without a face to embed still records a few microseconds for the stage.
    const embedWhenFace = percentile(s.stageMs.embed.values().filter((v) => v > 0.5), 50);
    const goalFps = GOAL_FPS[inputPx];
    const goalP95 = GOAL_P95_MS[inputPx];
    console.log(
      `${W}x${H} detector ${inputPx} ${format}, inference ${worker === 'on' ? `in ${workers} worker thread${workers === 1 ? '' : 's'}` : 'on the event loop'}, onnx threads ${modelThreads || `${modelThreadsFor(config)} (derived)`}, libvips threads ${imageThreads || 'derived'}${liveness === 'off' ? '' : `, liveness ${liveness}`}: ${fps.toFixed(1)} frames/s sustained` +
        (goalFps ? ` (goal >= ${goalFps}: ${met(fps >= goalFps)})` : '') +
        `, ${src.framesReceived - src0.framesReceived} frames from ffmpeg, ${src.framesDropped - src0.framesDropped} dropped by the newest-frame slot; ` +
        `frame-to-relay p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms over ${lat.length} grants` +
        (goalP95 ? ` (goal p95 <= ${goalP95} ms: ${met(lat.length > 0 && p95 <= goalP95)})` : '') +
        `, of which the granted frame waited in the newest-frame slot p50 ${percentile(slotWait, 50).toFixed(1)} ms, p95 ${percentile(slotWait, 95).toFixed(1)} ms` +
        `; stage medians decode ${stage('decode')}, detect ${stage('detect')}, embed ${stage('embed')} (${embedWhenFace.toFixed(1)} on frames with a face), match ${stage('match')} ms${liveness === 'off' ? '' : `, liveness ${mean(s.livenessMs.values()).toFixed(1)} ms a frame (mean)`}; ` +
        `CPU daemon ${((cpu.user + cpu.system) / 1e6 / wallS).toFixed(2)} + ffmpeg ${(ffCpu / wallS).toFixed(2)} cores; peak RSS ${(rss / 1048576).toFixed(0)} MB; ` +
        `event-loop delay p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms, max ${(eld.max / 1e6).toFixed(1)} ms; ` +
        `${(s.decisions.granted ?? 0) - granted0} granted, decisions ${JSON.stringify(s.decisions)}`,
    );
  } finally {
    await daemon.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const clipDir = mkdtempSync(join(tmpdir(), 'bench-gate-clip-'));
try {
  const clip = await buildClip(clipDir);
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(
    `gate benchmark through ffmpeg replay: ${W}x${H} at ${FPS} frames/s (real time, looping: empty, walk-up of the enrolled attendee, empty, stranger, empty, walk-up, empty, walk-up, two people, empty, walk-up; ${SEGMENT_S} s each), ` +
      `${WARMUP_S} s warm-up then ${SECONDS} s per row, votes 2 of 3, simulated relay; ${availableParallelism()} cores; load average ${load()}`,
  );
  for (const px of DETECTOR_PX) for (const f of FORMATS) for (const mt of MODEL_THREADS) for (const it of IMAGE_THREADS) for (const lv of LIVENESS) for (const w of WORKER) for (const n of w === 'on' ? WORKERS : [1]) await run(clip, px, f, mt, it, lv, w, n);
  console.log(`load average at the end ${load()}`);
} finally {
  rmSync(clipDir, { recursive: true, force: true });
}
