// `npm run bench:api -- --hostile`: POST /identity under attack. Three phases of
// --duration-ms each, in one process: calm, then with N scan bombs and M PNG bombs
// kept in flight from an attacker's key (each client sends its bomb again as soon as it
// is answered), then calm again (the machine's other load drifts: the attack is compared
// with the mean of the calm phase before and after it). In each, one legitimate client with a key of its own verifies a real
// photo back to back, and a gate loop processes camera frames back to back (decode,
// detect, embed, as the daemon does, with its frames marked for the API's camera-first
// rule). Prints per phase the legit p50/p95 and statuses, gate frames/s (and the ratio
// attack/calm), 429/503s issued, and the peak RSS of the process plus its decode
// workers; and the load average (other processes share the CPU).
import '../test/api/quiet-logs.js';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { CameraPriority } from '../src/api/camera-priority.js';
import { DecodePool } from '../src/api/decode-pool.js';
import { createKey, SqliteApiKeyStore } from '../src/api/keys.js';
import { DEFAULT_API_CONFIG } from '../src/config/sections/api.js';
import { createApiServer } from '../src/api/server.js';
import { LocalIdentityService } from '../src/app/identity.js';
import { startRecognition } from '../src/app/recognition.js';
import { loadConfig } from '../src/config/load.js';
import { enrollAttendee } from '../src/enroll/enroll.js';
import { Outbox } from '../src/publish/outbox.js';
import { decodeImage } from '../src/vision/image.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { pngBomb, scanBomb } from './hostile-images.js';
import { migrate } from '../src/store/migrations.js';

