// The webcam source through real node-webcam and real fswebcam. There is no camera here,
// so fswebcam's own FILE: device reads a shared photo (`fswebcam -d FILE:photo.jpg`);
// node-webcam passes the device option through to -d unchanged.
import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { CaptureConfigError, createFrameSource, looksLikeJpeg, type LostEvent } from '../../src/capture/index.js';
import { SHARED_FACES } from '../paths.js';
import { waitFor, withTempDir } from './helpers.js';

// Baseline JPEG, 910x1137. fswebcam 20140113's FILE: reader aborts with a double free on
// progressive JPEGs (obama/4.jpg), which a real camera never sends.
const photo = join(SHARED_FACES, 'people', 'obama', '1.jpg');

void test('webcam frames come from fswebcam as JPEGs, and no image file is ever left behind', { timeout: 15_000 }, async () => {
  await withTempDir(async (dir) => {
    const scratch = join(dir, 'scratch');
    await mkdir(scratch);
    const src = createFrameSource({ kind: 'webcam', device: `FILE:${photo}`, fps: 4, scratchDir: scratch, stallTimeoutMs: 3000 });
    await src.start();
    try {
      const a = await src.next();
      assert.ok(looksLikeJpeg(a.data));
      const m = await sharp(a.data).metadata();
      // fswebcam keeps a FILE: source's own size (it cannot scale a still image).
      assert.deepEqual([m.format, m.width, m.height], ['jpeg', 910, 1137]);
      const sessionDirs = await readdir(scratch);
      assert.equal(sessionDirs.length, 1, 'one private scratch directory per session');
      // Between captures the directory is empty: each frame is deleted once read.
      let emptySeen = false;
      const b = await src.next();
      assert.ok(b.seq > a.seq);
      for (let i = 0; i < 20 && !emptySeen; i++) {
        emptySeen = (await readdir(join(scratch, sessionDirs[0] as string))).length === 0;
        if (!emptySeen) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(emptySeen);
    } finally {
      await src.stop();
    }
    assert.deepEqual(await readdir(scratch), [], 'stop() removes the scratch directory');
  });
});

void test('a webcam whose device disappears is reported lost and keeps retrying without throwing', { timeout: 15_000 }, async () => {
  await withTempDir(async (dir) => {
    const { copyFile, rm } = await import('node:fs/promises');
    const local = join(dir, 'cam.jpg');
    await copyFile(photo, local);
    const src = createFrameSource({ kind: 'webcam', device: `FILE:${local}`, fps: 5, scratchDir: dir, restartBackoffMinMs: 50, stallTimeoutMs: 3000 });
    const lost: LostEvent[] = [];
    let restored = 0;
    src.on('lost', (e) => lost.push(e));
    src.on('restored', () => restored++);
    await src.start();
    try {
      await src.next();
      await rm(local); // "unplug"
      await waitFor('lost', () => lost.length === 1, 3000);
      assert.match(lost[0]?.reason ?? '', /^fswebcam: /);
      await copyFile(photo, local); // "plug back in"
      await waitFor('restored', () => restored === 1, 3000);
      assert.equal(src.status().state, 'running');
    } finally {
      await src.stop();
    }
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('gate-webcam-')), []);
  });
});

void test('a missing FILE: image or camera is a config error that says what to do', { timeout: 15_000 }, async () => {
  const src = createFrameSource({ kind: 'webcam', device: '/dev/video98' });
  await assert.rejects(src.start(), (e: unknown) => e instanceof CaptureConfigError && /\/dev\/video98: no such device; is the camera plugged in\?/.test(e.message));
  await assert.rejects(createFrameSource({ kind: 'webcam', device: 'FILE:/nonexistent/photo.jpg' }).start(), /cannot read the image given as FILE:/);
  await assert.rejects(createFrameSource({ kind: 'webcam', device: 'FILE:/tmp/x.jpg;reboot' }).start(), /must be a plain device path/);
});
