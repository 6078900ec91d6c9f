// The daemon with its network around it: attendees synced from a central server over
// loopback, results published to a real mosquitto, remote commands, anti-passback
// surviving a restart. In-process, with the simulated relay and frames fed directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import mqtt from 'mqtt';
import { GateDaemon } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import type { SimRelay } from '../../src/relay/index.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { CentralServer, makeSession } from '../sync/central-server.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';

let dir: string;
let broker: Mosquitto;
let central: CentralServer;
let frames: Buffer[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-net-'));
  broker = await Mosquitto.launch();
  central = new CentralServer();
  central.event = { id: 'evt_net', name: 'Net', startsAt: null, endsAt: null };
  // The server has no embedding for the gate's model, only a photo: the gate embeds it.
  central.photos.set('obama.jpg', await readFile(join(SHARED_FACES, 'people/obama/2.jpg')));
  central.put('obama', { session: makeSession('obama', 'Barack Obama'), photo: 'obama.jpg' });
  await central.start();
  const person = await sharp(join(SHARED_FACES, 'people/obama/1.jpg')).resize({ height: 300 }).toBuffer();
  const f = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#222' } }).composite([{ input: person, left: 200, top: 90 }]).jpeg().toBuffer();
  frames = [f, f, f];
});
after(async () => {
  await central.stop();
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

async function configFile(extra = ''): Promise<string> {
  const file = join(dir, 'config.yaml');
  await writeFile(
    file,
    `version: 1\ngateId: g1\nsiteId: s1\ndataDir: ${join(dir, 'data')}\nevent:\n  id: evt_net\ncamera:\n  kind: replay\nrelay:\n  driver: sim\n` +
      `mqtt:\n  brokerUrl: ${broker.url}\n  keepaliveSec: 5\nsync:\n  baseUrl: ${central.baseUrl}\n  apiKey: ${central.apiKey}\n` +
      `gate:\n  cooldownMs: 0\n  antiPassbackMinutes: 60\n${extra}`,
  );
  return file;
}

async function startDaemon(file: string): Promise<GateDaemon> {
  const config = loadConfig({ file, env: {} });
  const d = new GateDaemon({ config, configFile: file, modelsDir: SHARED_MODELS, dataDir: config.dataDir });
  await d.start();
  return d;
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('synced attendee is let in; the result reaches the broker; remote commands are answered; anti-passback survives a restart', async () => {
  const file = await configFile();
  const sub = await mqtt.connectAsync(broker.url);
  const got: { topic: string; payload: Record<string, unknown> }[] = [];
  sub.on('message', (topic, payload) => got.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await sub.subscribeAsync('securegate/s1/g1/#');
  let daemon = await startDaemon(file);
  try {
    // The configured event is not cached yet: the first sync fetches it and embeds the photo.
    await until('the synced attendee', () => (daemon.rec!.store.hasAttendee('evt_net', 'obama') && daemon.event ? true : undefined));
    await until('sync_done', () => got.find((m) => m.topic.endsWith('/events') && m.payload.type === 'sync_done'));
    assert.ok(got.some((m) => m.topic.endsWith('/status') && (m.payload as { state?: string }).state === 'online'));

    const decisions = [];
    for (const data of frames) decisions.push(...(await daemon.processFrame({ data, seq: 0, capturedAtMs: performance.now(), sourceId: 't' })));
    assert.deepEqual(decisions.map((d) => `${d.kind}:${d.userId}`), ['grant:obama']);
    assert.equal((daemon.relay as SimRelay).pulses.length, 1);
    const msg = await until('the sessions message', () => got.find((m) => m.topic.endsWith('/sessions')));
    assert.equal((msg.payload.userInfo as { userId: string }).userId, 'obama');
    assert.equal((msg.payload.gate as { decision: string }).decision, 'granted');

    // Remote open: pulses the relay and is answered with the request's id.
    await sub.publishAsync('securegate/s1/g1/cmd/open', JSON.stringify({ id: 'r1', params: {} }), { qos: 1 });
    const open = await until('the open response', () => got.find((m) => m.topic.endsWith('/cmd/open/response')));
    assert.deepEqual([open.payload.id, open.payload.ok], ['r1', true]);
    assert.equal((daemon.relay as SimRelay).pulses.length, 2);
    // Reload: a changed threshold applies at once; a camera change needs a restart.
    await writeFile(file, (await readFile(file, 'utf8')) + 'match:\n  threshold: 0.45\n');
    await sub.publishAsync('securegate/s1/g1/cmd/reload', JSON.stringify({ id: 'r2', params: {} }), { qos: 1 });
    const reload = await until('the reload response', () => got.find((m) => m.topic.endsWith('/cmd/reload/response')));
    assert.deepEqual((reload.payload.result as { changed: string[] }).changed, ['match']);
    assert.equal(daemon['opts'].config.match.threshold, 0.45);
    await sub.publishAsync('securegate/s1/g1/cmd/sync', JSON.stringify({ id: 'r3', params: {} }), { qos: 1 });
    const sync = await until('the sync response', () => got.find((m) => m.topic.endsWith('/cmd/sync/response')));
    assert.deepEqual(sync.payload.result, { attendees: 1 });
  } finally {
    await daemon.stop();
  }
  // A clean stop publishes the retained offline status.
  assert.ok(got.some((m) => m.topic.endsWith('/status') && (m.payload as { state?: string }).state === 'offline'));

  // Restarted: the same attendee again within antiPassbackMinutes is denied.
  daemon = await startDaemon(file);
  try {
    const decisions = [];
    for (const data of frames) decisions.push(...(await daemon.processFrame({ data, seq: 0, capturedAtMs: performance.now(), sourceId: 't' })));
    assert.deepEqual(decisions.map((d) => `${d.kind}:${d.reason}`), ['deny:anti_passback']);
    assert.equal((daemon.relay as SimRelay).pulses.length, 0);
  } finally {
    await daemon.stop();
    await sub.endAsync();
  }
});
