// The inference worker dies under a running gate (its thread is ended, as a crash would end
// it): the fault shows on every channel (the log, /healthz, the retained MQTT status, a
// health_fault event published over MQTT), no frame is decided and the relay is never energised while it is
// down, the worker is started again, and the enrolled attendee is let in afterwards.
// Real daemon in a child process (test/app/vision-crash-probe.ts), real models, a real
// mosquitto, real HTTP; the simulated relay (no GPIO here).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeWalkUpFrames } from '../../scripts/walk-up-frames.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { Recorder } from '../publish/helpers.js';
import type { StatusPayload } from '../../src/publish/topics.js';
import { enrolledDataDir } from './enrolled.js';

let dir: string;
let data: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vision-crash-'));
  data = join(dir, 'data');
  await enrolledDataDir(data, ['obama']);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const PROBE = new URL('./vision-crash-probe.js', import.meta.url);

/** The gate both tests run: a looping replay of `frames`, the simulated relay, the API on a free port. */
function probeEnv(dataDir: string, frames: string): Record<string, string> {
  return {
    GATE_AGENT_MODELS_DIR: SHARED_MODELS,
    GATE_AGENT_DATA_DIR: dataDir,
    GATE_AGENT_LOG_LEVEL: 'info',
    GATE_AGENT__relay__driver: '"sim"',
    GATE_AGENT__relay__pulseMs: '200',
    GATE_AGENT__camera__kind: '"replay"',
    GATE_AGENT__camera__path: JSON.stringify(frames),
    GATE_AGENT__camera__loop: 'true',
    GATE_AGENT__camera__fps: '8',
    GATE_AGENT__api__enabled: 'true',
    GATE_AGENT__api__host: '"127.0.0.1"',
    GATE_AGENT__api__port: '0',
  };
}

