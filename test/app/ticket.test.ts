// gate.mode verify end to end: real models, image-folder replays whose first frames show a
// ticket QR code (made with the qrcode package, composited onto a camera frame with sharp),
// then a face walking up; the simulated relay; decisions read back from the SQLite outbox.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';
import sharp from 'sharp';
import BetterSqlite3 from 'better-sqlite3';
import { startRecognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { writeWalkUpFrames } from '../../scripts/walk-up-frames.js';
import { defaultConfig } from '../fixtures.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own } from '../proc.js';

let dir: string;
let template: string;
const W = 640, H = 480;

/** A camera frame showing a QR code of `text`, as a phone held up to the camera. */
export async function qrFrame(text: string): Promise<Buffer> {
  const qr = await QRCode.toBuffer(text, { type: 'png', width: 220, margin: 2 });
  return sharp({ create: { width: W, height: H, channels: 3, background: '#202020' } })
    .composite([{ input: qr, left: 210, top: 130 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** A replay folder: `qrFrames` frames of each QR text in turn, then `photo` walking up (sorted after them). */
async function scene(name: string, qrs: string[], photo: string): Promise<string> {
  const d = join(dir, name);
  await writeWalkUpFrames(photo, d, { frames: 10, startScale: 0.5 });
  let n = 0;
  for (const text of qrs) {
    const jpg = await qrFrame(text);
    for (let i = 0; i < 3; i++) await writeFile(join(d, `frame-000-qr-${String(++n).padStart(2, '0')}.jpg`), jpg);
  }
  return d;
}

const folders: Record<string, string> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticket-'));
  template = join(dir, 'template');
  const rec = await startRecognition(defaultConfig(), SHARED_MODELS, template);
  try {
    rec.store.upsertEvent({ id: 'gala' });
    const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId };
    const photo = async (p: string) => [{ label: p, data: await readFile(join(SHARED_FACES, p)) }];
    await enrollAttendee(deps, { eventId: 'gala', userId: 'obama', qrId: 'qr-obama-7731', photos: await photo('people/obama/2.jpg') });
    await enrollAttendee(deps, { eventId: 'gala', userId: 'kit', qrId: 'qr-kit-4410', photos: await photo('people/kit_harington/1.jpg') });
  } finally {
    await rec.stop();
  }
  folders.owner = await scene('owner', ['qr-obama-7731'], join(SHARED_FACES, 'people/obama/1.jpg'));
  folders.other = await scene('other', ['qr-obama-7731'], join(SHARED_FACES, 'people/kit_harington/3.jpg'));
  folders.noTicket = await scene('no-ticket', ['qr-not-a-ticket'], join(SHARED_FACES, 'people/obama/1.jpg'));
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

interface Summary { frames: number; decisions: Record<string, number>; pulses: number }
interface Gate { decision: string; reason: string; similarity: number | null; threshold?: number; timingsMs: Record<string, number> }

/** `gate-agent run --once` over `folder` in `mode` on a copy of the enrolled attendees; its summary and sessions messages. */
async function replay(t: TestContext, folder: string, mode: string): Promise<{ s: Summary; sessions: { gate: Gate; userInfo?: { userId: string } }[]; stderr: string }> {
  const data = await mkdtemp(join(dir, 'data-'));
  await cp(template, data, { recursive: true });
  const child = own(spawn(process.execPath, [BIN, 'run', '--event', 'gala', '--camera-path', folder, '--once'], {
    env: {
      ...process.env,
      GATE_AGENT_MODELS_DIR: SHARED_MODELS,
      GATE_AGENT_DATA_DIR: data,
      GATE_AGENT__relay__driver: '"sim"',
      GATE_AGENT__gate__mode: JSON.stringify(mode),
      // Every frame of a folder is processed: 4 frames/s is slower than the pipeline here.
      GATE_AGENT__camera__fps: '4',
      GATE_AGENT_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }), t);
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0, stderr.slice(-2000));
  const db = new BetterSqlite3(join(data, 'gate-agent.db'), { readonly: true });
  try {
    const sessions = (db.prepare("SELECT payload FROM outbox WHERE topic = 'sessions' ORDER BY seq").all() as { payload: string }[]).map((r) => JSON.parse(r.payload) as never);
    return { s: JSON.parse(stdout.trim().split('\n').pop()!) as Summary, sessions, stderr };
  } finally {
    db.close();
  }
}

test('verify: the ticket holder showing their QR code, then walking up, is granted once at the 1:1 threshold', async (t) => {
  const { s, sessions, stderr } = await replay(t, folders.owner!, 'verify');
  assert.deepEqual(s.decisions, { granted: 1 }, stderr.slice(-2000));
  assert.equal(s.pulses, 1);
  const g = sessions[0]!;
  assert.equal(g.userInfo?.userId, 'obama');
  assert.match(stderr, /ticket of obama shown/);
  const verifyThreshold = Number(/compared 1:1 at threshold ([\d.]+)/.exec(stderr)?.[1]);
  assert.ok(verifyThreshold > 0.3, stderr.slice(0, 3000));
  assert.equal(g.gate.threshold, verifyThreshold, 'recorded at the verify threshold, not the 1:N one');
  assert.ok(g.gate.similarity! >= verifyThreshold);
  assert.ok(g.gate.timingsMs.qrMs! >= 0, JSON.stringify(g.gate.timingsMs));
});

test('verify: someone else behind the ticket holder\'s QR code is denied ticket_face_mismatch, no pulse', async (t) => {
  const { s, sessions, stderr } = await replay(t, folders.other!, 'verify');
  assert.deepEqual(s.decisions, { ticket_face_mismatch: 1 }, stderr.slice(-2000));
  assert.equal(s.pulses, 0);
  // The record names the ticket's attendee: whose ticket was misused.
  assert.equal(sessions[0]!.userInfo?.userId, 'obama');
  assert.equal(sessions[0]!.gate.decision, 'denied');
  // In identify mode the same frames let kit in: verify mode is what kept them out.
  const identify = await replay(t, folders.other!, 'identify');
  assert.deepEqual(identify.s.decisions, { granted: 1 });
});

test('verify: a face without a ticket is denied ticket_required and a foreign QR code is reported unknown_ticket; either mode identifies 1:N', async (t) => {
  const { s, sessions, stderr } = await replay(t, folders.noTicket!, 'verify');
  assert.deepEqual(s.decisions, { unknown_ticket: 1, ticket_required: 1 }, stderr.slice(-2000));
  assert.equal(s.pulses, 0);
  assert.deepEqual(sessions.map((m) => m.gate.reason), ['unknown_ticket', 'ticket_required']);
  assert.ok(!stderr.includes('qr-not-a-ticket'), 'the QR text is not logged');
  const either = await replay(t, folders.noTicket!, 'either');
  assert.deepEqual(either.s.decisions, { unknown_ticket: 1, granted: 1 });
  assert.equal(either.s.pulses, 1);
});
