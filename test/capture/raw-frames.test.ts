// The raw capture path (frameFormat raw): ffmpeg writes packed RGB at the configured size,
// cut by counting bytes. Pure pieces first, then real ffmpeg on a clip of a shared photo,
// compared pixel for pixel with the MJPEG path's frame decoded by sharp.
import './quiet-logs.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFrameSource, RawFrameSplitter, rawFrameSize, replayVideoArgs, rtspArgs, v4l2Args, validateSourceOptions, type Frame } from '../../src/capture/index.js';
import { frameImage } from '../../src/app/frame-image.js';
import { chooseCamera } from '../../src/app/camera.js';
import { loadConfig } from '../../src/config/load.js';
import { decodeImage } from '../../src/vision/image.js';
import { fitInside, probeDisplaySize } from '../../src/capture/raw-size.js';
import { SHARED_FACES } from '../paths.js';
import { makeClip, standardPhotos } from './clips.js';
import { livePidsMentioning } from './helpers.js';

void test('RawFrameSplitter: whole frames at any chunking, none merged or split, the remainder kept', () => {
  const frameBytes = 7;
  const stream = Buffer.from(Array.from({ length: 7 * 5 + 3 }, (_, i) => i % 251));
  for (const chunk of [1, 2, 5, 7, 8, 13, 64]) {
    const s = new RawFrameSplitter(frameBytes);
    const frames: Buffer[] = [];
    for (let at = 0; at < stream.length; at += chunk) frames.push(...s.push(stream.subarray(at, at + chunk)));
    assert.equal(frames.length, 5, `chunks of ${chunk}`);
    frames.forEach((f, k) => assert.deepEqual(f, stream.subarray(k * 7, k * 7 + 7)));
  }
  assert.throws(() => new RawFrameSplitter(0), /whole number of bytes above 0/);
});

void test('raw ffmpeg arguments: rgb24 rawvideo, fitted and padded to exactly the configured size; MJPEG unchanged by default', () => {
  const replay = replayVideoArgs({ kind: 'replay', path: '/x.mp4', fps: 10, widthPx: 320, heightPx: 240, frameFormat: 'raw' });
  assert.deepEqual(replay.slice(-8), ['-an', '-vf', 'fps=10,scale=w=320:h=240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  const rtsp = rtspArgs({ kind: 'rtsp', url: 'rtsp://cam/s', frameFormat: 'raw' });
  assert.ok(rtsp.includes('rawvideo') && rtsp.join(' ').includes('pad=640:480'), 'defaults to the default frame size');
  assert.ok(replayVideoArgs({ kind: 'replay', path: '/x.mp4' }).includes('mjpeg'));
  assert.ok(v4l2Args({ kind: 'v4l2', device: '/dev/video0', frameFormat: 'raw' }).includes('rgb24'));
  assert.deepEqual(rawFrameSize({ frameFormat: 'raw', widthPx: 320, heightPx: 240 }), { widthPx: 320, heightPx: 240 });
  assert.equal(rawFrameSize({}), null);
  assert.deepEqual(validateSourceOptions({ kind: 'v4l2', device: '/dev/video0', frameFormat: 'raw', mjpegPassthrough: true }), [
    "capture.frameFormat: raw: cannot pass the camera's JPEGs through as raw frames; drop mjpegPassthrough or use frameFormat mjpeg",
  ]);
  assert.match(validateSourceOptions({ kind: 'replay', path: '/x', frameFormat: 'png' as 'raw' })[0]!, /frameFormat: png: unknown; use mjpeg or raw/);
});

void test('camera.frameFormat auto: raw for rtsp and replay, MJPEG for a v4l2 camera; an explicit choice wins', () => {
  const cam = (over: Record<string, unknown>) => chooseCamera(loadConfig({ file: null, env: {}, overrides: over }).camera, () => true).options as { frameFormat?: string };
  assert.equal(cam({ 'camera.kind': 'replay', 'camera.path': '/x.mp4' }).frameFormat, 'raw');
  assert.equal(cam({ 'camera.kind': 'rtsp', 'camera.url': 'rtsp://cam/s' }).frameFormat, 'raw');
  assert.equal(cam({ 'camera.kind': 'v4l2' }).frameFormat, 'mjpeg');
  assert.equal(cam({ 'camera.kind': 'replay', 'camera.path': '/x.mp4', 'camera.frameFormat': 'mjpeg' }).frameFormat, 'mjpeg');
  assert.throws(() => loadConfig({ file: null, env: {}, overrides: { 'camera.frameFormat': 'png' } }), /camera\.frameFormat/);
});

void test('frameImage: a raw frame of the wrong length or over the pixel limit is refused with what to do', async () => {
  const raw = { widthPx: 4, heightPx: 2 };
  const ok: Frame = { data: Buffer.alloc(24, 9), seq: 1, capturedAtMs: 0, sourceId: 't', raw };
  assert.deepEqual(await frameImage(ok, 100), { data: new Uint8Array(24).fill(9), width: 4, height: 2 });
  await assert.rejects(frameImage({ ...ok, data: Buffer.alloc(23) }, 100), /raw frame has 23 bytes, a 4x2 RGB frame has 24/);
  await assert.rejects(frameImage(ok, 7), /over the limit of 7; lower camera.widthPx\/heightPx or raise vision.maxImagePixels/);
});

let dir = '';
let clip = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capture-raw-'));
  clip = join(dir, 'walk-up.mp4');
  await makeClip('walk-up', [standardPhotos.enrolled], clip, { durationS: 1, fps: 10 });
});
after(async () => {
  assert.deepEqual(await livePidsMentioning(dir), [], 'no ffmpeg left running on the test clip');
  await rm(dir, { recursive: true, force: true });
});

