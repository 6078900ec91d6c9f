// The daemon end to end: real models, real ffmpeg replays of the shared photos, the
// simulated relay, decisions read back from the real SQLite outbox.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import BetterSqlite3 from 'better-sqlite3';
import { makeClip, standardPhotos } from '../capture/clips.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { alive, own, until } from '../proc.js';
import { enrolledDataDir } from './enrolled.js';

let dir: string;
/** The enrolled attendees, made once; each test runs on its own copy (no cooldown or entry leaks between tests). */
let template: string;
const clips: Record<string, string> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-'));
  template = join(dir, 'template');
  await enrolledDataDir(template, ['obama', 'kit']);
  await makeClip('walk-up', [standardPhotos.enrolled], (clips.walkUp = join(dir, 'walk-up.mp4')));
  await makeClip('stranger', [standardPhotos.stranger], (clips.stranger = join(dir, 'stranger.mp4')));
  await makeClip('empty', [standardPhotos.empty], (clips.empty = join(dir, 'empty.mp4')));
  await makeClip('pair', [...standardPhotos.pair], (clips.pair = join(dir, 'pair.mp4')), { durationS: 3 });
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** A data dir of this test's own, holding the enrolled attendees. */
async function freshData(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(dir, 'data-'));
  await cp(template, d, { recursive: true });
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

const baseEnv = (data: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  GATE_AGENT_MODELS_DIR: SHARED_MODELS,
  GATE_AGENT_DATA_DIR: data,
  GATE_AGENT__relay__driver: '"sim"',
  GATE_AGENT_LOG_LEVEL: 'info',
  ...extra,
});

interface Agent {
  child: ChildProcess;
  out: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** What the daemon has logged so far. */
  stderr(): string;
}

/** `gate-agent run` as a child this test owns: killed when the test ends, pass or fail. */
function spawnAgent(t: TestContext, data: string, args: string[], env: Record<string, string> = {}): Agent {
  const child = own(spawn(process.execPath, [BIN, 'run', '--event', 'gala', ...args], { env: baseEnv(data, env), stdio: ['ignore', 'pipe', 'pipe'] }), t);
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const out = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return { child, out, stderr: () => stderr };
}

interface Summary { frames: number; decisions: Record<string, number>; pulses: number }
async function replay(t: TestContext, data: string, clip: string): Promise<Summary & { stderr: string }> {
  const r = await spawnAgent(t, data, ['--camera-path', clip, '--once']).out;
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary), stderr: r.stderr };
}

function sessionsSince(data: string, seq: number): { seq: number; payload: { gate: { decision: string; reason: string }; userInfo?: { userId: string } } }[] {
  const db = new BetterSqlite3(join(data, 'gate-agent.db'), { readonly: true });
  try {
    return (db.prepare("SELECT seq, payload FROM outbox WHERE topic = 'sessions' AND seq > ? ORDER BY seq").all(seq) as { seq: number; payload: string }[]).map((r) => ({ seq: r.seq, payload: JSON.parse(r.payload) as never }));
  } finally {
    db.close();
  }
}
test('the enrolled person walking up gets exactly one relay pulse, recorded with their session', async (t) => {
  const data = await freshData(t);
  const s = await replay(t, data, clips.walkUp!);
  assert.equal(s.pulses, 1, JSON.stringify(s.decisions));
  assert.equal(s.decisions.granted, 1);
  const granted = sessionsSince(data, 0).filter((m) => m.payload.gate.decision === 'granted');
  assert.equal(granted.length, 1);
  assert.equal(granted[0]!.payload.userInfo?.userId, 'obama');
  assert.ok(!JSON.stringify(granted[0]!.payload).includes('embedding'));
  // The effective threshold: 2 attendees meet the target FPIR below match.threshold, so 0.34,
  // in the record's gate section and in the log.
  assert.equal((granted[0]!.payload.gate as { threshold?: number }).threshold, 0.34);
  assert.match(s.stderr, /matching at threshold 0.34 for 2 attendees/);
  // The first log lines say what runs in place of the missing hardware.
  assert.match(s.stderr, /simulated/);
  assert.match(s.stderr, /mqtt.brokerUrl not set: results are kept in the local outbox/);
  assert.match(s.stderr, /camera: replay of/);
});

