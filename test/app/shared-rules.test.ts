// One composition root: the gate's frames and POST /identity are decided by one
// Recognizer, so a reload that raises match.threshold reaches both at once.
import '../api/quiet-logs.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createKey } from '../../src/api/keys.js';
import { GateDaemon } from '../../src/app/daemon.js';
import { startRecognition } from '../../src/app/recognition.js';
import { loadConfig } from '../../src/config/load.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import type { GateDecision } from '../../src/gate/types.js';
import { approach, type ManualClock } from './approach.js';
import { readPhoto } from '../fixtures.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { request } from '../api/helpers.js';
import { WorkerPipeline } from '../../src/vision/worker-pipeline.js';

const TTL_MS = 1500;
let dir: string;
let configFile: string;
let daemon: GateDaemon;
let frame: Buffer;
let key: string;
let photos: http.Server;
let photoPort: number;
const clock: ManualClock = { ms: Date.now() };

const settings = (threshold: number): Record<string, unknown> => ({
  version: 1,
  event: { id: 'ev' },
  relay: { driver: 'sim' },
  camera: { kind: 'replay' },
  gate: { cooldownMs: 0, trackTtlMs: TTL_MS },
  match: { threshold },
  api: { enabled: true, host: '127.0.0.1', imageAllowList: ['127.0.0.1'] },
  // Two frames can be in the models at once (the last test).
  vision: { inferenceWorkers: 2 },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shared-rules-'));
  configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(settings(0.34)));
  const config = loadConfig({ file: configFile, env: {}, overrides: { dataDir: join(dir, 'data') } });
  // Any free port (the schema asks for 1..65535; `serve --port 0` does the same).
  config.api.port = 0;
  const rec = await startRecognition(config, SHARED_MODELS, config.dataDir);
  rec.store.upsertEvent({ id: 'ev' });
  await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config, embedderId: rec.embedderId },
    { eventId: 'ev', userId: 'obama', photos: [{ label: 'o2', data: readPhoto(join(SHARED_FACES, 'people/obama/2.jpg')) }] },
  );
  key = createKey(rec.store.db, 'rules-client').key;
  await rec.stop();
  photos = http.createServer((req, res) => {
    readFile(join(SHARED_FACES, 'people/obama/1.jpg')).then(
      (bytes) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(bytes),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => photos.listen(0, '127.0.0.1', resolve));
  photoPort = (photos.address() as AddressInfo).port;
  daemon = new GateDaemon({ config, configFile, modelsDir: SHARED_MODELS, dataDir: config.dataDir, now: () => clock.ms, mono: () => clock.ms });
  await daemon.start();
  const person = await sharp(join(SHARED_FACES, 'people/obama/1.jpg')).resize({ height: 300 }).toBuffer();
  frame = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#222' } }).composite([{ input: person, left: 200, top: 90 }]).jpeg().toBuffer();
});

after(async () => {
  await daemon?.stop();
  photos?.closeAllConnections();
  await new Promise<void>((resolve) => (photos ? photos.close(() => resolve()) : resolve()));
  await rm(dir, { recursive: true, force: true });
});

const walkUp = (): Promise<GateDecision[]> => approach(daemon, frame, clock, TTL_MS);

async function identifyStatus(): Promise<number> {
  const api = daemon.api;
  assert.ok(api, 'the identity endpoint is served');
  const q = new URLSearchParams({ event_id: 'ev', image_url: `http://127.0.0.1:${photoPort}/obama.jpg` });
  const r = await request(api.address.port, `/identity?${q.toString()}`, { method: 'POST', headers: { 'x-api-key': key } });
  return r.status;
}

void test('a reload raising match.threshold shuts the door and the identity endpoint alike', async () => {
  const atFirst = await walkUp();
  assert.ok(atFirst.some((d) => d.kind === 'grant' && d.userId === 'obama'), `granted at 0.34: ${JSON.stringify(atFirst.map((d) => d.reason))}`);
  assert.equal(await identifyStatus(), 200);

  await writeFile(configFile, JSON.stringify(settings(0.99)));
  assert.ok(daemon.reload().includes('match'));

  const atLast = await walkUp();
  assert.ok(!atLast.some((d) => d.kind === 'grant'), `nobody granted at 0.99: ${JSON.stringify(atLast.map((d) => d.reason))}`);
  assert.equal(await identifyStatus(), 404, 'the endpoint decides by the same, reloaded threshold');
});

void test('a reload of the gate settings while a frame is in the models: that frame decides nothing, the next ones are judged by the new settings', async () => {
  await writeFile(configFile, JSON.stringify(settings(0.34)));
  daemon.reload();
  await writeFile(configFile, JSON.stringify({ ...settings(0.34), gate: { cooldownMs: 1, trackTtlMs: TTL_MS } }));
  // The first vote of a walk-up; the second, which would open, is in the models when the reload lands.
  clock.ms += 100;
  assert.deepEqual(await daemon.processFrame({ data: frame, seq: 100, capturedAtMs: performance.now(), sourceId: 't' }), []);
  clock.ms += 100;
  const inFlight = daemon.processFrame({ data: frame, seq: 101, capturedAtMs: performance.now(), sourceId: 't' });
  assert.ok(daemon.reload().includes('gate'));
  assert.deepEqual((await inFlight).map((d) => d.reason), [], 'matched under the old settings: dropped');
  daemon.flushTracks();
  clock.ms += TTL_MS + 1;
  const next = await walkUp();
  assert.ok(next.some((d) => d.kind === 'grant' && d.userId === 'obama'), `granted under the new settings: ${JSON.stringify(next.map((d) => d.reason))}`);
});

void test('two frames in the models at once (two inference workers) when the gate settings change: neither decides, the relay never pulses for them', async () => {
  const pool = daemon.rec!.pipeline;
  assert.ok(pool instanceof WorkerPipeline && pool.workers === 2, 'two inference workers');
  await writeFile(configFile, JSON.stringify(settings(0.34)));
  daemon.reload();
  daemon.flushTracks();
  clock.ms += TTL_MS + 1;
  await writeFile(configFile, JSON.stringify({ ...settings(0.34), gate: { cooldownMs: 2, trackTtlMs: TTL_MS } }));
  // The first vote of a walk-up; the next two frames, either of which would open, are in the models together.
  clock.ms += 100;
  assert.deepEqual(await daemon.processFrame({ data: frame, seq: 200, capturedAtMs: performance.now(), sourceId: 't' }), []);
  clock.ms += 100;
  const pulses = daemon.stats.pulses;
  const first = daemon.processFrame({ data: frame, seq: 201, capturedAtMs: performance.now(), sourceId: 't' });
  const second = daemon.processFrame({ data: frame, seq: 202, capturedAtMs: performance.now(), sourceId: 't' });
  assert.ok(daemon.reload().includes('gate'));
  assert.deepEqual((await first).map((d) => d.reason), [], 'taken under the old settings: dropped');
  assert.deepEqual((await second).map((d) => d.reason), [], 'taken under the old settings: dropped');
  assert.equal(daemon.stats.pulses, pulses, 'no pulse from a frame that decided nothing');
});