export interface HostileOptions {
  scanBombs: number;
  pngBombs: number;
  durationMs: number;
  modelsDir?: string;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const q = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

export async function runHostile(o: HostileOptions): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gate-bench-hostile-'));
  const config = loadConfig({ file: null, env: {}, overrides: {} });
  const rec = await startRecognition(config, o.modelsDir ?? SHARED_MODELS, dir);
  const db = new Database(join(dir, 'keys.db'));
  migrate(db);
  const attackerKey = createKey(db, 'attacker').key;
  const kioskKey = createKey(db, 'kiosk').key;
  const pool = new DecodePool({ workers: DEFAULT_API_CONFIG.maxRecognitionsInFlight, timeoutMs: DEFAULT_API_CONFIG.decodeTimeoutMs, wallTimeoutMs: DEFAULT_API_CONFIG.decodeWallTimeoutMs, maxPixels: config.vision.maxImagePixels, maxSidePx: DEFAULT_API_CONFIG.decodeMaxSidePx });
  const priority = new CameraPriority();
  const photo = readFileSync(join(SHARED_FACES, 'people/obama/2.jpg'));
  const images = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo));
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
  const imgPort = (images.address() as AddressInfo).port;
  writeFileSync(join(dir, 'scan.jpg'), scanBomb(4000));
  writeFileSync(join(dir, 'png.png'), await pngBomb(6300));
  const eventId = 'evt_bench';
  rec.store.upsertEvent({ id: eventId });
  await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
    { eventId, userId: 'usr_bench', name: 'Bench Attendee', photos: [{ label: 'enroll', data: readFileSync(join(SHARED_FACES, 'people/obama/1.jpg')) }] },
  );
  const outbox = new Outbox(rec.store.db, { identity: { gateId: 'bench', siteId: 'bench', eventId: '', modelId: rec.embedderId }, maxMessages: 1e6 });
  const identity = new LocalIdentityService({ store: rec.store, recognizer: rec.recognizer, outbox });
  // Default limits, except that the attacker's own rate limits are lifted: the bombs must reach the decoders.
  const server = createApiServer({
    identity,
    keys: new SqliteApiKeyStore(db),
    decoder: pool,
    priority,
    config: { snapshotDir: dir, imageAllowList: [`127.0.0.1:${imgPort}`], rateLimitPerKeyBurst: 1e6, rateLimitPerIpBurst: 1e6 },
  });
  pool.start();
  const { port } = await server.listen('127.0.0.1', 0);
  const post = (key: string, imageUrl: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/identity?${new URLSearchParams({ event_id: eventId, image_url: imageUrl }).toString()}`, headers: { 'x-api-key': key }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  const frameJpeg = readFileSync(join(SHARED_FACES, 'people/obama/1.jpg'));
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss + pool.pids().reduce((n, pid) => n + rssOf(pid), 0));
  }, 100);
  const phase = async (attack: boolean): Promise<Record<string, unknown>> => {
    const statuses: Record<string, number> = {};
    const legit: number[] = [];
    const legitStatuses: Record<string, number> = {};
    let frames = 0;
    peakRss = 0;
    const killedBefore = pool.killed;
    const deadline = performance.now() + o.durationMs;
    const bomb = async (name: string): Promise<void> => {
      while (performance.now() < deadline) {
        const s = await post(attackerKey, pathToFileURL(join(dir, name)).href);
        statuses[s] = (statuses[s] ?? 0) + 1;
      }
    };
    const gate = async (): Promise<void> => {
      while (performance.now() < deadline) {
        priority.frameStarted();
        try {
          const img = await decodeImage(frameJpeg, { maxPixels: config.vision.maxImagePixels });
          await rec.pipeline.analyze(img, { embed: true, maxEmbedFaces: 1 });
          frames++;
        } finally {
          priority.frameEnded();
        }
      }
    };
    const client = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const s = await post(kioskKey, `http://127.0.0.1:${imgPort}/probe`);
        legit.push(performance.now() - t0);
        legitStatuses[s] = (legitStatuses[s] ?? 0) + 1;
      }
    };
    const t0 = performance.now();
    const bombs = attack ? [...Array.from({ length: o.scanBombs }, () => bomb('scan.jpg')), ...Array.from({ length: o.pngBombs }, () => bomb('png.png'))] : [];
    await Promise.all([gate(), client(), ...bombs]);
    const seconds = (performance.now() - t0) / 1000;
    legit.sort((a, b) => a - b);
    return {
      seconds: Math.round(seconds * 10) / 10,
      legitRequests: legit.length,
      legitP50Ms: Math.round(q(legit, 0.5)),
      legitP95Ms: Math.round(q(legit, 0.95)),
      legitStatuses,
      gateFramesPerSec: Math.round((frames / seconds) * 10) / 10,
      ...(attack && {
        bombStatuses: statuses,
        refused429or503: (statuses['429'] ?? 0) + (statuses['503'] ?? 0) + (legitStatuses['429'] ?? 0) + (legitStatuses['503'] ?? 0),
        decodesKilled: pool.killed - killedBefore,
      }),
      peakRssMb: Math.round(peakRss / 1e6),
    };
  };
  const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
  let calm: Record<string, unknown>;
  let attack: Record<string, unknown>;
  let calmAfter: Record<string, unknown>;
  try {
    calm = await phase(false);
    attack = await phase(true);
    calmAfter = await phase(false);
  } finally {
    clearInterval(sampler);
    await server.close();
    await pool.stop();
    images.closeAllConnections();
    images.close();
    db.close();
    await rec.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const fps = (p: Record<string, unknown>): number => p.gateFramesPerSec as number;
  return {
    scanBombs: o.scanBombs,
    pngBombs: o.pngBombs,
    loadavg1_5_15Before: loadBefore,
    loadavg1_5_15After: loadavg().map((x) => Math.round(x * 100) / 100),
    calm,
    attack,
    calmAfter,
    gateFpsAttackOverCalm: fps(calm) + fps(calmAfter) > 0 ? Math.round((fps(attack) / ((fps(calm) + fps(calmAfter)) / 2)) * 100) / 100 : null,
  };
}
