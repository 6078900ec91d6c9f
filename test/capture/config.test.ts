import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CaptureConfigError,
  createFrameSource,
  defaults,
  redactUrl,
  replayVideoArgs,
  rtspArgs,
  v4l2Args,
  validateSourceOptions,
} from '../../src/capture/index.js';
import { withTempDir } from './helpers.js';

void test('v4l2Args asks the camera for mjpeg at the configured size and rate and re-encodes to MJPEG on stdout', () => {
  assert.deepEqual(v4l2Args({ kind: 'v4l2', device: '/dev/video2', widthPx: 1280, heightPx: 720, fps: 15 }), [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'v4l2', '-input_format', 'mjpeg', '-framerate', '15', '-video_size', '1280x720', '-i', '/dev/video2',
    '-an', '-c:v', 'mjpeg', '-q:v', String(defaults.mjpegQscale), '-f', 'mjpeg', 'pipe:1',
  ]);
  const pass = v4l2Args({ kind: 'v4l2', device: '/dev/video0', mjpegPassthrough: true });
  assert.deepEqual(pass.slice(-6), ['-an', '-c:v', 'copy', '-f', 'mjpeg', 'pipe:1']);
  assert.ok(pass.includes(`${defaults.widthPx}x${defaults.heightPx}`));
  const auto = v4l2Args({ kind: 'v4l2', device: '/dev/video0', inputFormat: 'auto' });
  assert.ok(!auto.includes('-input_format'), 'auto lets ffmpeg pick the camera format');
});

void test('rtspArgs: TCP, a socket timeout in microseconds, low-latency input, fps and fit-inside scaling', () => {
  const args = rtspArgs({ kind: 'rtsp', url: 'rtsp://u:p@cam/s', fps: 5, widthPx: 640, heightPx: 360, rtspTimeoutMs: 3000 });
  const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
  assert.equal(after('-rtsp_transport'), 'tcp');
  assert.equal(after('-timeout'), '3000000');
  assert.equal(after('-i'), 'rtsp://u:p@cam/s');
  assert.equal(after('-vf'), 'fps=5,scale=w=640:h=360:force_original_aspect_ratio=decrease:force_divisible_by=2');
  assert.ok(args.indexOf('-rtsp_transport') < args.indexOf('-i'), 'input options come before -i');
});

void test('replayVideoArgs: -re and -stream_loop only when asked; file: prefix; no filter without fps or size', () => {
  const plain = replayVideoArgs({ kind: 'replay', path: '/v/a:b.mp4', realtime: false });
  assert.ok(!plain.includes('-re') && !plain.includes('-stream_loop') && !plain.includes('-vf'));
  assert.equal(plain[plain.indexOf('-i') + 1], 'file:/v/a:b.mp4');
  const looped = replayVideoArgs({ kind: 'replay', path: '/v/a.mp4', loop: true, fps: 5 });
  assert.ok(looped.indexOf('-re') < looped.indexOf('-i'));
  assert.equal(looped[looped.indexOf('-stream_loop') + 1], '-1');
  assert.equal(looped[looped.indexOf('-vf') + 1], 'fps=5');
});

void test('validateSourceOptions reports every problem at once, each saying how to fix it', () => {
  const problems = validateSourceOptions({ kind: 'v4l2', device: '', fps: 0, widthPx: 641.5, restartBackoffMinMs: 5000, restartBackoffMaxMs: 1000, mjpegQscale: 40 });
  assert.equal(problems.length, 5, problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('capture.fps: 0: must be a number above 0')));
  assert.ok(problems.some((p) => p.startsWith('capture.device: (empty): name the camera device')));
  assert.ok(problems.some((p) => p.startsWith('capture.restartBackoffMaxMs: 1000: is below')));
  assert.deepEqual(validateSourceOptions({ kind: 'replay', path: '/x', fps: 25 }), []);
  assert.match(validateSourceOptions({ kind: 'replay', path: '/x', fps: 1, stallTimeoutMs: 1500 })[0] ?? '', /stallTimeoutMs: 1500: shorter than two frame intervals/);
  assert.match(validateSourceOptions({ kind: 'rtsp', url: 'http://u:secret@cam/' })[0] ?? '', /^capture\.url: http:\/\/\*\*\*@cam\/: is not an rtsp:\/\/ URL/);
});

