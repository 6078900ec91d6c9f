// Resource control of POST /identity: admission (slots, pixel budget, queue deadline),
// decoding in killable niced workers, connection caps. Real HTTP over loopback, real
// sharp in the decode workers, hostile images made on the fly (scripts/hostile-images.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { Admission } from '../../src/api/admission.js';
import { manualTimers } from './manual-timers.js';
import { DecodePool } from '../../src/api/decode-pool.js';
import { imageSize } from '../../src/api/image-header.js';
import { ApiError } from '../../src/api/errors.js';
import { pngBomb, scanBomb } from '../../scripts/hostile-images.js';
import { alive, until } from '../proc.js';
import { EVENT, request, startApi, tempDir } from './helpers.js';

test('admission: slots and the pixel budget bound what runs; the queue is bounded and has a deadline (503 + Retry-After)', async () => {
  const timers = manualTimers();
  const rejected: string[] = [];
  const a = new Admission({ maxInFlight: 2, maxInFlightPerClient: 2, maxInFlightPixels: 100, smallImagePixels: 1, maxQueued: 2, queueTimeoutMs: 4000 }, timers, (r) => rejected.push(r));
  const big = await a.acquire(90);
  // Pixels, not just count: a second slot is free, but 90 + 20 > 100.
  let smallIn = false;
  const small = a.acquire(20).then((r) => ((smallIn = true), r));
  await Promise.resolve();
  assert.equal(smallIn, false);
  assert.deepEqual(a.stats(), { inFlight: 1, inFlightPixels: 90, queued: 1 });
  const third = a.acquire(5);
  // Queue full (2 waiting): turned away at once.
  await assert.rejects(a.acquire(5), (e: ApiError) => e.status === 503 && e.headers['retry-after'] === '4' && /busy/.test(e.detail));
  // Larger than the whole budget: 413, it could never run.
  await assert.rejects(a.acquire(101), (e: ApiError) => e.status === 413);
  big();
  const r2 = await small;
  const r3 = await third;
  assert.deepEqual(a.stats(), { inFlight: 2, inFlightPixels: 25, queued: 0 });
  // A waiter whose deadline passes gets 503 and leaves the queue.
  const late = a.acquire(1);
  timers.fire();
  await assert.rejects(late, (e: ApiError) => e.status === 503 && e.headers['retry-after'] === '4');
  assert.equal(a.stats().queued, 0);
  r2();
  r3();
  r2(); // a second release is ignored
  assert.deepEqual(a.stats(), { inFlight: 0, inFlightPixels: 0, queued: 0 });
  assert.deepEqual(rejected, ['queue_full', 'too_many_pixels', 'queue_timeout']);
});

test('image headers give the size without decoding (JPEG, progressive JPEG, PNG, WebP)', async () => {
  const base = sharp({ create: { width: 321, height: 123, channels: 3, background: '#888' } });
  assert.deepEqual(imageSize(await base.clone().jpeg().toBuffer()), { width: 321, height: 123 });
  assert.deepEqual(imageSize(await base.clone().png().toBuffer()), { width: 321, height: 123 });
  assert.deepEqual(imageSize(await base.clone().webp().toBuffer()), { width: 321, height: 123 });
  assert.deepEqual(imageSize(await base.clone().webp({ lossless: true }).toBuffer()), { width: 321, height: 123 });
  assert.deepEqual(imageSize(scanBomb(1000)), { width: 1000, height: 1000 });
  assert.equal(imageSize(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), null);
});

test('a scan bomb is stopped at the decode deadline: the worker is killed, and the next image decodes', async (t) => {
  const pool = new DecodePool({ workers: 1, timeoutMs: 800, wallTimeoutMs: 30_000, maxPixels: 40_000_000, maxSidePx: 512 });
  pool.start();
  t.after(() => pool.stop());
  const [pid] = await until('the decode worker to start', () => (pool.pids().length ? pool.pids() : undefined));
  await assert.rejects(pool.decode(scanBomb(4000)), (e: Error) => /longer than 800 ms of CPU time and was stopped/.test(e.message));
  assert.equal(pool.killed, 1);
  await until('the killed worker to be gone', () => (alive(pid!) ? undefined : true), 5000);
  // Downscaled to maxSidePx in the worker, aspect kept.
  const img = await pool.decode(await sharp({ create: { width: 1024, height: 768, channels: 3, background: '#468' } }).jpeg().toBuffer());
  assert.deepEqual([img.width, img.height, img.data.length], [512, 384, 512 * 384 * 3]);
});