test('a killed inference worker: reported on every channel, nothing decided and the relay idle while down, restarted, and the attendee let in after', async (t) => {
  const broker = await Mosquitto.launch();
  t.after(() => broker.dispose());
  const ops = await Recorder.connect(broker.url, ['securegate/s1/g1/status', 'securegate/s1/g1/events']);
  t.after(() => ops.close());
  const frames = join(dir, 'frames');
  await mkdir(frames);
  await writeFile(join(frames, 'a-empty.jpg'), await sharp({ create: { width: 640, height: 480, channels: 3, background: '#202020' } }).jpeg().toBuffer());
  const walkUp = join(dir, 'walk-up');
  await writeWalkUpFrames(join(SHARED_FACES, 'people/obama/1.jpg'), walkUp, { frames: 8 });
  const child = own(
    spawn(process.execPath, [PROBE.pathname], {
      env: {
        ...process.env,
        ...probeEnv(data, frames),
        GATE_AGENT__mqtt__brokerUrl: JSON.stringify(broker.url),
        GATE_AGENT__siteId: '"s1"',
        GATE_AGENT__gateId: '"g1"',
        // Down long enough to be seen on every channel.
        GATE_AGENT__vision__workerRestartMinMs: '3000',
        // The one worker: while it is down nothing is decided (two: the other serves, below).
        GATE_AGENT__vision__inferenceWorkers: '1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
    t,
  );
  let log = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const states = (): { relayActive?: boolean; visionOk?: boolean | null; framesFailed?: number; granted?: number; killed?: boolean }[] =>
    out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as never);
  const port = await until('the API address in the log', () => /identity endpoint on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1], 60_000);
  const healthz = async (): Promise<{ status: number; checks: { name: string; ready: boolean; reason?: string }[] }> => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: r.status, checks: ((await r.json()) as { checks: { name: string; ready: boolean; reason?: string }[] }).checks };
  };
  const status = (): StatusPayload | undefined => ops.json<StatusPayload>('securegate/s1/g1/status').at(-1);
  await until('a healthy gate', async () => ((await healthz()).status === 200 ? true : undefined), 60_000);
  await until('MQTT status online and healthy', () => (status()?.state === 'online' && status()?.health?.ok === true ? true : undefined));
  const up = (await healthz()).checks.find((c) => c.name === 'vision');
  assert.equal(up?.ready, true, 'healthz has a vision check, ready');

  child.stdin!.write('kill\n');
  await until('the worker killed', () => (states().some((s) => s.killed) ? true : undefined));
  const down = await until('healthz to report the vision fault', async () => {
    const h = await healthz();
    return h.status === 503 && h.checks.find((c) => c.name === 'vision' && !c.ready) ? h : undefined;
  });
  assert.match(down.checks.find((c) => c.name === 'vision')!.reason!, /inference worker crashed .*restarting it in 3000 ms; nobody is admitted/);
  // The attendee walks up while the worker is down.
  for (const f of ['frame-001.jpg', 'frame-004.jpg', 'frame-006.jpg', 'frame-008.jpg']) await copyFile(join(walkUp, f), join(frames, `b-${f}`));
  await until('MQTT status to carry the fault', () => (status()?.health?.faults.some((f) => f.part === 'vision') ? true : undefined));
  assert.match(log, /"level":50.*the inference worker crashed; restarting it/);
  assert.match(log, /"level":50.*vision fault: the inference worker crashed/);
  // Frames arrive while it is down and fail: none decided, none opens the door.
  await until('frames failing while the worker is down', () => ((states().at(-1)?.framesFailed ?? 0) > 0 ? true : undefined));

  await until('the worker running again', () => (/the inference worker is running again/.test(log) ? true : undefined), 60_000);
  // Every 20 ms the probe wrote the relay's line and the vision health: while vision was down...
  const whileDown = states().filter((s) => s.visionOk === false);
  assert.ok(whileDown.length > 10, `the relay was watched while the worker was down (${whileDown.length} samples)`);
  assert.ok(whileDown.every((s) => s.relayActive === false && s.granted === 0), 'no grant, the relay never energised while the worker was down');
  assert.doesNotMatch(log, /granted: obama/);
  await until('healthz ok again', async () => ((await healthz()).status === 200 ? true : undefined), 30_000);
  await until('MQTT status healthy again', () => (status()?.health?.ok === true ? true : undefined));
  await until('a grant after the restart', () => (/granted: obama/.test(log) ? true : undefined), 60_000);
  // The fault and the recovery were recorded as events and published like decisions.
  await until('health_fault and health_ok events for vision over MQTT', () => {
    const evs = ops.json<{ type: string; detail?: { part?: string } }>('securegate/s1/g1/events').filter((e) => e.detail?.part === 'vision');
    return evs.some((e) => e.type === 'health_fault') && evs.some((e) => e.type === 'health_ok') ? true : undefined;
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('two workers, one killed: the crash is reported, the other worker keeps deciding frames and the attendee is let in while it is down', async (t) => {
  // A data dir of its own: obama's entry in the first test would hold the anti-passback.
  const poolData = join(dir, 'data-pool');
  await enrolledDataDir(poolData, ['obama']);
  const frames = join(dir, 'frames-pool');
  await mkdir(frames);
  await writeFile(join(frames, 'a-empty.jpg'), await sharp({ create: { width: 640, height: 480, channels: 3, background: '#202020' } }).jpeg().toBuffer());
  const walkUp = join(dir, 'walk-up-pool');
  await writeWalkUpFrames(join(SHARED_FACES, 'people/obama/1.jpg'), walkUp, { frames: 8 });
  const child = own(
    spawn(process.execPath, [PROBE.pathname], {
      env: {
        ...process.env,
        ...probeEnv(poolData, frames),
        GATE_AGENT__vision__inferenceWorkers: '2',
        GATE_AGENT__models__threads: '1',
        // Down for the whole walk-up: what the gate does meanwhile is what is tested.
        GATE_AGENT__vision__workerRestartMinMs: '600000',
        GATE_AGENT__vision__workerRestartMaxMs: '600000',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
    t,
  );
  let log = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const states = (): { relayActive?: boolean; visionOk?: boolean | null; granted?: number; killed?: boolean }[] =>
    out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as never);
  const port = await until('the API address in the log', () => /identity endpoint on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1], 60_000);
  const vision = async (): Promise<{ status: number; check?: { ready: boolean; reason?: string } }> => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: r.status, check: ((await r.json()) as { checks: { name: string; ready: boolean; reason?: string }[] }).checks.find((c) => c.name === 'vision') };
  };
  await until('a healthy gate', async () => ((await vision()).status === 200 ? true : undefined), 60_000);
  child.stdin!.write('kill 1\n');
  await until('the worker killed', () => (states().some((s) => s.killed) ? true : undefined));
  const down = await until('healthz to report the vision fault', async () => {
    const v = await vision();
    return v.status === 503 && v.check?.ready === false ? v : undefined;
  });
  assert.match(down.check!.reason!, /inference worker 2 of 2 crashed .*the other worker keeps deciding frames meanwhile/);
  assert.match(log, /"level":50.*the inference worker 2 of 2 crashed; restarting it/);
  // The attendee walks up while worker 2 is down: worker 1 decides the frames.
  for (const f of ['frame-001.jpg', 'frame-004.jpg', 'frame-006.jpg', 'frame-008.jpg']) await copyFile(join(walkUp, f), join(frames, `b-${f}`));
  await until('a grant while one worker is down', () => (states().some((s) => s.visionOk === false && (s.granted ?? 0) > 0) ? true : undefined), 60_000);
  assert.match(log, /granted: obama/);
  assert.doesNotMatch(log, /running again/, 'the grant came from the worker that stayed up');
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