void test('webcam device strings that a shell would interpret are refused (node-webcam uses exec)', () => {
  assert.deepEqual(validateSourceOptions({ kind: 'webcam', device: 'FILE:/tmp/photo-1.jpg' }), []);
  for (const device of ['/dev/video0; rm -rf ~', '$(reboot)', 'FILE:/tmp/a b.jpg', '`id`']) {
    assert.match(validateSourceOptions({ kind: 'webcam', device })[0] ?? '', /must be a plain device path/, device);
  }
});

void test('redactUrl hides user and password, even with an unencoded @ in the password', () => {
  assert.equal(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/ch1'), 'rtsp://***@10.0.0.5:554/ch1');
  assert.equal(redactUrl('rtsp://admin:p@ss@cam/live'), 'rtsp://***@cam/live');
  assert.equal(redactUrl('rtsp://cam/live'), 'rtsp://cam/live');
  assert.equal(redactUrl('Connection to tcp://u:pw@cam:554 failed'), 'Connection to tcp://***@cam:554 failed');
});

void test('start() on a missing v4l2 device fails with what is wrong and what to do; no process is started', async () => {
  const src = createFrameSource({ kind: 'v4l2', device: '/dev/video97' });
  await assert.rejects(src.start(), (e: unknown) => {
    assert.ok(e instanceof CaptureConfigError);
    assert.match(e.message, /capture\.device: \/dev\/video97: no such device; is the camera plugged in\? list cameras with v4l2-ctl/);
    return true;
  });
  assert.equal(src.status().state, 'idle');
  assert.equal(src.status().pid, null);
  await src.stop();
});

void test('start() on a regular file as v4l2 device, an empty image dir, an unreadable video, or a missing ffmpeg explains each', async () => {
  await withTempDir(async (dir) => {
    const notDevice = join(dir, 'video0');
    await writeFile(notDevice, 'x');
    await assert.rejects(createFrameSource({ kind: 'v4l2', device: notDevice }).start(), /exists but is not a video device/);

    const empty = join(dir, 'empty');
    await mkdir(empty);
    await writeFile(join(empty, 'notes.txt'), 'no images here');
    await assert.rejects(createFrameSource({ kind: 'replay', path: empty }).start(), /holds no \.jpg, \.jpeg or \.png images; add some/);

    const bogus = join(dir, 'clip.mp4');
    await writeFile(bogus, 'this is not a video');
    await assert.rejects(createFrameSource({ kind: 'replay', path: bogus }).start(), /clip\.mp4: not a playable video \(.+\); convert it/);

    await assert.rejects(createFrameSource({ kind: 'replay', path: join(dir, 'nope.mp4') }).start(), /nope\.mp4: does not exist/);

    const missingFfmpeg = createFrameSource({ kind: 'rtsp', url: 'rtsp://cam/x', ffmpegPath: '/opt/none/ffmpeg' });
    await assert.rejects(missingFfmpeg.start(), /capture\.ffmpegPath: \/opt\/none\/ffmpeg: not found or not executable; install it \(apt install ffmpeg\)/);
  });
});

void test('createFrameSource picks the implementation; ids never carry rtsp credentials', () => {
  assert.equal(createFrameSource({ kind: 'rtsp', url: 'rtsp://admin:pw@10.1.1.9/live' }).id, 'rtsp:10.1.1.9/live');
  assert.equal(createFrameSource({ kind: 'v4l2', device: '/dev/video0' }).id, 'v4l2:/dev/video0');
  assert.equal(createFrameSource({ kind: 'replay', path: '/clips/walk-up.mp4', id: 'demo' }).id, 'demo');
  assert.equal(createFrameSource({ kind: 'webcam', device: '/dev/video1' }).status().kind, 'webcam');
});
