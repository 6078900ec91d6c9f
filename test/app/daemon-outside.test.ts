// Changes made by another process (a technician's CLI command) reach the running gate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GateDaemon } from '../../src/app/daemon.js';
import { startRecognition } from '../../src/app/recognition.js';
import { loadConfig } from '../../src/config/load.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import type { GateDecision } from '../../src/gate/types.js';
import { approach, type ManualClock } from './approach.js';
import { AttendeeStore } from '../../src/store/attendees.js';
import { FieldCipher } from '../../src/store/crypto.js';
import { openDatabase } from '../../src/store/db.js';
import { readPhoto } from '../fixtures.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';

let dir: string;
let daemon: GateDaemon;
let frame: Buffer;
const TTL_MS = 1500;
/** The daemon's wall clock: frames are stamped with it, and an approach ends by moving it on. */
const clock: ManualClock = { ms: Date.now() };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outside-'));
  const config = loadConfig({ file: null, env: {}, overrides: { dataDir: dir, 'event.id': 'ev', 'relay.driver': 'sim', 'camera.kind': 'replay', 'gate.cooldownMs': 0, 'gate.trackTtlMs': TTL_MS } });
  const rec = await startRecognition(config, SHARED_MODELS, dir);
  rec.store.upsertEvent({ id: 'ev' });
  await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config, embedderId: rec.embedderId },
    { eventId: 'ev', userId: 'obama', photos: [{ label: 'o2', data: readPhoto(join(SHARED_FACES, 'people/obama/2.jpg')) }] },
  );
  await rec.stop();
  daemon = new GateDaemon({ config, configFile: null, modelsDir: SHARED_MODELS, dataDir: dir, now: () => clock.ms, mono: () => clock.ms });
  await daemon.start();
  const person = await sharp(join(SHARED_FACES, 'people/obama/1.jpg')).resize({ height: 300 }).toBuffer();
  frame = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#222' } }).composite([{ input: person, left: 200, top: 90 }]).jpeg().toBuffer();
});
after(async () => {
  await daemon.stop();
  await rm(dir, { recursive: true, force: true });
});

const walkUp = (): Promise<GateDecision[]> => approach(daemon, frame, clock, TTL_MS);

/** Another process: its own connection to the same database file. */
function otherProcess(fn: (s: AttendeeStore) => void): void {
  const db = openDatabase(dir);
  try {
    fn(new AttendeeStore(db, new FieldCipher(null)));
  } finally {
    db.close();
  }
}

test('an event whose end is moved into the past by another process: the next approach is outside_window', async () => {
  assert.deepEqual((await walkUp()).map((d) => d.reason), ['granted']);
  otherProcess((s) => s.upsertEvent({ id: 'ev', endsAt: clock.ms - 60_000 }));
  assert.deepEqual((await walkUp()).map((d) => d.reason), ['outside_window']);
  otherProcess((s) => s.upsertEvent({ id: 'ev', endsAt: null }));
  assert.deepEqual((await walkUp()).map((d) => d.reason), ['granted']);
});

test('an attendee removed by another process is never let in again', async () => {
  otherProcess((s) => assert.equal(s.removeAttendee('ev', 'obama'), true));
  const after = await walkUp();
  assert.ok(after.every((d) => d.kind === 'deny'), JSON.stringify(after.map((d) => d.reason)));
  // Once the gallery has been rebuilt (in the background), the face is simply unknown;
  // until then every approach is still denied.
  const deadline = performance.now() + 10_000;
  for (;;) {
    const later = (await walkUp()).map((d) => d.reason);
    if (later.join() === 'unknown_face') break;
    assert.ok(later.every((r) => r !== 'granted'), JSON.stringify(later));
    assert.ok(performance.now() < deadline, `the gallery was not rebuilt within 10 s: ${JSON.stringify(later)}`);
  }
});
