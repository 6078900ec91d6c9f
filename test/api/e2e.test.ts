// POST /identity end to end on the real pipeline: real models, real photos,
// real SQLite, real HTTP over loopback (the image too, from an allow-listed
// loopback server), and the real `gate-agent serve` executable.
import './quiet-logs.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { createKey } from '../../src/api/keys.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { sessionSchema } from '../../src/api/openapi.js';
import type { AttendeeSession as ContractSession } from '../../src/store/session-types.js';
import { startApiService, type ApiService } from '../../src/app/identity.js';
import { startRecognition, type Recognition } from '../../src/app/recognition.js';
import type { Config } from '../../src/config/types.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { verifyAuditChain } from '../../src/publish/audit.js';
import { Outbox } from '../../src/publish/outbox.js';
import type { AttendeeSession } from '../../src/store/session.js';
import { defaultConfig, readPhoto } from '../fixtures.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { specSession } from './fixtures/spec-session.js';
import { dataUrl, detailOf, request, type Reply, stopServedStack } from './helpers.js';
import { own } from '../proc.js';

const EVENT = 'evt_spring_gala';
const GATE = 'north-1';
const USER = specSession.userInfo.userId;

let dir: string;
let config: Config;
let rec: Recognition;
let outbox: Outbox;
let service: ApiService;
let key: string;
let photos: http.Server;
let photoPort: number;

/** Serves files of shared/faces on 127.0.0.1 (allow-listed below). */
async function startPhotoServer(): Promise<void> {
  photos = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    if (path.includes('..')) return void res.writeHead(400).end();
    readFile(join(SHARED_FACES, path)).then(
      (bytes) => res.writeHead(200, { 'content-type': path.endsWith('.png') ? 'image/png' : 'image/jpeg' }).end(bytes),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => photos.listen(0, '127.0.0.1', resolve));
  photoPort = (photos.address() as AddressInfo).port;
}

const photoUrl = (path: string, port = photoPort): string => `http://127.0.0.1:${port}/${path}`;

function identify(port: number, params: Record<string, string>, apiKey = key): Promise<Reply> {
  return request(port, `/identity?${new URLSearchParams(params).toString()}`, { method: 'POST', headers: { 'x-api-key': apiKey } });
}

interface OutboxMessage {
  seq: number;
  payload: { gate: { decision: string; reason: string; eventId: string; similarity: number | null; threshold?: number; audit: { seq: number } }; userInfo?: { userId: string }; activities?: { id: string }[] };
}

function sessionsAfter(seq: number): OutboxMessage[] {
  return (rec.store.db.prepare("SELECT seq, payload FROM outbox WHERE topic = 'sessions' AND seq > ? ORDER BY seq").all(seq) as { seq: number; payload: string }[]).map(
    (r) => ({ seq: r.seq, payload: JSON.parse(r.payload) as OutboxMessage['payload'] }),
  );
}
const lastSeq = (): number => (rec.store.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM outbox').get() as { s: number }).s;

/** JSON kinds of every leaf, so two objects compare type by type (integers apart from other numbers). */
function shapeOf(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shapeOf);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shapeOf(x)]));
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return v === null ? 'null' : typeof v;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gate-api-e2e-'));
  await startPhotoServer();
  config = defaultConfig({ gateId: GATE, 'api.host': '127.0.0.1', 'api.imageAllowList': ['127.0.0.1'] });
  // Any free port (the schema asks for 1..65535; `serve --port 0` does the same).
  config.api.port = 0;
  rec = await startRecognition(config, SHARED_MODELS, join(dir, 'data'));
  rec.store.upsertEvent({ id: EVENT });
  // The attendee as the central server would have sent them: the spec's example session.
  rec.store.upsertAttendee(EVENT, structuredClone(specSession) as unknown as AttendeeSession);
  const enrolled = await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
    { eventId: EVENT, userId: USER, photos: [{ label: 'obama/1.jpg', data: readPhoto(join(SHARED_FACES, 'people/obama/1.jpg')) }] },
  );
  assert.equal(enrolled.embeddings, 1);
  outbox = new Outbox(rec.store.db, { identity: { gateId: GATE, siteId: config.siteId, eventId: '', modelId: rec.embedderId }, maxMessages: 1000 });
  service = await startApiService({ config, rec, outbox, metrics: new MetricsRegistry() });
  key = createKey(rec.store.db, 'e2e-client').key;
});

after(() => stopServedStack({ service, rec, photos, dir }));

