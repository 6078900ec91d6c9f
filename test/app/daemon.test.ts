// The daemon end to end: real models, real ffmpeg replays of the shared photos, the
// simulated relay, decisions read back from the real SQLite outbox.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import BetterSqlite3 from 'better-sqlite3';
import { startRecognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { makeClip, standardPhotos } from '../capture/clips.js';
import { defaultConfig, readPhoto } from '../fixtures.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';

let dir: string;
let data: string;
const clips: Record<string, string> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-'));
  data = join(dir, 'data');
  const rec = await startRecognition(defaultConfig(), SHARED_MODELS, data);
  try {
    rec.store.upsertEvent({ id: 'gala' });
    const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId };
    // Enrolled from a different photo than the one the camera sees.
    await enrollAttendee(deps, { eventId: 'gala', userId: 'obama', name: 'Barack Obama', photos: [{ label: 'o2', data: readPhoto(join(SHARED_FACES, 'people/obama/2.jpg')) }] });
    await enrollAttendee(deps, { eventId: 'gala', userId: 'kit', name: 'Kit', photos: [{ label: 'k1', data: readPhoto(join(SHARED_FACES, 'people/kit_harington/1.jpg')) }] });
  } finally {
    await rec.stop();
  }
  await makeClip('walk-up', [standardPhotos.enrolled], (clips.walkUp = join(dir, 'walk-up.mp4')));
  await makeClip('stranger', [standardPhotos.stranger], (clips.stranger = join(dir, 'stranger.mp4')));
  await makeClip('empty', [standardPhotos.empty], (clips.empty = join(dir, 'empty.mp4')));
  await makeClip('pair', [...standardPhotos.pair], (clips.pair = join(dir, 'pair.mp4')), { durationS: 3 });
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const baseEnv = (extra: Record<string, string> = {}) => ({
  ...process.env,
  GATE_AGENT_MODELS_DIR: SHARED_MODELS,
  GATE_AGENT_DATA_DIR: data,
  GATE_AGENT__relay__driver: '"sim"',
  GATE_AGENT_LOG_LEVEL: 'info',
  ...extra,
});

function spawnAgent(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, 'run', '--event', 'gala', ...args], { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const out = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return { child, out };
}

interface Summary { frames: number; decisions: Record<string, number>; pulses: number }
async function replay(clip: string): Promise<Summary & { stderr: string }> {
  const r = await spawnAgent(['--camera-path', clip, '--once']).out;
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary), stderr: r.stderr };
}

function sessionsSince(seq: number): { seq: number; payload: { gate: { decision: string; reason: string }; userInfo?: { userId: string } } }[] {
  const db = new BetterSqlite3(join(data, 'gate-agent.db'), { readonly: true });
  try {
    return (db.prepare("SELECT seq, payload FROM outbox WHERE topic = 'sessions' AND seq > ? ORDER BY seq").all(seq) as { seq: number; payload: string }[]).map((r) => ({ seq: r.seq, payload: JSON.parse(r.payload) as never }));
  } finally {
    db.close();
  }
}
const lastSeq = (): number => sessionsSince(0).at(-1)?.seq ?? 0;

test('the enrolled person walking up gets exactly one relay pulse, recorded with their session', async () => {
  const from = lastSeq();
  const s = await replay(clips.walkUp!);
  assert.equal(s.pulses, 1, JSON.stringify(s.decisions));
  assert.equal(s.decisions.granted, 1);
  const granted = sessionsSince(from).filter((m) => m.payload.gate.decision === 'granted');
  assert.equal(granted.length, 1);
  assert.equal(granted[0]!.payload.userInfo?.userId, 'obama');
  assert.ok(!JSON.stringify(granted[0]!.payload).includes('embedding'));
  // The first log lines say what runs in place of the missing hardware.
  assert.match(s.stderr, /simulated/);
  assert.match(s.stderr, /mqtt.brokerUrl not set: results are kept in the local outbox/);
  assert.match(s.stderr, /camera: replay of/);
});

test('a stranger gets no pulse and is reported once as unknown; an empty scene gives nothing', async () => {
  const stranger = await replay(clips.stranger!);
  assert.equal(stranger.pulses, 0);
  assert.deepEqual(stranger.decisions, { unknown_face: 1 });
  const empty = await replay(clips.empty!);
  assert.equal(empty.pulses, 0);
  assert.deepEqual(empty.decisions, {});
  assert.ok(empty.frames > 5);
});

