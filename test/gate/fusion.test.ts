// Evidence over frames: a track's last fusionFrames good embeddings are averaged; faces of
// other tracks, low-quality faces and expired tracks never mix in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackFuser } from '../../src/gate/fusion.js';
import { fuseVectors } from '../../src/match/fused-gallery.js';
import type { Box } from '../../src/gate/types.js';
import { unitVectors } from '../vectors.js';

const [a1, a2, a3, a4, b1] = unitVectors(5, 512, 3) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
const left: Box = [10, 10, 110, 110];
const right: Box = [300, 10, 400, 110];
const close = (x: Float32Array, y: Float32Array) => x.every((v, i) => Math.abs(v - y[i]!) < 1e-6);

test('a track is matched on the mean of its last fusionFrames good embeddings, one track never mixing with another', () => {
  const f = new TrackFuser({ trackIou: 0.3, trackTtlMs: 1500, fusionFrames: 3 });
  const r1 = f.fuse([{ box: left, embedding: a1 }, { box: right, embedding: b1 }], 0);
  assert.ok(close(r1[0]!.embedding, a1) && r1[0]!.frames === 1);
  assert.ok(close(r1[1]!.embedding, b1));
  // a low-quality frame adds nothing and gets nothing
  assert.equal(f.fuse([{ box: left, embedding: null }], 100)[0], null);
  const r3 = f.fuse([{ box: left, embedding: a2 }], 200);
  assert.ok(close(r3[0]!.embedding, fuseVectors([a1, a2])!) && r3[0]!.frames === 2);
  f.fuse([{ box: left, embedding: a3 }], 300);
  // the window slides: a1 drops out after three good frames
  const r5 = f.fuse([{ box: left, embedding: a4 }], 400);
  assert.ok(close(r5[0]!.embedding, fuseVectors([a2, a3, a4])!) && r5[0]!.frames === 3);
  // the track ends after trackTtlMs unseen: a new face there starts from nothing
  const r6 = f.fuse([{ box: left, embedding: b1 }], 400 + 1501);
  assert.ok(close(r6[0]!.embedding, b1) && r6[0]!.frames === 1);
});

test('fusionFrames 1 matches each frame alone', () => {
  const f = new TrackFuser({ trackIou: 0.3, trackTtlMs: 1500, fusionFrames: 1 });
  f.fuse([{ box: left, embedding: a1 }], 0);
  assert.ok(close(f.fuse([{ box: left, embedding: a2 }], 100)[0]!.embedding, a2));
});
