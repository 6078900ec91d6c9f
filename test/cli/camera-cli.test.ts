// `gate-agent camera snapshot|check` through the real CLI, with real frame sources: a
// folder of photos, a video file made with ffmpeg, and the webcam source through a real
// fswebcam reading a photo (`-d FILE:…`; there is no camera here). The face boxes are
// looked for in the written JPEG's pixels, and the daemon that holds the camera is real.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { makeClip, standardPhotos } from '../capture/clips.js';
import { BIN, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { runCli } from './run.js';
import type { AimFace } from '../../src/app/camera-aim.js';
import type { CameraCheckResult } from '../../src/app/camera-check.js';

interface SnapshotJson {
  file: string;
  camera: string;
  width: number;
  height: number;
  annotated: boolean;
  faces: AimFace[] | null;
}

let dir: string;
/** A folder camera holding one portrait (a large face). */
let portraitDir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'camera-cli-'));
  portraitDir = join(dir, 'portrait');
  await mkdir(portraitDir);
  await writeFile(join(portraitDir, 'frame.jpg'), await readFile(standardPhotos.enrolled));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const replayEnv = (path: string, fps = 10): Record<string, string> => ({
  GATE_AGENT_DATA_DIR: join(dir, 'data'),
  GATE_AGENT__camera__kind: '"replay"',
  GATE_AGENT__camera__path: JSON.stringify(path),
  GATE_AGENT__camera__fps: String(fps),
});

async function pixel(file: string, x: number, y: number): Promise<[number, number, number]> {
  const px = await sharp(file).extract({ left: Math.round(x), top: Math.round(y), width: 1, height: 1 }).removeAlpha().raw().toBuffer();
  return [px[0]!, px[1]!, px[2]!];
}

/** The pixel in the middle of the box's left edge. */
const leftEdge = (f: AimFace): [number, number] => [f.box[0], (f.box[1] + f.box[3]) / 2];

test('snapshot --annotate: the JPEG (mode 0600) has a green box on the face, which passes every quality setting', async () => {
  const out = join(dir, 'aim.jpg');
  const r = await runCli(['camera', 'snapshot', '--annotate', '--json', out], replayEnv(portraitDir));
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as SnapshotJson;
  assert.equal(s.file, out);
  assert.deepEqual([s.width, s.height, s.annotated], [910, 1137, true]);
  assert.equal(s.faces?.length, 1);
  const f = s.faces[0]!;
  assert.equal(f.pass, true, JSON.stringify(f));
  assert.equal(f.problem, null);
  assert.deepEqual(f.checks.map((c) => [c.key, c.pass]), [['quality.minInterEyePx', true], ['quality.maxYawDeg', true], ['quality.minSharpness', true]]);
  assert.ok(f.interEyePx > 60, String(f.interEyePx));
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  const [red, green, blue] = await pixel(out, ...leftEdge(f));
  assert.ok(green > 180 && red < 90 && blue < 90, `box edge colour ${[red, green, blue].join(',')}`);
  // The same spot in the camera's own picture is not that green: the box was drawn.
  const [r0, g0, b0] = await pixel(standardPhotos.enrolled, ...leftEdge(f));
  assert.ok(!(g0 > 180 && r0 < 90 && b0 < 90), `photo colour ${[r0, g0, b0].join(',')}`);

  // An existing file is not replaced unless asked.
  const again = await runCli(['camera', 'snapshot', out], replayEnv(portraitDir));
  assert.equal(again.code, 1);
  assert.match(again.stderr, /aim\.jpg exists; give --force to replace it/);
  const forced = await runCli(['camera', 'snapshot', '--force', out], replayEnv(portraitDir));
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /wrote .*aim\.jpg \(910x1137, mode 0600\)/);
  // Without --annotate the frame is written as the camera gave it.
  assert.deepEqual(await readFile(out), await readFile(standardPhotos.enrolled));
});