test('a relay whose driver fails is not counted as a pulse: the summary and the outbox say it failed', async (t) => {
  const data = await freshData(t);
  // gpioset as on a machine whose GPIO chip is missing: every call fails with the kernel's message.
  const bin = await mkdtemp(join(dir, 'gpiod-'));
  await writeFile(join(bin, 'gpioset'), '#!/bin/sh\ncase "$1" in --version) echo "gpioset (libgpiod) v1.6.3"; exit 0;; esac\necho "gpioset: error setting the GPIO line values: No such file or directory" >&2\nexit 1\n', { mode: 0o755 });
  const r = await spawnAgent(t, data, ['--camera-path', clips.walkUp!, '--once'], { GATE_AGENT__relay__driver: '"gpiod"', GATE_AGENT__relay__gpiodBinDir: JSON.stringify(bin), GATE_AGENT__relay__pulseMs: '300' }).out;
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary & { pulseFailures: number };
  assert.equal(s.decisions.granted, 1, 'the decision itself was a grant');
  assert.equal(s.pulses, 0, 'no pulse is claimed for a line that was never driven');
  assert.equal(s.pulseFailures, 1);
  const db = new BetterSqlite3(join(data, 'gate-agent.db'), { readonly: true });
  try {
    const faults = (db.prepare("SELECT payload FROM outbox WHERE topic = 'events'").all() as { payload: string }[]).map((x) => JSON.parse(x.payload) as { type: string; detail: { error?: string } }).filter((e) => e.type === 'relay_fault');
    assert.ok(faults.some((f) => /gpioset failed \(exit 1\): .*No such file or directory/.test(f.detail.error ?? '')), JSON.stringify(faults));
  } finally {
    db.close();
  }
});

test('a stranger gets no pulse and is reported once as unknown; an empty scene gives nothing', async (t) => {
  const data = await freshData(t);
  const stranger = await replay(t, data, clips.stranger!);
  assert.equal(stranger.pulses, 0);
  assert.deepEqual(stranger.decisions, { unknown_face: 1 });
  const empty = await replay(t, data, clips.empty!);
  assert.equal(empty.pulses, 0);
  assert.deepEqual(empty.decisions, {});
  assert.ok(empty.frames > 5);
});

test('two people at once: the enrolled one is let in, the other reported unknown', async (t) => {
  const s = await replay(t, await freshData(t), clips.pair!);
  assert.equal(s.pulses, 1, JSON.stringify(s.decisions));
  assert.equal(s.decisions.granted, 1);
  assert.equal(s.decisions.unknown_face, 1);
});

test('the webcam source through a real fswebcam; SIGTERM stops the daemon cleanly', async (t) => {
  const data = await freshData(t);
  // fswebcam's FILE: reader needs a baseline JPEG (it crashes on progressive ones).
  const photo = join(dir, 'at-the-gate.jpg');
  await writeFile(photo, await sharp(standardPhotos.enrolled).resize(640).jpeg({ progressive: false }).toBuffer());
  const { child, out } = spawnAgent(t, data, [], { GATE_AGENT__camera__kind: '"webcam"', GATE_AGENT__camera__device: JSON.stringify(`FILE:${photo}`), GATE_AGENT__camera__fps: '4' });
  const granted = await until('a grant from the webcam', () => sessionsSince(data, 0).find((m) => m.payload.gate.decision === 'granted'));
  assert.equal(granted.payload.userInfo?.userId, 'obama');
  child.kill('SIGTERM');
  const r = await out;
  assert.equal(r.code, 0, r.stderr.slice(-1500));
  assert.match(r.stderr, /shutting down/);
  assert.equal(sessionsSince(data, 0).filter((m) => m.payload.gate.decision === 'granted').length, 1, 'one pass per approach');
});

