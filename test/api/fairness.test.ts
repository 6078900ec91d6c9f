// Fairness under attack, end to end: one API key floods POST /identity with scan bombs and
// PNG bombs (its own rate limits lifted, as in `npm run bench:api -- --hostile`) while
// another key verifies a real photo twice a second. The gate-wide rate limit and the
// admission queue stay at their defaults; both are shared between keys, so the quiet key
// gets its 200s. Real models, real photos, real decode workers, real HTTP over loopback.
import './quiet-logs.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKey } from '../../src/api/keys.js';
import { startApiService, type ApiService } from '../../src/app/identity.js';
import { startRecognition, type Recognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { Outbox } from '../../src/publish/outbox.js';
import { pngBomb, scanBomb } from '../../scripts/hostile-images.js';
import { defaultConfig, readPhoto } from '../fixtures.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { until } from '../proc.js';
import { request, stopServedStack } from './helpers.js';

const EVENT = 'evt_fair';
let dir: string;
let rec: Recognition;
let service: ApiService;
let photos: http.Server;
let photoPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gate-api-fair-'));
  const photo = await readFile(join(SHARED_FACES, 'people/obama/2.jpg'));
  photos = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo));
  await new Promise<void>((resolve) => photos.listen(0, '127.0.0.1', resolve));
  photoPort = (photos.address() as AddressInfo).port;
  await writeFile(join(dir, 'scan.jpg'), scanBomb(4000));
  await writeFile(join(dir, 'png.png'), await pngBomb(6300));
  const config = defaultConfig({
    'api.host': '127.0.0.1',
    'api.imageAllowList': [`127.0.0.1:${photoPort}`],
    'api.snapshotDir': dir,
    // Both keys send from 127.0.0.1, and the attacker's key is unthrottled: only the
    // gate-wide limit (default 20/s, burst 40) and admission (default) stand in its way.
    'api.rateLimitPerIpBurst': 1_000_000,
    'api.rateLimitPerKeyBurst': 1_000_000,
  });
  config.api.port = 0;
  rec = await startRecognition(config, SHARED_MODELS, join(dir, 'data'));
  rec.store.upsertEvent({ id: EVENT });
  await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
    { eventId: EVENT, userId: 'usr_obama', name: 'Barack Obama', photos: [{ label: 'obama/1.jpg', data: readPhoto(join(SHARED_FACES, 'people/obama/1.jpg')) }] },
  );
  const outbox = new Outbox(rec.store.db, { identity: { gateId: 'fair', siteId: config.siteId, eventId: '', modelId: rec.embedderId }, maxMessages: 100_000 });
  service = await startApiService({ config, rec, outbox });
});

after(() => stopServedStack({ service, rec, photos, dir }));

test('a key flooding with bombs does not take a quiet key\'s share: the quiet key gets 200s, the flood gets 429/503/415', async (t) => {
  const port = service.address.port;
  const attacker = createKey(rec.store.db, 'attacker').key;
  const quiet = createKey(rec.store.db, 'kiosk').key;
  const post = (key: string, imageUrl: string) =>
    request(port, `/identity?${new URLSearchParams({ event_id: EVENT, image_url: imageUrl }).toString()}`, { method: 'POST', headers: { 'x-api-key': key } });
  const floodStatuses: number[] = [];
  let attacking = true;
  let floodHeldASlot = 0;
  const bomb = async (name: string): Promise<void> => {
    while (attacking) floodStatuses.push((await post(attacker, pathToFileURL(join(dir, name)).href).catch(() => ({ status: 0 }))).status);
  };
  const attack = Promise.all([...Array.from({ length: 4 }, () => bomb('scan.jpg')), ...Array.from({ length: 20 }, () => bomb('png.png'))]);
  const quietAnswers: { status: number; ms: number; detail: string }[] = [];
  try {
    // The flood is under way: refused at the gate-wide limit, and bombs holding a slot.
    const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await request(port, '/metrics')).text)?.[1] ?? NaN);
    await until('the flood to be refused and in flight', async () => (floodStatuses.includes(429) && (await metric('api_recognitions_in_flight')) >= 1 ? true : undefined), 30_000);
    // The kiosk: eight verifications, about two a second (a person every half second).
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      const r = await post(quiet, `http://127.0.0.1:${photoPort}/obama.jpg`);
      const ms = performance.now() - t0;
      quietAnswers.push({ status: r.status, ms: Math.round(ms), detail: r.status === 200 ? '' : r.text.slice(0, 200) });
      if ((await metric('api_recognitions_in_flight')) >= 1) floodHeldASlot++;
      await new Promise((r) => setTimeout(r, Math.max(0, 500 - ms)));
    }
  } finally {
    attacking = false;
    await attack;
  }
  assert.deepEqual(quietAnswers.filter((a) => a.status !== 200), [], JSON.stringify(quietAnswers));
  // The flood was real and was held: bombs decoding throughout, the rest refused at the
  // gate-wide limit or turned away by the queue; every answer a clean one.
  const count = (s: number): number => floodStatuses.filter((x) => x === s).length;
  assert.ok(floodHeldASlot >= 6, `the flood held a recognition slot at ${floodHeldASlot} of 8 checks`);
  assert.ok(count(429) > 100, `429s: ${count(429)}`);
  assert.deepEqual(floodStatuses.filter((s) => ![404, 415, 422, 429, 503].includes(s)), []);
  t.diagnostic(`quiet key: ${quietAnswers.map((a) => `${a.status} in ${a.ms} ms`).join(', ')}; flood: ${floodStatuses.length} answers, ${count(429)} x 429, ${count(503)} x 503, ${count(415)} x 415, ${count(404) + count(422)} judged`);
});