test('snapshot: a face too small for quality.minInterEyePx fails that check, in red, with what to change', async () => {
  // The portrait shrunk into a 640x480 camera picture: about 38 px between the eyes.
  const small = join(dir, 'small');
  await mkdir(small);
  const face = await sharp(standardPhotos.enrolled).resize({ height: 400 }).toBuffer();
  await sharp({ create: { width: 640, height: 480, channels: 3, background: '#404040' } })
    .composite([{ input: face, left: 100, top: 40 }])
    .jpeg()
    .toFile(join(small, 'frame.jpg'));
  const env = { ...replayEnv(small), GATE_AGENT__quality__minInterEyePx: '60' };
  const out = join(dir, 'small.jpg');
  const r = await runCli(['camera', 'snapshot', '--annotate', '--json', out], env);
  assert.equal(r.code, 0, r.stderr);
  const f = (JSON.parse(r.stdout) as SnapshotJson).faces?.[0];
  assert.ok(f, r.stdout);
  assert.ok(f.interEyePx < 60, String(f.interEyePx));
  assert.equal(f.pass, false);
  const eyes = f.checks.find((c) => c.key === 'quality.minInterEyePx')!;
  assert.deepEqual([eyes.pass, eyes.limit], [false, 60]);
  assert.match(eyes.hint ?? '', /^eye distance \d+ px, needs >= 60: the face must be [\d.]+x larger in the picture: move the camera closer .* or zoom in/);
  // The verdict is the gate's own: the same sentence the daemon logs for a skipped face.
  assert.match(f.problem ?? '', /^face too small \(\d+ px between the eyes, need 60\)/);
  const [red, green] = await pixel(out, ...leftEdge(f));
  assert.ok(red > 180 && green < 90, `box edge colour ${red},${green}`);

  const text = await runCli(['camera', 'snapshot', '--annotate', '--force', out], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /#1 box=\[.*\] eyes=\d+px yaw=-?\d+° sharpness=\d+: FAIL/);
  assert.match(text.stdout, /FAIL quality\.minInterEyePx 60: eye distance \d+ px, needs >= 60/);
  assert.match(text.stdout, /ok {3}quality\.maxYawDeg 40/);
  assert.match(text.stdout, /delete it once the camera is aimed/);
});

test('check: a video file camera reports about its frame rate and its size; a snapshot from it works too', async () => {
  const video = join(dir, 'walk-up.mp4');
  await makeClip('walk-up', [standardPhotos.enrolled], video, { durationS: 2, fps: 15 });
  const r = await runCli(['camera', 'check', '--seconds', '3', '--json'], replayEnv(video, 10));
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as CameraCheckResult;
  assert.equal(c.ok, true);
  assert.deepEqual(c.resolutions, ['640x480']);
  assert.equal(c.expectedFps, 10);
  // Paced by ffmpeg at 10 frames/s; loosely, the CPU here is shared.
  assert.ok(c.fps !== null && c.fps > 5 && c.fps < 15, `fps ${c.fps}`);
  assert.ok(c.frames >= 5, `frames ${c.frames}`); // ffmpeg may start late on a busy CPU
  assert.ok(c.firstFrameMs !== null && c.firstFrameMs >= 0);
  assert.deepEqual(c.errors, []);

  const out = join(dir, 'from-video.jpg');
  const s = await runCli(['camera', 'snapshot', '--json', out], replayEnv(video));
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual((await sharp(out).metadata()).width, 640);
});

test('check: a folder camera at camera.fps 4 runs at about 4 frames/s, in words by default', async () => {
  const r = await runCli(['camera', 'check', '--seconds', '3'], replayEnv(portraitDir, 4));
  assert.equal(r.code, 0, r.stderr);
  const fps = Number(/frame rate: +([\d.]+) frames\/s \(camera\.fps asks for 4\)/.exec(r.stdout)?.[1]);
  assert.ok(fps > 2 && fps < 6, r.stdout);
  assert.match(r.stdout, /resolution: +910x1137/);
  assert.match(r.stdout, /errors: +none/);
});

test('the webcam source through fswebcam: snapshot and check', async () => {
  // fswebcam's FILE: reader needs a baseline JPEG (it crashes on progressive ones).
  const photo = join(dir, 'webcam.jpg');
  await writeFile(photo, await sharp(standardPhotos.enrolled).resize(640).jpeg({ progressive: false }).toBuffer());
  const env = { GATE_AGENT_DATA_DIR: join(dir, 'data'), GATE_AGENT__camera__kind: '"webcam"', GATE_AGENT__camera__device: JSON.stringify(`FILE:${photo}`), GATE_AGENT__camera__fps: '2' };
  const out = join(dir, 'webcam-aim.jpg');
  const r = await runCli(['camera', 'snapshot', '--annotate', '--json', out], env);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as SnapshotJson;
  assert.match(s.camera, /^webcam FILE:/);
  assert.equal(s.faces?.length, 1);
  assert.equal(s.faces[0]!.pass, true);
  const c = await runCli(['camera', 'check', '--seconds', '3', '--json'], env);
  assert.equal(c.code, 0, c.stderr);
  const j = JSON.parse(c.stdout) as CameraCheckResult;
  assert.ok(j.frames >= 2, JSON.stringify(j));
  assert.deepEqual(j.resolutions, ['640x800']);
});

test('a missing camera: check and snapshot exit 1 with the reason and the fix', async () => {
  const env = { GATE_AGENT_DATA_DIR: join(dir, 'data'), GATE_AGENT__camera__kind: '"v4l2"', GATE_AGENT__camera__device: '"/dev/video-missing"' };
  const c = await runCli(['camera', 'check', '--seconds', '1', '--json'], env);
  assert.equal(c.code, 1);
  const j = JSON.parse(c.stdout) as CameraCheckResult;
  assert.equal(j.ok, false);
  assert.equal(j.frames, 0);
  assert.match(j.problem ?? '', /\/dev\/video-missing: no such device; is the camera plugged in\?/);
  const text = await runCli(['camera', 'check', '--seconds', '1'], env);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /camera check: the camera cannot start: .*\n.*no such device; is the camera plugged in\? list cameras with v4l2-ctl/);

  const out = join(dir, 'never.jpg');
  const s = await runCli(['camera', 'snapshot', out], env);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /no such device; is the camera plugged in\?/);
  await assert.rejects(stat(out), /ENOENT/, 'no file without a frame');

  const video = await runCli(['camera', 'snapshot', '--camera-path', join(dir, 'no-such.mp4'), '--json', out], env);
  assert.equal(video.code, 1);
  assert.match((JSON.parse(video.stdout) as { error: string }).error, /no-such\.mp4: does not exist; give a video file or a directory/);
});

