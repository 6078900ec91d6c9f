// Faults the gate must report truthfully on every channel, reproduced for real: a full disk
// (a small tmpfs in a private mount namespace holds the data dir), seen on /healthz, on the
// retained MQTT status (a real mosquitto), in the log; and recovery when space returns.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeWalkUpFrames } from '../../scripts/walk-up-frames.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { Recorder } from '../publish/helpers.js';
import { startNotifyListener } from '../service/notify-listener.js';
import type { StatusPayload } from '../../src/publish/topics.js';
import { enrolledDataDir } from './enrolled.js';

let dir: string;
let template: string;

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for unshare --mount and tmpfs';
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
  return r.error || r.status !== 0 ? `unshare --mount failed: ${r.error?.message ?? r.stderr.toString().trim()}` : null;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faults-'));
  template = join(dir, 'template');
  await enrolledDataDir(template, ['obama']);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const touch = (p: string): Promise<void> => writeFile(p, '');

test('a full disk: no decision recorded and no door opened; healthz, MQTT status and the log say so; it recovers when space returns', async (t: TestContext) => {
  const why = whyNot();
  if (why) return t.skip(why);
  const broker = await Mosquitto.launch();
  t.after(() => broker.dispose());
  const ops = await Recorder.connect(broker.url, ['securegate/s1/g1/status']);
  t.after(() => ops.close());
  const notifySocket = join(dir, 'notify.sock');
  const notes = (await startNotifyListener(notifySocket, t)).messages;

  // The camera: a looping folder that shows an empty entrance until the test adds a person.
  const frames = join(dir, 'frames');
  await mkdir(frames);
  await writeFile(join(frames, 'a-empty.jpg'), await sharp({ create: { width: 640, height: 480, channels: 3, background: '#202020' } }).jpeg().toBuffer());
  const walkUp = join(dir, 'walk-up');
  await writeWalkUpFrames(join(SHARED_FACES, 'people/obama/1.jpg'), walkUp, { frames: 8 });

  // Inside the namespace: a 16 MB tmpfs holds the data; a filler takes all its space on
  // request (fill), and gives it back (free). The markers live outside, in the test's dir.
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  const ctl = join(dir, 'ctl-');
  const script = [
    'set -e',
    `mount -t tmpfs -o size=16m tmpfs '${mnt}'`,
    `cp -a '${template}'/. '${mnt}'/`,
    `( while [ ! -e '${ctl}fill' ]; do sleep 0.05; done; cat /dev/zero > '${mnt}/filler' 2>/dev/null || true; touch '${ctl}full';`,
    `  while [ ! -e '${ctl}free' ]; do sleep 0.05; done; rm -f '${mnt}/filler'; touch '${ctl}freed' ) &`,
    `exec "$0" '${BIN}' run --event gala`,
  ].join('\n');
  const child = own(
    spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath], {
      env: {
        ...process.env,
        GATE_AGENT_MODELS_DIR: SHARED_MODELS,
        GATE_AGENT_DATA_DIR: mnt,
        GATE_AGENT_LOG_LEVEL: 'info',
        GATE_AGENT__relay__driver: '"sim"',
        GATE_AGENT__relay__pulseMs: '200',
        GATE_AGENT__gate__cooldownMs: '0',
        GATE_AGENT__daemon__purgeIntervalMs: '1000',
        GATE_AGENT__camera__kind: '"replay"',
        GATE_AGENT__camera__path: JSON.stringify(frames),
        GATE_AGENT__camera__loop: 'true',
        GATE_AGENT__camera__fps: '8',
        GATE_AGENT__api__enabled: 'true',
        GATE_AGENT__api__host: '"127.0.0.1"',
        GATE_AGENT__api__port: '0',
        GATE_AGENT__mqtt__brokerUrl: JSON.stringify(broker.url),
        GATE_AGENT__siteId: '"s1"',
        GATE_AGENT__gateId: '"g1"',
        NOTIFY_SOCKET: notifySocket,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    t,
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const port = await until('the API address in the log', () => /identity endpoint on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1], 60_000);
  const healthz = async (): Promise<{ status: number; checks: { name: string; ready: boolean; reason?: string }[] }> => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: r.status, checks: ((await r.json()) as { checks: { name: string; ready: boolean; reason?: string }[] }).checks };
  };
  const status = (): StatusPayload | undefined => ops.json<StatusPayload>('securegate/s1/g1/status').at(-1);
  await until('a healthy gate', async () => ((await healthz()).status === 200 ? true : undefined), 60_000);
  await until('MQTT status online and healthy', () => (status()?.state === 'online' && status()?.health?.ok === true ? true : undefined));

  // The disk fills; then the attendee walks up.
  await touch(`${ctl}fill`);
  await until('the disk to be full', () => (existsSync(`${ctl}full`) ? true : undefined));
  for (const f of ['frame-001.jpg', 'frame-004.jpg', 'frame-006.jpg', 'frame-008.jpg']) await copyFile(join(walkUp, f), join(frames, `b-${f}`));
  const down = await until('healthz to report the store', async () => {
    const h = await healthz();
    return h.status === 503 && h.checks.find((c) => c.name === 'store' && !c.ready) ? h : undefined;
  });
  assert.match(down.checks.find((c) => c.name === 'store')!.reason!, /cannot record decisions: .*(full|SQLITE_FULL|disk)/i);
  assert.match(log, /"level":50.*store fault: cannot record decisions/);
  assert.doesNotMatch(log, /granted: obama/, 'no door opened without a record');
  await until('MQTT status to carry the fault', () => (status()?.health?.faults.some((f) => f.part === 'store') ? true : undefined));
  assert.equal(status()?.state, 'online');
  assert.equal(status()?.health?.ok, false);
  await until('sd_notify STATUS with the fault', () => (notes.some((n) => /STATUS=gate g1: FAULT: .*store: cannot record decisions/.test(n)) ? true : undefined));

  // Space returns: the gate records and admits again, and says it is healthy.
  await touch(`${ctl}free`);
  await until('space freed', () => (existsSync(`${ctl}freed`) ? true : undefined));
  await until('a grant after recovery', () => (/granted: obama/.test(log) ? true : undefined), 60_000);
  await until('healthz ok again', async () => ((await healthz()).status === 200 ? true : undefined));
  await until('MQTT status healthy again', () => (status()?.health?.ok === true ? true : undefined));
  assert.match(log, /store ok again: recording decisions/);
  await until('sd_notify STATUS ok again', () => (/STATUS=gate g1: ok/.test(notes.filter((n) => n.includes('STATUS=')).at(-1) ?? '') ? true : undefined)).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(notes.slice(-4))}`));
  // A clean stop: the daemon ends its decode workers and leaves nothing behind.
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, log.slice(-1500));
});