void test('a registered attendee: 200 with the contract session plus this verification, stored, recorded and audited', async () => {
  const port = service.address.port;
  const from = lastSeq();
  const t0 = Date.now();
  const r = await identify(port, { event_id: EVENT, image_url: photoUrl('people/obama/2.jpg') });
  const t1 = Date.now();
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const body = r.json as ContractSession;

  // Everything but the new activity is the stored session, the spec example, value by value and type by type.
  assert.equal(body.activities.length, specSession.activities.length + 1);
  assert.deepStrictEqual({ ...body, activities: body.activities.slice(0, -1) }, specSession);
  assert.deepStrictEqual(Object.keys(body), Object.keys(specSession));
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile(sessionSchema);
  assert.ok(validate(body), ajv.errorsText(validate.errors));

  // The appended activity has the example activity's fields and JSON types.
  const ours = body.activities.at(-1)!;
  assert.deepStrictEqual(shapeOf(ours), shapeOf(specSession.activities[0]));
  assert.equal(ours.type, 'logs');
  assert.equal(ours.userName, `gate ${GATE}`);
  assert.match(ours.id, /^act_[0-9a-f]{16}$/);
  assert.ok(ours.metadata.time >= t0 && ours.metadata.time <= t1, `time ${ours.metadata.time} not in [${t0}, ${t1}]`);
  assert.match(ours.metadata.data, new RegExp(`^identity verified by face at gate ${GATE} for API client "e2e-client" \\(similarity 0\\.\\d\\d\\)$`));
  assert.deepStrictEqual([ours.metadata.from, ours.metadata.to, ours.metadata.stepId], ['completed', 'completed', 'authentication']);

  // Persisted: the stored session now carries the activity.
  assert.deepStrictEqual(rec.store.getSession(EVENT, USER)?.activities.at(-1), ours);

  // Recorded like a gate decision, for the requested event, carrying the same activity.
  const msgs = sessionsAfter(from);
  assert.equal(msgs.length, 1);
  const m = msgs[0]!.payload;
  assert.deepStrictEqual([m.gate.decision, m.gate.reason, m.gate.eventId], ['granted', 'identity_api', EVENT]);
  assert.ok(m.gate.similarity !== null && m.gate.similarity >= config.match.threshold, String(m.gate.similarity));
  assert.ok(ours.metadata.data.includes(m.gate.similarity.toFixed(2)));
  // The effective threshold the still was judged at: one attendee, so match.threshold itself.
  assert.equal(m.gate.threshold, config.match.threshold);
  assert.equal(m.userInfo?.userId, USER);
  assert.equal(m.activities?.at(-1)?.id, ours.id);
  assert.equal(outbox.identity.eventId, '', 'the outbox keeps its own event');
  const chain = verifyAuditChain(rec.store.db);
  assert.equal(chain.ok, true, JSON.stringify(chain));

  const metrics = await request(port, '/metrics');
  assert.match(metrics.text, /^gate_decisions_total\{reason="identity_api"\} 1$/m);
  assert.match(metrics.text, /^gate_stage_seconds_count\{stage="embed"\} [1-9]/m);
  assert.match(metrics.text, /^gate_outbox_depth \d+$/m);
});

void test('a stranger: 404 naming the reason, recorded as unknown without an attendee, nobody\'s activities touched', async () => {
  const before = rec.store.getSession(EVENT, USER)?.activities.length;
  const from = lastSeq();
  const r = await identify(service.address.port, { event_id: EVENT, image_url: photoUrl('people/biden/1.jpg') });
  assert.equal(r.status, 404, r.text);
  assert.match(detailOf(r), /^the face matches no registered attendee of event "evt_spring_gala" \(below_threshold\); .*manual check-in$/);
  const msgs = sessionsAfter(from);
  assert.equal(msgs.length, 1);
  assert.deepStrictEqual([msgs[0]!.payload.gate.decision, msgs[0]!.payload.gate.reason, msgs[0]!.payload.gate.threshold], ['unknown', 'identity_api_below_threshold', config.match.threshold]);
  assert.equal(msgs[0]!.payload.userInfo, undefined);
  assert.equal(rec.store.getSession(EVENT, USER)?.activities.length, before);
  assert.equal(verifyAuditChain(rec.store.db).ok, true);
});