test('while the daemon runs: a V4L2 camera is refused with how to stop it; a replay is shared', async (t: TestContext) => {
  const data = join(dir, 'daemon-data');
  const env = { GATE_AGENT_DATA_DIR: data, GATE_AGENT__camera__kind: '"v4l2"', GATE_AGENT__camera__device: '"/dev/video-missing"', GATE_AGENT__relay__driver: '"sim"' };
  const daemon = own(
    spawn(process.execPath, [BIN, 'run'], { env: { ...process.env, ...env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] }),
    t,
  );
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await until('the daemon holding its lock', async () => ((await readFile(join(data, 'relay.lock'), 'utf8').catch(() => '')).trim() === String(daemon.pid) ? true : undefined), 60_000).catch(
    (err: Error) => assert.fail(`${err.message}\n${log.slice(-2000)}`),
  );
  const c = await runCli(['camera', 'check', '--seconds', '1'], env);
  assert.equal(c.code, 1);
  assert.match(c.stderr, new RegExp(`camera check: the camera \\(v4l2 camera /dev/video-missing\\) is in use by the running gate-agent \\(pid ${daemon.pid}\\).*sudo systemctl stop gate-agent`));
  const out = join(dir, 'shared.jpg');
  const s = await runCli(['camera', 'snapshot', '--camera-path', portraitDir, out], env);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(daemon.exitCode, null, 'the daemon kept running');
});