test('two people at once: the enrolled one is let in, the other reported unknown', async () => {
  const s = await replay(clips.pair!);
  assert.equal(s.pulses, 1, JSON.stringify(s.decisions));
  assert.equal(s.decisions.granted, 1);
  assert.equal(s.decisions.unknown_face, 1);
});

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the webcam source through a real fswebcam; SIGTERM stops the daemon cleanly', async () => {
  // fswebcam's FILE: reader needs a baseline JPEG (it crashes on progressive ones).
  const photo = join(dir, 'at-the-gate.jpg');
  await writeFile(photo, await sharp(standardPhotos.enrolled).resize(640).jpeg({ progressive: false }).toBuffer());
  const from = lastSeq();
  const { child, out } = spawnAgent([], { GATE_AGENT__camera__kind: '"webcam"', GATE_AGENT__camera__device: JSON.stringify(`FILE:${photo}`), GATE_AGENT__camera__fps: '4' });
  const granted = await until('a grant from the webcam', () => sessionsSince(from).find((m) => m.payload.gate.decision === 'granted'));
  assert.equal(granted.payload.userInfo?.userId, 'obama');
  child.kill('SIGTERM');
  const r = await out;
  assert.equal(r.code, 0, r.stderr.slice(-1500));
  assert.match(r.stderr, /shutting down/);
  assert.equal(sessionsSince(from).filter((m) => m.payload.gate.decision === 'granted').length, 1, 'one pass per approach');
});

test('camera loss: the replay ffmpeg killed mid-run is restarted and decisions resume', async () => {
  const from = lastSeq();
  const { child, out } = spawnAgent(['--camera-path', clips.walkUp!], { GATE_AGENT__camera__loop: 'true', GATE_AGENT__gate__cooldownMs: '0' });
  await until('a first grant', () => sessionsSince(from).find((m) => m.payload.gate.decision === 'granted'));
  const ffmpeg = await until('the ffmpeg child', () => childPids(child.pid!).find((p) => p.cmd.includes('ffmpeg')));
  process.kill(ffmpeg.pid, 'SIGKILL');
  const db = () => new BetterSqlite3(join(data, 'gate-agent.db'), { readonly: true });
  const eventSeq = await until('camera_restored', () => {
    const d = db();
    try {
      const rows = d.prepare("SELECT seq, payload FROM outbox WHERE topic = 'events' AND seq > ?").all(0) as { seq: number; payload: string }[];
      const lost = rows.find((r) => (JSON.parse(r.payload) as { type: string }).type === 'camera_lost');
      const restored = rows.find((r) => (JSON.parse(r.payload) as { type: string }).type === 'camera_restored' && lost && r.seq > lost.seq);
      return restored?.seq;
    } finally {
      d.close();
    }
  });
  await until('a grant after the restart', () => sessionsSince(eventSeq).find((m) => m.payload.gate.decision === 'granted'));
  child.kill('SIGTERM');
  assert.equal((await out).code, 0);
  assert.equal(childPids(child.pid!).length, 0);
});

/** Child processes of pid, from /proc. */
function childPids(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  try {
    for (const tid of require_readdirSync(`/proc/${pid}/task`)) {
      const kids = require_readFileSync(`/proc/${pid}/task/${tid}/children`).trim().split(/\s+/).filter(Boolean).map(Number);
      for (const k of kids) {
        let cmd = '';
        try { cmd = require_readFileSync(`/proc/${k}/cmdline`).replace(/\0/g, ' '); } catch { /* gone */ }
        out.push({ pid: k, cmd });
      }
    }
  } catch {
    /* the process is gone */
  }
  return out;
}
import { readdirSync as require_readdirSync, readFileSync as rfs } from 'node:fs';
const require_readFileSync = (p: string): string => rfs(p, 'utf8');
void readdir;

test('the daemon serves the identity endpoint when api.enabled, with health and metrics', async () => {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const key = JSON.parse((await import('node:child_process')).execFileSync(process.execPath, [BIN, 'keys', 'create', '--name', 'daemon-test', '--json'], { env: baseEnv(), encoding: 'utf8' })) as { key: string };
  const { child, out } = spawnAgent([], {
    GATE_AGENT__api__enabled: 'true',
    GATE_AGENT__api__host: '"127.0.0.1"',
    GATE_AGENT__api__port: String(port),
    GATE_AGENT__camera__kind: '"replay"',
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    let health: Response | undefined;
    for (let i = 0; i < 100 && !health; i++) {
      health = await fetch(`${base}/healthz`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(health, 'the daemon answered /healthz');
    // data: URLs travel in the query string, so the photo is kept small.
    const photo = (await sharp(await readFile(join(SHARED_FACES, 'people/obama/3.jpg'))).resize(400).jpeg().toBuffer()).toString('base64');
    const r = await fetch(`${base}/identity?event_id=gala&image_url=${encodeURIComponent(`data:image/jpeg;base64,${photo}`)}`, { method: 'POST', headers: { 'x-api-key': key.key } });
    assert.equal(r.status, 200, await r.clone().text());
    const body = (await r.json()) as { userInfo: { userId: string } };
    assert.equal(body.userInfo.userId, 'obama');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /gate_decisions_total\{reason="identity_api"\} 1/);
  } finally {
    child.kill('SIGTERM');
    assert.equal((await out).code, 0);
  }
});