test('4 scan bombs and 20 PNG bombs in flight: a legitimate request still answers (200, or a clean 503 with Retry-After)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'scan.jpg'), scanBomb(4000));
  await writeFile(join(dir, 'png.png'), await pngBomb(6300));
  const pool = new DecodePool({ workers: 2, timeoutMs: 1500, wallTimeoutMs: 30_000, maxPixels: 40_000_000, maxSidePx: 2048 });
  pool.start();
  t.after(() => pool.stop());
  const api = await startApi(t, {
    decoder: pool,
    config: { snapshotDir: dir, maxRecognitionsInFlight: 2, maxInFlightPixels: 40_000_000, maxQueuedRecognitions: 8, queueTimeoutMs: 3000, rateLimitPerKeyBurst: 1000 },
  });
  const url = (name: string): string => pathToFileURL(join(dir, name)).href;
  const bombs = [
    ...Array.from({ length: 4 }, () => api.identify({ event_id: EVENT, image_url: url('scan.jpg') })),
    ...Array.from({ length: 20 }, () => api.identify({ event_id: EVENT, image_url: url('png.png') })),
  ];
  await until('bombs to be in flight', async () => ((await api.req('/metrics')).text.match(/api_recognitions_in_flight (\d+)/)?.[1] !== '0' ? true : undefined), 10_000, 20);
  const face = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } }).jpeg().toBuffer();
  const legit = await api.identify({ event_id: EVENT, image_url: `data:image/jpeg;base64,${face.toString('base64')}` });
  assert.ok(legit.status === 200 || (legit.status === 503 && legit.headers['retry-after'] !== undefined), `${legit.status} ${legit.text}`);
  const statuses = (await Promise.all(bombs)).map((r) => r.status);
  // Every bomb got a clean answer: stopped (415), turned away (503), or (the PNG) decoded and judged.
  for (const s of statuses) assert.ok([200, 415, 503].includes(s), String(s));
  assert.ok(statuses.slice(0, 4).some((s) => s === 415), `scan bombs: ${statuses.slice(0, 4).join(',')}`);
  assert.ok(statuses.includes(503), 'the queue turned some bombs away');
  // The PNG bombs that ran reached the service as downscaled pixels, never as 40 M pixels.
  for (const c of api.identity.calls) assert.ok(Buffer.isBuffer(c.image) || (c.image as unknown as { width: number }).width <= 2048);
});

test('idle sockets beyond the connection cap do not lock out /healthz: the oldest idle ones are closed instead', async (t) => {
  // The caps are lowered so that a few hundred sockets exercise them (the real default is 256 total, 32 per address).
  const api = await startApi(t, { config: { maxConnections: 50, maxConnectionsPerAddress: 50 } });
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  let closedByServer = 0;
  for (let i = 0; i < 300; i++) {
    // From ten loopback addresses, so the total cap is what bites (30 each, under the per-address cap).
    const s = net.connect({ port: api.port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (i % 10)}` });
    s.on('error', () => {});
    s.on('close', () => closedByServer++);
    sockets.push(s);
  }
  await until('the idle sockets to be connected or shed', () => (sockets.every((s) => !s.connecting) ? true : undefined), 10_000);
  const health = await request(api.port, '/healthz');
  assert.equal(health.status, 200, health.text);
  await until('the server to shed the oldest idle sockets', () => (closedByServer >= 250 ? true : undefined), 10_000);
  const metrics = (await api.req('/metrics')).text;
  assert.match(metrics, /api_connections_shed_total\{reason="total"\} \d+/);
});

test('one address cannot hold more than its share of connections', async (t) => {
  const api = await startApi(t, { config: { maxConnections: 100, maxConnectionsPerAddress: 10 } });
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  let closed = 0;
  for (let i = 0; i < 40; i++) {
    const s = net.connect(api.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => closed++);
    sockets.push(s);
  }
  await until('30 sockets over the per-address cap to be closed', () => (closed >= 30 ? true : undefined), 10_000);
  assert.equal((await request(api.port, '/healthz')).status, 200);
  assert.match((await api.req('/metrics')).text, /api_connections_shed_total\{reason="per_address"\} \d+/);
});

test('the gate-wide rate limit holds when keys and addresses rotate', async (t) => {
  let nowMs = 0;
  const api = await startApi(t, { now: () => nowMs, config: { rateLimitTotalPerSec: 1, rateLimitTotalBurst: 3 } });
  const face = (await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer()).toString('base64');
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await api.identify({ event_id: EVENT, image_url: `data:image/jpeg;base64,${face}` })).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  nowMs += 1000;
  assert.equal((await api.identify({ event_id: EVENT, image_url: `data:image/jpeg;base64,${face}` })).status, 200);
});

test('api.metricsRequireKey: /metrics answers 401 without a valid key, 200 with one', async (t) => {
  const api = await startApi(t, { config: { metricsRequireKey: true } });
  assert.equal((await api.req('/metrics')).status, 401);
  assert.equal((await api.req('/metrics', { headers: { 'x-api-key': 'sgk_wrong' } })).status, 401);
  assert.equal((await api.req('/metrics', { headers: { 'x-api-key': api.key } })).status, 200);
});