async function allFrames(frameFormat: 'raw' | 'mjpeg', size: { widthPx: number; heightPx: number }): Promise<Frame[]> {
  const src = createFrameSource({ kind: 'replay', path: clip, realtime: false, frameFormat, ...size });
  const frames: Frame[] = [];
  await src.start();
  try {
    for (;;) frames.push(await src.next());
  } catch {
    // ended
  } finally {
    await src.stop();
  }
  return frames;
}

/** Frames are taken newest-first from the slot, so replays are compared by their last frame. */
void test('real ffmpeg: raw frames have the configured size and match the MJPEG path decoded by sharp', { timeout: 60_000 }, async () => {
  const size = { widthPx: 640, heightPx: 480 };
  const raw = (await allFrames('raw', size)).pop()!;
  const jpeg = (await allFrames('mjpeg', size)).pop()!;
  assert.deepEqual(raw.raw, size);
  assert.equal(raw.data.length, 640 * 480 * 3);
  assert.equal(jpeg.raw, undefined);
  const a = await frameImage(raw, 1e8);
  const b = await decodeImage(jpeg.data, { maxPixels: 1e8 });
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let diff = 0;
  for (let i = 0; i < a.data.length; i++) diff += Math.abs(a.data[i]! - b.data[i]!);
  const meanDiff = diff / a.data.length;
  // Same picture; the MJPEG path adds JPEG loss (a few levels on average), nothing more.
  assert.ok(meanDiff < 6, `mean absolute difference ${meanDiff.toFixed(2)} levels`);
  let bright = 0;
  for (const v of a.data) bright += v;
  assert.ok(bright / a.data.length > 20, 'the raw frame shows the photo, not black');
});

void test('fitInside keeps the aspect ratio with even sides; a portrait phone video probes as portrait', async () => {
  assert.deepEqual(fitInside(1920, 1080, { widthPx: 640, heightPx: 480 }), { widthPx: 640, heightPx: 360 });
  assert.deepEqual(fitInside(1080, 1920, { widthPx: 640, heightPx: 480 }), { widthPx: 270, heightPx: 480 });
  assert.deepEqual(fitInside(320, 240, { widthPx: 640, heightPx: 480 }), { widthPx: 640, heightPx: 480 });
  assert.deepEqual(await probeDisplaySize('ffprobe', [`file:${join(SHARED_FACES, 'pad/zalo/live-2.mp4')}`], 10_000), { width: 1080, height: 1920 });
  const missing = await probeDisplaySize('ffprobe', ['file:/nonexistent.mp4'], 10_000);
  assert.ok('error' in missing && /No such file/.test(missing.error), JSON.stringify(missing));
  assert.deepEqual(replayVideoArgs({ kind: 'replay', path: '/x.mp4', frameFormat: 'raw' }, { widthPx: 270, heightPx: 480 }).slice(-8, -4), ['-an', '-vf', 'scale=270:480', '-pix_fmt']);
});

void test('real ffmpeg: another aspect ratio gets raw frames of its own shape inside the box, no bars', { timeout: 60_000 }, async () => {
  const f = (await allFrames('raw', { widthPx: 320, heightPx: 320 })).pop()!;
  assert.deepEqual(f.raw, { widthPx: 320, heightPx: 240 }, 'the 4:3 clip fitted inside 320x320');
  assert.equal(f.data.length, 320 * 240 * 3);
});