void test('an image without a face: 422, recorded as denied (no_face)', async () => {
  const from = lastSeq();
  const r = await identify(service.address.port, { event_id: EVENT, image_url: photoUrl('white.png') });
  assert.equal(r.status, 422, r.text);
  assert.match(detailOf(r), /^no face was found in the image/);
  const msgs = sessionsAfter(from);
  assert.deepStrictEqual(msgs.map((x) => [x.payload.gate.decision, x.payload.gate.reason]), [['denied', 'identity_api_no_face']]);
});

void test('an event the gate does not know: 404 before any image is fetched, nothing recorded', async () => {
  const from = lastSeq();
  const r = await identify(service.address.port, { event_id: 'evt_nope', image_url: photoUrl('people/obama/2.jpg') });
  assert.equal(r.status, 404, r.text);
  assert.match(detailOf(r), /^event "evt_nope" is not known to this gate/);
  assert.equal(lastSeq(), from);
});

void test('a data: URL image is identified the same way', async () => {
  // Downscaled so the URL fits the request line limit (maxHeaderBytes).
  const jpeg = await sharp(readPhoto(join(SHARED_FACES, 'people/obama/2.jpg'))).resize({ width: 480 }).jpeg({ quality: 85 }).toBuffer();
  const r = await identify(service.address.port, { event_id: EVENT, image_url: dataUrl(jpeg, 'image/jpeg') });
  assert.equal(r.status, 200, r.text);
  const body = r.json as ContractSession;
  assert.equal(body.userInfo.userId, USER);
  assert.equal(body.activities.length, specSession.activities.length + 2, 'one more activity per verification');
});

void test('a key that is not valid: 401, nothing recorded', async () => {
  const from = lastSeq();
  const r = await identify(service.address.port, { event_id: EVENT, image_url: photoUrl('people/obama/2.jpg') }, 'sgk_not-a-key');
  assert.equal(r.status, 401);
  assert.equal(lastSeq(), from);
});

void test('an attendee enrolled at the gate only: 200 with status "processing" (no verification exists), no invented steps', async () => {
  const local = await enrollAttendee(
    { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
    { eventId: EVENT, userId: 'usr_local_kit', name: 'Kit Local', photos: [{ label: 'kit_harington/1.jpg', data: readPhoto(join(SHARED_FACES, 'people/kit_harington/1.jpg')) }] },
  );
  assert.equal(local.embeddings, 1);
  const r = await identify(service.address.port, { event_id: EVENT, image_url: photoUrl('people/kit_harington/2.jpg') });
  assert.equal(r.status, 200, r.text);
  const body = r.json as ContractSession;
  assert.equal(body.userInfo.userId, 'usr_local_kit');
  assert.equal(body.status, 'processing', 'no verification was ever completed for a local enrollment');
  assert.deepStrictEqual([body.authentication, body.kyc], [[], []]);
  const ours = body.activities.at(-1)!;
  assert.deepStrictEqual([ours.metadata.from, ours.metadata.to], ['processing', 'processing']);
  assert.deepStrictEqual(Object.keys(body), Object.keys(specSession), 'the eight contract keys, in order');
});

void test('`gate-agent serve`: listens where told, honours --allow-host, answers /healthz, stops on SIGTERM with exit 0', async () => {
  const data = join(dir, 'serve-data');
  const env = { ...process.env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT_DATA_DIR: data, GATE_AGENT_LOG_LEVEL: 'warn' };
  const cli = (args: string[]): string => {
    const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  cli(['events', 'add', EVENT]);
  const cliKey = (JSON.parse(cli(['keys', 'create', '--name', 'kiosk', '--json'])) as { key: string }).key;

  const child = own(spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--allow-host', `127.0.0.1:${photoPort}`, '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    assert.ok(port > 0);
    const health = await request(port, '/healthz');
    assert.equal(health.status, 200, health.text);
    // Real checks: the database took a write, the models answered, an event exists.
    assert.deepStrictEqual(health.json, {
      live: true,
      ready: true,
      checks: [
        { name: 'store', ready: true },
        { name: 'models', ready: true },
        { name: 'event', ready: true },
      ],
    });
    // Allowed by --allow-host: the image is fetched and the pipeline finds no face in it.
    const white = await identify(port, { event_id: EVENT, image_url: photoUrl('white.png') }, cliKey);
    assert.equal(white.status, 422, white.text);
    // The allow-list names that port only.
    const other = await identify(port, { event_id: EVENT, image_url: photoUrl('white.png', service.address.port) }, cliKey);
    assert.equal(other.status, 400, other.text);
    assert.match(detailOf(other), /loopback|private|allow-list/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
