// The MiniFASNet liveness check: the reference's crop and resize (pure), and the real
// models on the reference's own sample images (shared/models/MODELS.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLivenessCheck, fuseLiveness, livenessDefaults } from '../../src/gate/liveness.js';
import { cropToBgrTensor, livenessCropRect, softmax } from '../../src/vision/minifasnet.js';
import { decodeImage } from '../../src/vision/image.js';
import { startPipeline } from '../fixtures.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';

test('crop rect: the box scaled around its centre, shifted inside the image, the scale lowered when it cannot fit', () => {
  // 100x100 box centred at (320, 240) in 640x480, scale 2.7: 270x270 around the centre.
  assert.deepEqual(livenessCropRect([270, 190, 370, 290], 640, 480, 2.7), [185, 105, 455, 375]);
  // Near the left/top edge: shifted right/down, size kept.
  assert.deepEqual(livenessCropRect([0, 0, 100, 100], 640, 480, 2.7), [0, 0, 270, 270]);
  // Near the right/bottom edge: shifted left/up to end at width-1 / height-1.
  assert.deepEqual(livenessCropRect([540, 380, 640, 480], 640, 480, 2.7), [369, 209, 639, 479]);
  // Scale 4.0 would be 400 px tall in a 300 px image: lowered to (300-1)/100.
  const [x1, y1, x2, y2] = livenessCropRect([100, 100, 200, 200], 640, 300, 4.0);
  assert.deepEqual([y1, y2], [0, 299]);
  assert.equal(x2 - x1, 299);
});

test('bad liveness options are refused before any model is loaded, every problem at once, in the config\'s words', async () => {
  const runtime = { threads: 1, verifyHashes: true };
  await assert.rejects(createLivenessCheck(SHARED_MODELS, { ...livenessDefaults, threshold: 2, frames: 0 }, runtime), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /liveness\.threshold: 2: must be <= 1; this key is: .*\(example: 0\.9\)/);
    assert.match(e.message, /liveness\.frames: 0: must be >= 1; this key is: .*\(example: 5\)/);
    return true;
  });
  await assert.rejects(createLivenessCheck(SHARED_MODELS, { ...livenessDefaults, mode: 'required', models: [] }, runtime), /liveness\.models: \[\]: at least one model is needed when mode is required/);
});

test('crop to tensor: planar BGR, raw 0..255; an unscaled crop is copied exactly', () => {
  const w = 4, h = 4;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set([i, 100 + i, 200 + (i % 50)], i * 3);
  const out = new Float32Array(3 * 4 * 4);
  cropToBgrTensor({ data, width: w, height: h }, [0, 0, 3, 3], 4, out);
  for (let i = 0; i < 16; i++) {
    assert.equal(out[i], 200 + (i % 50), 'plane 0 is blue');
    assert.equal(out[16 + i], 100 + i, 'plane 1 is green');
    assert.equal(out[32 + i], i, 'plane 2 is red');
  }
  // Downscaling 4x4 -> 2x2 averages 2x2 blocks (OpenCV INTER_LINEAR at half size), rounded.
  const small = new Float32Array(3 * 2 * 2);
  cropToBgrTensor({ data, width: w, height: h }, [0, 0, 3, 3], 2, small);
  // Red plane: the means of {0,1,4,5}, {2,3,6,7}, {8,9,12,13}, {10,11,14,15} = 2.5, 4.5, 10.5, 12.5.
  assert.deepEqual(Array.from(small.subarray(8, 12)), [3, 5, 11, 13]);
});

test('softmax and the track fusion', () => {
  const p = softmax([0, Math.log(3), 0]);
  assert.ok(Math.abs(p[1]! - 0.6) < 1e-9);
  assert.deepEqual(fuseLiveness([], { threshold: 0.9, frames: 3 }), { score: null, frames: 0, complete: false, live: false });
  const lv = fuseLiveness([0.1, 1, 1, 0.8], { threshold: 0.9, frames: 3 });
  assert.ok(Math.abs(lv.score! - 0.9333) < 1e-3);
  assert.deepEqual([lv.frames, lv.complete, lv.live], [3, true, true]);
  assert.equal(fuseLiveness([1, 1], { threshold: 0.9, frames: 3 }).live, false, 'not enough frames yet');
});

test('the real models: the reference samples score live for image_T1 and attack for image_F1/F2', async () => {
  const { pipeline } = await startPipeline();
  const check = await createLivenessCheck(SHARED_MODELS, livenessDefaults, { threads: 1, verifyHashes: true });
  await check.start();
  try {
    const score = async (name: string): Promise<number> => {
      const img = await decodeImage(await readFile(join(SHARED_FACES, 'spoof', name)), { maxPixels: 4e7 });
      const face = (await pipeline.analyze(img, { embed: false })).faces[0];
      assert.ok(face, `a face in ${name}`);
      const s = await check.scoreFace(img, face);
      // check() is the same score against the threshold, for the daemon.
      assert.deepEqual(await check.check({ atMs: 0, image: img }, face), { score: s, live: s >= livenessDefaults.threshold });
      return s;
    };
    assert.ok((await score('image_T1.jpg')) > 0.95);
    assert.ok((await score('image_F1.jpg')) < 0.5);
    assert.ok((await score('image_F2.jpg')) < 0.5);
  } finally {
    await check.stop();
    await pipeline.stop();
  }
});
