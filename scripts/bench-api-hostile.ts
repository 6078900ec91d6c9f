// `npm run bench:api -- --hostile`: the real daemon (GateDaemon, api.enabled) under attack on
// its identity endpoint. ffmpeg replays a looping 640x480 clip in real time (an empty
// entrance, then the enrolled attendee walking up, 1.5 s each) through the capture path
// (raw frames, newest-frame slot), and the daemon decides and pulses the simulated relay on
// every walk-up. Three phases of --duration-ms each: calm, then with N scan bombs and M PNG
// bombs kept in flight from an attacker's key (each client sends its bomb again as soon as
// it is answered), then calm again (the machine's other load drifts: the attack is compared
// with the mean of the calm phases). In each, one legitimate client with a key of its own
// verifies a real photo back to back. Prints per phase: the attendee's frame-to-relay
// latency (from the frame's capture to the relay energised, per grant), gate frames/s
// (and the ratio attack/calm), the event loop's delay, the legit p50/p95 and statuses,
// 429/503s issued, and the peak RSS of the daemon's process, its decode children and its
// ffmpeg; and the load average (other processes share the CPU).
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createKey } from '../src/api/keys.js';
import { GateDaemon } from '../src/app/daemon.js';
import { startRecognition } from '../src/app/recognition.js';
import { loadConfig } from '../src/config/load.js';
import { enrollAttendee } from '../src/enroll/enroll.js';
import { makeSceneClip, standardPhotos } from './clips.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { pngBomb, scanBomb } from './hostile-images.js';
import { percentile } from './stats.js';

export interface HostileOptions {
  scanBombs: number;
  pngBombs: number;
  durationMs: number;
  modelsDir?: string;
  /** vision.inferenceWorker for this run (default on). */
  inferenceWorker?: boolean;
}

