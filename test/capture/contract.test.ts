// One contract for every FrameSource that can run on this machine: replay of a video,
// replay of an image directory, and the webcam through fswebcam. (v4l2 and rtsp need a
// camera; they share the ffmpeg session with video replay.)
import './quiet-logs.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFrameSource, FrameSourceClosedError, looksLikeJpeg, type FrameSource, type FrameSourceOptions } from '../../src/capture/index.js';
import { makeClip, standardPhotos } from './clips.js';
import { livePidsMentioning } from './helpers.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capture-contract-'));
  await makeClip('stranger', [standardPhotos.stranger], join(dir, 'stranger.avi'), { durationS: 1, fps: 10 });
  await mkdir(join(dir, 'images'));
  await copyFile(standardPhotos.enrolled, join(dir, 'images', 'a.jpg'));
  await copyFile(standardPhotos.stranger, join(dir, 'images', 'b.jpg'));
});
after(async () => {
  assert.deepEqual(await livePidsMentioning(dir), []);
  await rm(dir, { recursive: true, force: true });
});

const implementations: [string, () => FrameSourceOptions][] = [
  ['replay video', () => ({ kind: 'replay', path: join(dir, 'stranger.avi'), loop: true })],
  ['replay images', () => ({ kind: 'replay', path: join(dir, 'images'), loop: true, fps: 10 })],
  ['webcam (fswebcam FILE:)', () => ({ kind: 'webcam', device: `FILE:${standardPhotos.enrolled}`, fps: 5, scratchDir: dir })],
];

for (const [name, options] of implementations) {
  void describe(`FrameSource contract: ${name}`, { timeout: 15_000 }, () => {
    let src: FrameSource;
    before(() => {
      src = createFrameSource(options());
    });
    after(() => src.stop());

    void test('constructing does no I/O; status starts idle', () => {
      const st = src.status();
      assert.deepEqual([st.state, st.framesReceived, st.restarts, st.lastFrameAtMs, st.pid], ['idle', 0, 0, null, null]);
    });

    void test('after start, frames are whole JPEGs with increasing seq, the source id and a monotonic time', async () => {
      const t0 = performance.now();
      await src.start();
      await src.start(); // a second start is a no-op, not a second camera
      const a = await src.next();
      const b = await src.next();
      for (const f of [a, b]) {
        assert.ok(looksLikeJpeg(f.data));
        assert.equal(f.sourceId, src.id);
        assert.ok(f.capturedAtMs >= t0 && f.capturedAtMs <= performance.now());
      }
      assert.ok(b.seq > a.seq && b.capturedAtMs >= a.capturedAtMs);
      const st = src.status();
      assert.equal(st.state, 'running');
      assert.ok(st.framesReceived >= 2 && st.lastFrameAtMs !== null);
    });

    void test('an aborted next() rejects with the abort reason', async () => {
      const ac = new AbortController();
      ac.abort(new Error('vision shutting down'));
      await assert.rejects(src.next(ac.signal), /vision shutting down/);
    });

    void test('stop() ends capture: next() rejects, state is stopped, stop() again is harmless', async () => {
      await src.stop();
      await src.stop();
      assert.equal(src.status().state, 'stopped');
      await assert.rejects(src.next(), (e: unknown) => e instanceof FrameSourceClosedError && e.reason === 'stopped');
    });
  });
}
