import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createFrameSource, looksLikeJpeg } from '../../src/capture/index.js';
import { SHARED_FACES } from '../paths.js';
import { waitFor, withTempDir } from './helpers.js';

// Three photos of different sizes, so each frame tells which file it came from. The
// names sort differently by code point (frame10 < frame2) and by number (2 < 10).
const files = [
  { name: 'frame1.jpg', src: 'people/obama/4.jpg', size: [1480, 832] },
  { name: 'frame2.png', src: 'bbt/penny/1.png', size: null },
  { name: 'frame10.jpeg', src: 'people/kit_harington/2.jpg', size: [630, 374] },
] as const;

async function makeDir(dir: string): Promise<string> {
  const images = join(dir, 'images');
  await mkdir(images);
  for (const f of files) await copyFile(join(SHARED_FACES, f.src), join(images, f.name));
  await copyFile(join(SHARED_FACES, 'FACES.md'), join(images, 'README.md')); // ignored: not an image
  return images;
}

void test('an image directory replays in numeric name order at the configured rate, PNG re-encoded to JPEG', { timeout: 15_000 }, async () => {
  await withTempDir(async (dir) => {
    const images = await makeDir(dir);
    const penny = await sharp(join(SHARED_FACES, 'bbt/penny/1.png')).metadata();
    const src = createFrameSource({ kind: 'replay', path: images, fps: 20, loop: true });
    await src.start();
    try {
      const sizes: string[] = [];
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        const f = await src.next();
        assert.ok(looksLikeJpeg(f.data));
        const m = await sharp(f.data).metadata();
        assert.equal(m.format, 'jpeg');
        sizes.push(`${m.width}x${m.height}`);
        times.push(f.capturedAtMs);
      }
      assert.deepEqual(sizes, ['1480x832', `${penny.width}x${penny.height}`, '630x374', '1480x832'], 'frame1, frame2, frame10, then loops');
      const spanMs = (times[3] as number) - (times[0] as number);
      assert.ok(spanMs >= 3 * 50 * 0.8 && spanMs < 3 * 50 * 4, `3 intervals at 20 fps took ${spanMs} ms`);
    } finally {
      await src.stop();
    }
  });
});

void test('without loop the directory plays once and the source ends', { timeout: 15_000 }, async () => {
  await withTempDir(async (dir) => {
    const src = createFrameSource({ kind: 'replay', path: await makeDir(dir), fps: 50 });
    let ended = false;
    src.on('ended', () => (ended = true));
    await src.start();
    try {
      await waitFor('end of the image list', () => ended, 3000);
      assert.equal(src.status().framesReceived, files.length);
      assert.equal(src.status().state, 'ended');
    } finally {
      await src.stop();
    }
  });
});

void test('a looping directory is listed again at each loop: an image added meanwhile plays from the next loop', { timeout: 20_000 }, async () => {
  await withTempDir(async (dir) => {
    const images = await makeDir(dir);
    const src = createFrameSource({ kind: 'replay', path: images, fps: 5, loop: true });
    await src.start();
    try {
      const size = async (): Promise<string> => {
        const m = await sharp((await src.next()).data).metadata();
        return `${m.width}x${m.height}`;
      };
      assert.equal(await size(), '1480x832');
      // Added during the first loop, after frame1: it sorts last (frame20) and joins the next loop.
      await copyFile(join(SHARED_FACES, 'people/biden/1.jpg'), join(images, 'frame20.jpg'));
      const biden = await sharp(join(SHARED_FACES, 'people/biden/1.jpg')).metadata();
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) seen.push(await size());
      assert.ok(seen.includes(`${biden.width}x${biden.height}`), `the added image was played: ${seen.join(', ')}`);
    } finally {
      await src.stop();
    }
  });
});
