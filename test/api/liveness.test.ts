// POST /identity with liveness: the real pipeline and MiniFASNet models, real HTTP.
// With `liveness.mode: required` a face that looks like a phone replay is refused with
// 422 and recorded; with `advisory` the same face is verified and its score recorded.
import './quiet-logs.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../../src/api/keys.js';
import { startApiService, type ApiService } from '../../src/app/identity.js';
import { startRecognition, type Recognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { verifyAuditChain } from '../../src/publish/audit.js';
import { Outbox } from '../../src/publish/outbox.js';
import { defaultConfig } from '../fixtures.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { dataUrl, detailOf, request, type Reply } from './helpers.js';

const EVENT = 'pad';
// Person b of pad/selfie-crops (live crops 72-186, phone-replay crops 66-180; docs/accuracy.md).
const LIVE = join(SHARED_FACES, 'pad/selfie-crops/live/186.png');
const REPLAY = join(SHARED_FACES, 'pad/selfie-crops/attack/120.png');

let dir: string;
let rec: Recognition;
let outbox: Outbox;
let key: string;
const services: ApiService[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'api-liveness-'));
  const config = defaultConfig({ 'api.host': '127.0.0.1', 'liveness.mode': 'required' });
  config.api.port = 0;
  rec = await startRecognition(config, SHARED_MODELS, join(dir, 'data'));
  rec.store.upsertEvent({ id: EVENT });
  const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config, embedderId: rec.embedderId };
  await enrollAttendee(deps, { eventId: EVENT, userId: 'selfie-b', photos: [{ label: 'live', data: await readFile(LIVE) }] });
  await enrollAttendee(deps, { eventId: EVENT, userId: 't1', photos: [{ label: 't1', data: await readFile(join(SHARED_FACES, 'spoof/image_T1.jpg')) }] });
  outbox = new Outbox(rec.store.db, { identity: { gateId: config.gateId, siteId: config.siteId, eventId: '', modelId: rec.embedderId }, maxMessages: 1000 });
  key = createKey(rec.store.db, 'liveness-client').key;
  for (const mode of ['required', 'advisory'] as const) {
    services.push(await startApiService({ config: { ...config, liveness: { ...config.liveness, mode } }, rec, outbox }));
  }
});

after(async () => {
  for (const s of services) await s.close();
  await rec?.stop();
  await rm(dir, { recursive: true, force: true });
});

const [required, advisory] = [0, 1];
async function identify(service: number, path: string): Promise<Reply> {
  const image = dataUrl(await readFile(path), path.endsWith('.png') ? 'image/png' : 'image/jpeg');
  return request(services[service]!.address.port, `/identity?${new URLSearchParams({ event_id: EVENT, image_url: image }).toString()}`, { method: 'POST', headers: { 'x-api-key': key } });
}

interface Gate { decision: string; reason: string; similarity: number | null; liveness?: { score: number; frames: number } }
function gatesAfter(seq: number): { gate: Gate; userId: string | null }[] {
  const rows = rec.store.db.prepare("SELECT payload FROM outbox WHERE topic = 'sessions' AND seq > ? ORDER BY seq").all(seq) as { payload: string }[];
  return rows.map((r) => JSON.parse(r.payload) as { gate: Gate; userInfo?: { userId: string } }).map((p) => ({ gate: p.gate, userId: p.userInfo?.userId ?? null }));
}
const lastSeq = (): number => (rec.store.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM outbox').get() as { s: number }).s;

test('required: a phone replay of an attendee is refused with 422, recorded as denied with its score, and reveals no match', async () => {
  const from = lastSeq();
  const r = await identify(required, REPLAY);
  assert.equal(r.status, 422, r.text);
  assert.match(detailOf(r), /^the face in the image did not pass the liveness check \(score 0\.\d\d\)/);
  const rec0 = gatesAfter(from);
  assert.equal(rec0.length, 1);
  assert.deepEqual([rec0[0]!.gate.decision, rec0[0]!.gate.reason, rec0[0]!.gate.similarity, rec0[0]!.userId], ['denied', 'identity_api_liveness_failed', null, null]);
  assert.ok(rec0[0]!.gate.liveness!.score < 0.5, JSON.stringify(rec0[0]!.gate));
  assert.equal(rec0[0]!.gate.liveness!.frames, 1);
  assert.equal(verifyAuditChain(rec.store.db).ok, true);
});

test('required: a live photo of an attendee is verified, with its score recorded', async () => {
  const from = lastSeq();
  const r = await identify(required, join(SHARED_FACES, 'spoof/image_T1.jpg'));
  assert.equal(r.status, 200, r.text);
  assert.equal((r.json as { userInfo: { userId: string } }).userInfo.userId, 't1');
  const g = gatesAfter(from)[0]!.gate;
  assert.equal(g.reason, 'identity_api');
  assert.ok(g.liveness!.score >= 0.9, JSON.stringify(g));
});

test('advisory: the same phone replay is verified (200) and its low score recorded', async () => {
  const from = lastSeq();
  const r = await identify(advisory, REPLAY);
  assert.equal(r.status, 200, r.text);
  assert.equal((r.json as { userInfo: { userId: string } }).userInfo.userId, 'selfie-b');
  const g = gatesAfter(from)[0]!.gate;
  assert.equal(g.reason, 'identity_api');
  assert.ok(g.liveness!.score < 0.5, JSON.stringify(g));
});