test('camera loss: the replay ffmpeg killed mid-run is restarted and decisions resume', async (t) => {
  const data = await freshData(t);
  const { child, out } = spawnAgent(t, data, ['--camera-path', clips.walkUp!], { GATE_AGENT__camera__loop: 'true', GATE_AGENT__gate__cooldownMs: '0' });
  await until('a first grant', () => sessionsSince(data, 0).find((m) => m.payload.gate.decision === 'granted'));
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
  await until('a grant after the restart', () => sessionsSince(data, eventSeq).find((m) => m.payload.gate.decision === 'granted'));
  // The ffmpeg the daemon runs now (the restarted one) must not outlive the daemon.
  const restarted = await until('the restarted ffmpeg child', () => childPids(child.pid!).find((p) => p.cmd.includes('ffmpeg') && p.pid !== ffmpeg.pid));
  assert.ok(alive(restarted.pid));
  child.kill('SIGTERM');
  assert.equal((await out).code, 0);
  await until('the restarted ffmpeg to be gone', () => (alive(restarted.pid) ? undefined : true), 5000);
});

/** Child processes of pid, from /proc. */
function childPids(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      for (const k of kids) {
        let cmd = '';
        try { cmd = readFileSync(`/proc/${k}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { /* gone */ }
        out.push({ pid: k, cmd });
      }
    }
  } catch {
    /* the process is gone */
  }
  return out;
}

test('the daemon serves the identity endpoint when api.enabled, with health and metrics', async (t) => {
  const data = await freshData(t);
  const key = JSON.parse(execFileSync(process.execPath, [BIN, 'keys', 'create', '--name', 'daemon-test', '--json'], { env: baseEnv(data), encoding: 'utf8' })) as { key: string };
  // Port 0: the daemon binds a free port itself and logs where it listens.
  // A v4l2 camera that is not plugged in: the daemon keeps running and keeps looking for it.
  const agent = spawnAgent(t, data, [], {
    GATE_AGENT__api__enabled: 'true',
    GATE_AGENT__api__host: '"127.0.0.1"',
    GATE_AGENT__api__port: '0',
    GATE_AGENT__camera__kind: '"v4l2"',
    GATE_AGENT__camera__device: '"/dev/video9"',
  });
  const { child, out } = agent;
  try {
    const port = await until('the identity endpoint address in the log', () => /identity endpoint on http:\/\/127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1]);
    const base = `http://127.0.0.1:${port}`;
    const health = await until('/healthz to answer', () => fetch(`${base}/healthz`).catch(() => undefined));
    // Not ready, and it says why: the gate cannot see anyone without its camera.
    assert.equal(health.status, 503);
    const checks = ((await health.json()) as { checks: { name: string; ready: boolean; reason?: string }[] }).checks;
    const camera = checks.find((c) => c.name === 'camera');
    assert.equal(camera?.ready, false);
    assert.match(camera?.reason ?? '', /\/dev\/video9.*looking again every \d+ s or less/);
    assert.deepEqual(checks.filter((c) => c.ready).map((c) => c.name).sort(), ['event', 'relay', 'store', 'vision']);
    assert.match(agent.stderr(), /camera fault: .*\/dev\/video9/);
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

test('a busy identity-API port is an API fault: the door still works', async (t) => {
  const data = await freshData(t);
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const r = await spawnAgent(t, data, ['--camera-path', clips.walkUp!, '--once'], { GATE_AGENT__api__enabled: 'true', GATE_AGENT__api__host: '"127.0.0.1"', GATE_AGENT__api__port: String(port) }).out;
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as Summary;
  assert.equal(s.pulses, 1, 'the attendee was let in');
  assert.match(r.stderr, new RegExp(`api fault: identity endpoint not served on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  // The fault is in the outbox for the operator too.
  const db = new BetterSqlite3(join(data, 'gate-agent.db'), { readonly: true });
  try {
    const events = (db.prepare("SELECT payload FROM outbox WHERE topic = 'events'").all() as { payload: string }[]).map((x) => JSON.parse(x.payload) as { type: string; detail: { part?: string } });
    assert.ok(events.some((e) => e.type === 'health_fault' && e.detail.part === 'api'), JSON.stringify(events.map((e) => e.type)));
  } finally {
    db.close();
  }
});
