// `gate-agent status` through the real CLI, against a real running daemon replaying a
// looping walk-up; and the daemon that is gone or stuck: said plainly, exit 1, no stale data.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWalkUpFrames } from '../../scripts/walk-up-frames.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { enrolledDataDir } from '../app/enrolled.js';
import { runCli } from './run.js';
import type { StatusSnapshot } from '../../src/app/status.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'status-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('status shows the running daemon: event, camera frame rate, relay pulse, outbox, health and the last decisions', async (t: TestContext) => {
  const data = join(dir, 'data');
  await enrolledDataDir(data, ['obama']);
  const frames = join(dir, 'walk-up');
  await writeWalkUpFrames(join(SHARED_FACES, 'people/obama/1.jpg'), frames, { frames: 8 });
  const env = { GATE_AGENT_DATA_DIR: data };
  const daemon = own(
    spawn(process.execPath, [BIN, 'run', '--event', 'gala'], {
      env: {
        ...process.env,
        ...env,
        GATE_AGENT_MODELS_DIR: SHARED_MODELS,
        GATE_AGENT_LOG_LEVEL: 'warn',
        GATE_AGENT__relay__driver: '"sim"',
        GATE_AGENT__relay__pulseMs: '100',
        GATE_AGENT__camera__kind: '"replay"',
        GATE_AGENT__camera__path: JSON.stringify(frames),
        GATE_AGENT__camera__loop: 'true',
        GATE_AGENT__camera__fps: '8',
        GATE_AGENT__daemon__statusIntervalMs: '500',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
    t,
  );
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));

  const snap = await until(
    'a status with a granted decision and a confirmed pulse',
    async () => {
      const r = await runCli(['status', '--json'], env);
      if (r.code !== 0) return undefined;
      const s = JSON.parse(r.stdout) as StatusSnapshot;
      return s.decisions.some((d) => d.kind === 'grant') && s.relay?.lastPulse?.ok && s.camera && s.camera.fps > 0 ? s : undefined;
    },
    60_000,
    250,
  ).catch((err: Error) => assert.fail(`${err.message}\n${log.slice(-2000)}`));
  assert.equal(snap.pid, daemon.pid);
  assert.deepEqual(snap.event, { id: 'gala', attendees: 1, threshold: 0.34 });
  assert.equal(snap.relay?.driver, 'sim');
  assert.equal(snap.broker, null, 'no broker configured');
  assert.equal(typeof snap.outboxDepth, 'number');
  assert.ok(snap.outboxDepth! > 0, 'the decision waits in the outbox (no broker)');
  assert.equal(snap.health.parts.camera?.ok, true);
  assert.equal(snap.health.parts.relay?.ok, true);
  const grant = snap.decisions.find((d) => d.kind === 'grant')!;
  assert.equal(grant.userId, 'obama');
  // Times are local with their offset, as a technician reads them.
  assert.match(grant.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
  assert.match(snap.at, /[+-]\d\d:\d\d$/);
  // User ids only: no display name, no KYC, no embedding in the file.
  const raw = await readFile(join(data, 'status.json'), 'utf8');
  assert.ok(!raw.includes('Barack'), raw);
  assert.ok(!/embedding/i.test(raw));

  const human = await runCli(['status'], env);
  assert.equal(human.code, 0, human.stderr);
  // One attendee: the effective threshold is match.threshold itself.
  assert.match(human.stdout, /^event: +gala, 1 attendees usable, matching at threshold 0\.34$/m);
  assert.match(human.stdout, /^relay: +sim; last pulse: \S+ ok/m);
  assert.match(human.stdout, /GRANT granted obama/);
  assert.match(human.stdout, /frames\/s/);

  // --watch redraws: two snapshots of different times before it is stopped.
  const watch = own(spawn(process.execPath, [BIN, 'status', '--watch', '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }), t);
  let out = '';
  watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const times = await until('two snapshots from --watch', () => {
    const ats = new Set(out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as StatusSnapshot).atMs));
    return ats.size >= 2 ? ats : undefined;
  }, 10_000);
  assert.ok(times.size >= 2);
  watch.kill('SIGINT');

  // The daemon dies without a word: its file stays, and is not shown as current.
  const gone = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGKILL');
  await gone;
  const dead = await runCli(['status'], env);
  assert.equal(dead.code, 1);
  assert.match(dead.stdout, new RegExp(`the daemon is not running: process ${daemon.pid}, which wrote .* is gone`));
  assert.doesNotMatch(dead.stdout, /GRANT/);
  const deadJson = await runCli(['status', '--json'], env);
  assert.equal(deadJson.code, 1);
  assert.equal((JSON.parse(deadJson.stdout) as { running: boolean }).running, false);
});

test('status: no file, or a live writer that stopped updating, is said plainly with exit 1', async () => {
  const data = await mkdtemp(join(dir, 'stuck-'));
  const missing = await runCli(['status'], { GATE_AGENT_DATA_DIR: data });
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /the daemon is not running: no .*status\.json/);
  // A writer that is alive (this test process) whose last snapshot is 10 intervals old.
  const atMs = Date.now() - 10_000;
  await writeFile(join(data, 'status.json'), JSON.stringify({ pid: process.pid, at: new Date(atMs).toISOString(), atMs, intervalMs: 1000 }));
  const stuck = await runCli(['status'], { GATE_AGENT_DATA_DIR: data });
  assert.equal(stuck.code, 1);
  assert.match(stuck.stdout, new RegExp(`the daemon \\(pid ${process.pid}\\) is not updating its status: the last snapshot is 1\\d s old`));
});
