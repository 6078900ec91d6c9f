import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARCFACE_TEMPLATE, applySimilarity, estimateSimilarity, warpToTensor } from '../../src/vision/align.js';
import { interEyePx, yawDeg } from '../../src/vision/quality.js';
import type { Point } from '../../src/vision/types.js';

test('landmarks equal to the template give the identity transform', () => {
  const t = estimateSimilarity(ARCFACE_TEMPLATE, ARCFACE_TEMPLATE);
  assert.ok(Math.abs(t.a - 1) < 1e-9 && Math.abs(t.b) < 1e-9 && Math.abs(t.tx) < 1e-9 && Math.abs(t.ty) < 1e-9, JSON.stringify(t));
});

test('a rotated, scaled, shifted copy of the template is mapped back exactly', () => {
  const ang = (25 * Math.PI) / 180, s = 2.5;
  const src = ARCFACE_TEMPLATE.map(([x, y]): Point => [s * (Math.cos(ang) * x - Math.sin(ang) * y) + 300, s * (Math.sin(ang) * x + Math.cos(ang) * y) + 40]);
  const t = estimateSimilarity(src, ARCFACE_TEMPLATE);
  src.forEach((p, i) => {
    const q = applySimilarity(t, p);
    assert.ok(Math.hypot(q[0] - ARCFACE_TEMPLATE[i]![0], q[1] - ARCFACE_TEMPLATE[i]![1]) < 1e-6);
  });
  assert.ok(Math.abs(Math.hypot(t.a, t.b) - 1 / s) < 1e-9, 'scale is the inverse of the applied one');
});

test('the warp samples bilinearly and fills outside with black', () => {
  // 2x1 image: red | blue. Identity transform over a 4x4 output.
  const img = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
  const out = new Float32Array(3 * 16);
  warpToTensor(img, { a: 1, b: 0, tx: 0, ty: 0 }, out, 0, 0, 1, 4);
  assert.equal(out[0], 255); // R at (0,0)
  assert.equal(out[2 * 16 + 1], 255); // B at (1,0)
  assert.equal(out[3], 0); // (3,0) is outside: black
  // half-pixel shift blends the two pixels equally
  warpToTensor(img, { a: 1, b: 0, tx: -0.5, ty: 0 }, out, 0, 0, 1, 4);
  assert.equal(out[0], 127.5);
  assert.equal(out[2 * 16], 127.5);
});

test('quality: eye distance and yaw from landmarks', () => {
  assert.equal(interEyePx(ARCFACE_TEMPLATE), Math.hypot(73.5318 - 38.2946, 51.5014 - 51.6963));
  assert.ok(Math.abs(yawDeg(ARCFACE_TEMPLATE)) < 3, 'the template is frontal');
  const turned: Point[] = ARCFACE_TEMPLATE.map(([x, y], i) => (i === 2 ? [x + 20, y] : [x, y]));
  assert.ok(yawDeg(turned) > 25, 'a nose far to one side is a turned head');
});