function rssOf(pid: number | null | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const q = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const mb = (b: number): number => Math.round(b / 1e6);
const r1 = (x: number): number => Math.round(x * 10) / 10;

export async function runHostile(o: HostileOptions): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gate-bench-hostile-'));
  const models = o.modelsDir ?? SHARED_MODELS;
  const photo = readFileSync(join(SHARED_FACES, 'people/obama/2.jpg'));
  const images = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo));
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
  const imgPort = (images.address() as AddressInfo).port;
  writeFileSync(join(dir, 'scan.jpg'), scanBomb(4000));
  writeFileSync(join(dir, 'png.png'), await pngBomb(6300));
  const clip = await makeSceneClip(join(dir, 'clip'), [['empty', [standardPhotos.empty]], ['walk-up', [standardPhotos.enrolled]]], join(dir, 'gate.mp4'), { durationS: 1.5, fps: 30, widthPx: 640, heightPx: 480 });
  const dataDir = join(dir, 'data');
  const config = loadConfig({
    file: null,
    env: {},
    overrides: {
      'vision.inferenceWorker': o.inferenceWorker ?? true,
      'relay.driver': 'sim',
      'camera.kind': 'replay',
      'camera.path': clip,
      'camera.loop': true,
      'camera.realtime': true,
      'camera.fps': 30,
      'camera.frameFormat': 'raw',
      // Every walk-up is a new passage to let in.
      'gate.cooldownMs': 0,
      'gate.antiPassbackMinutes': 0,
      'gate.trackTtlMs': 500,
      'api.enabled': true,
      'api.host': '127.0.0.1',
      'api.port': 0,
      'api.snapshotDir': dir,
      'api.imageAllowList': [`127.0.0.1:${imgPort}`],
      // Default limits, except per key and per address: the bombs must reach the decoders
      // (both keys send from 127.0.0.1); the gate-wide limit and its fair share stay.
      'api.rateLimitPerKeyBurst': 1e6,
      'api.rateLimitPerIpBurst': 1e6,
    },
  });
  const eventId = 'evt_bench';
  const rec = await startRecognition(config, models, dataDir);
  let attackerKey: string, kioskKey: string;
  try {
    rec.store.upsertEvent({ id: eventId });
    await enrollAttendee(
      { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
      { eventId, userId: 'usr_bench', name: 'Bench Attendee', photos: [{ label: 'enroll', data: readFileSync(join(SHARED_FACES, 'people/obama/1.jpg')) }] },
    );
    attackerKey = createKey(rec.store.db, 'attacker').key;
    kioskKey = createKey(rec.store.db, 'kiosk').key;
  } finally {
    await rec.stop();
  }
  config.event.id = eventId;
  const daemon = new GateDaemon({ config, configFile: null, modelsDir: models, dataDir });
  await daemon.start();
  const api = daemon.api!;
  const port = api.address.port;
  const post = (key: string, imageUrl: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/identity?${new URLSearchParams({ event_id: eventId, image_url: imageUrl }).toString()}`, headers: { 'x-api-key': key }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  const peak = { total: 0, daemon: 0, decoders: 0, ffmpeg: 0 };
  const sampler = setInterval(() => {
    const d = process.memoryUsage().rss;
    const c = api.decoder.pids().reduce((n, pid) => n + rssOf(pid), 0);
    const f = rssOf(daemon.source?.status().pid);
    peak.daemon = Math.max(peak.daemon, d);
    peak.decoders = Math.max(peak.decoders, c);
    peak.ffmpeg = Math.max(peak.ffmpeg, f);
    peak.total = Math.max(peak.total, d + c + f);
  }, 100);
  const phase = async (attack: boolean): Promise<Record<string, unknown>> => {
    const statuses: Record<string, number> = {};
    const legit: number[] = [];
    const legitStatuses: Record<string, number> = {};
    Object.assign(peak, { total: 0, daemon: 0, decoders: 0, ffmpeg: 0 });
    const s = daemon.stats;
    s.grantLatencyMs.clear();
    const frames0 = s.frames;
    const granted0 = s.decisions.granted ?? 0;
    const killedBefore = api.decoder.killed;
    const eld = monitorEventLoopDelay({ resolution: 10 });
    eld.enable();
    const deadline = performance.now() + o.durationMs;
    const bomb = async (name: string): Promise<void> => {
      while (performance.now() < deadline) {
        const st = await post(attackerKey, pathToFileURL(join(dir, name)).href);
        statuses[st] = (statuses[st] ?? 0) + 1;
      }
    };
    const client = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const st = await post(kioskKey, `http://127.0.0.1:${imgPort}/probe`);
        legit.push(performance.now() - t0);
        legitStatuses[st] = (legitStatuses[st] ?? 0) + 1;
      }
    };
    const t0 = performance.now();
    const bombs = attack ? [...Array.from({ length: o.scanBombs }, () => bomb('scan.jpg')), ...Array.from({ length: o.pngBombs }, () => bomb('png.png'))] : [];
    await Promise.all([client(), ...bombs]);
    const seconds = (performance.now() - t0) / 1000;
    eld.disable();
    legit.sort((a, b) => a - b);
    const grants = s.grantLatencyMs.values();
    return {
      seconds: r1(seconds),
      grants: (s.decisions.granted ?? 0) - granted0,
      frameToRelayP50Ms: r1(percentile(grants, 50)),
      frameToRelayP95Ms: r1(percentile(grants, 95)),
      gateFramesPerSec: r1((s.frames - frames0) / seconds),
      eventLoopDelayP99Ms: r1(eld.percentile(99) / 1e6),
      eventLoopDelayMaxMs: r1(eld.max / 1e6),
      legitRequests: legit.length,
      legitP50Ms: Math.round(q(legit, 0.5)),
      legitP95Ms: Math.round(q(legit, 0.95)),
      legitStatuses,
      ...(attack && {
        bombStatuses: statuses,
        refused429: (statuses['429'] ?? 0) + (legitStatuses['429'] ?? 0),
        refused503: (statuses['503'] ?? 0) + (legitStatuses['503'] ?? 0),
        decodesKilled: api.decoder.killed - killedBefore,
      }),
      peakRssMb: { total: mb(peak.total), daemon: mb(peak.daemon), decodeChildren: mb(peak.decoders), ffmpeg: mb(peak.ffmpeg) },
    };
  };
  const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
  let calm: Record<string, unknown>;
  let attack: Record<string, unknown>;
  let calmAfter: Record<string, unknown>;
  try {
    // Warm-up: the models' first runs, the first walk-up.
    await phase(false);
    calm = await phase(false);
    attack = await phase(true);
    calmAfter = await phase(false);
  } finally {
    clearInterval(sampler);
    await daemon.stop();
    images.closeAllConnections();
    images.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const n = (p: Record<string, unknown>, k: string): number => p[k] as number;
  const calmMean = (k: string): number => (n(calm, k) + n(calmAfter, k)) / 2;
  const ratio = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a) ? Math.round((a / b) * 100) / 100 : null);
  return {
    scanBombs: o.scanBombs,
    pngBombs: o.pngBombs,
    inferenceWorker: config.vision.inferenceWorker,
    loadavg1_5_15Before: loadBefore,
    loadavg1_5_15After: loadavg().map((x) => Math.round(x * 100) / 100),
    calm,
    attack,
    calmAfter,
    gateFpsAttackOverCalm: ratio(n(attack, 'gateFramesPerSec'), calmMean('gateFramesPerSec')),
    frameToRelayP50AttackOverCalm: ratio(n(attack, 'frameToRelayP50Ms'), calmMean('frameToRelayP50Ms')),
  };
}
