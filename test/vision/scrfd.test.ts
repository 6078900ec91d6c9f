import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeScrfd, iou, letterbox, nms, finalizeDetections, STRIDES } from '../../src/vision/scrfd.js';
import type { Detection } from '../../src/vision/types.js';

const det = (box: Detection['box'], score: number): Detection => ({ box, score, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] });

test('letterbox keeps the aspect ratio and fits the longer side', () => {
  const lb = letterbox(1280, 720, 640);
  assert.equal(lb.scale, 0.5);
  assert.equal(lb.resizedWidth, 640);
  assert.equal(lb.resizedHeight, 360);
  const tall = letterbox(300, 600, 320);
  assert.equal(tall.resizedHeight, 320);
  assert.equal(tall.resizedWidth, 160);
});

test('decodeScrfd places a box and landmarks from one anchor of each stride', () => {
  const input = 64;
  const scores: Float32Array[] = [], boxes: Float32Array[] = [], landmarks: Float32Array[] = [];
  for (const s of STRIDES) {
    const cells = (input / s) ** 2;
    scores.push(new Float32Array(cells * 2));
    boxes.push(new Float32Array(cells * 8));
    landmarks.push(new Float32Array(cells * 20));
  }
  // stride 16, cell (x=2, y=1) second anchor: index = (1*4 + 2)*2 + 1 = 13
  const i = 13;
  scores[1]![i] = 0.9;
  boxes[1]!.set([1, 0.5, 2, 1.5], i * 4);
  landmarks[1]!.set([0.5, 0.25, 1, 0, 0, 0, 0, 0, 0, 0], i * 10);
  const dets = decodeScrfd({ scores, boxes, landmarks }, input, 0.5, 0.5);
  assert.equal(dets.length, 1);
  const d = dets[0]!;
  // centre (32, 16) in network px; /0.5 scale to image px
  assert.deepEqual(d.box, [(32 - 16) / 0.5, (16 - 8) / 0.5, (32 + 32) / 0.5, (16 + 24) / 0.5]);
  assert.deepEqual(d.landmarks[0], [(32 + 8) / 0.5, (16 + 4) / 0.5]);
  assert.deepEqual(d.landmarks[1], [(32 + 16) / 0.5, 32]);
  assert.equal(decodeScrfd({ scores, boxes, landmarks }, input, 0.5, 0.95).length, 0, 'below the score threshold is dropped');
});

test('nms keeps the best of overlapping boxes and all separate ones', () => {
  const kept = nms([det([0, 0, 10, 10], 0.6), det([1, 1, 11, 11], 0.9), det([50, 50, 60, 60], 0.7)], 0.4);
  assert.deepEqual(kept.map((d) => d.score), [0.9, 0.7]);
  assert.ok(iou([0, 0, 10, 10], [0, 0, 10, 10]) === 1);
  assert.equal(iou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
});

test('finalizeDetections clips to the image and orders largest first', () => {
  const out = finalizeDetections([det([-5, -5, 10, 10], 0.9), det([20, 20, 80, 90], 0.6)], 50, 50);
  assert.deepEqual(out[0]!.box, [20, 20, 50, 50]);
  assert.deepEqual(out[1]!.box, [0, 0, 10, 10]);
});
