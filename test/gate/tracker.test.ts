// Following faces across frames by box overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignBoxes, BoxTracker } from '../../src/gate/tracker.js';
import type { Box } from '../../src/gate/types.js';

const box = (x: number, y: number, size: number): Box => [x, y, x + size, y + size];

test('assignBoxes: greedy by IoU, each track and box used once, below minIou left out', () => {
  const tracks = [box(0, 0, 100), box(200, 0, 100)];
  // Box 0 overlaps track 1 well; box 1 overlaps track 0 a little more than box 2 does; box 3 overlaps nothing.
  const boxes = [box(205, 0, 100), box(10, 0, 100), box(30, 0, 100), box(600, 0, 100)];
  assert.deepEqual(assignBoxes(tracks, boxes, 0.3), [1, 0, -1, -1]);
  // At a higher minimum the weaker pair goes too.
  assert.deepEqual(assignBoxes(tracks, boxes, 0.9), [1, -1, -1, -1]);
  assert.deepEqual(assignBoxes([], boxes, 0.3), [-1, -1, -1, -1]);
  assert.deepEqual(assignBoxes(tracks, [], 0.3), []);
});

test('assignBoxes: the best pair wins, not the first box in the list', () => {
  const tracks = [box(0, 0, 100), box(1000, 0, 100)];
  // Box 0 overlaps track 0 (IoU 0.43), box 1 overlaps it better (IoU 0.90): box 1 continues it.
  const boxes = [box(40, 0, 100), box(5, 0, 100)];
  assert.deepEqual(assignBoxes(tracks, boxes, 0.3), [-1, 0]);
});

test('assignBoxes: disjoint boxes never join a track, even at minIou 0', () => {
  assert.deepEqual(assignBoxes([box(0, 0, 10)], [box(100, 100, 10)], 0), [-1]);
});

test('a face moving a little each frame keeps its track id over 50 frames', () => {
  const t = new BoxTracker({ trackIou: 0.3, trackTtlMs: 1500 });
  const ids = new Set<number>();
  for (let i = 0; i < 50; i++) ids.add(t.update([box(300 + i * 3, 200 - i, 100 + i * 2)], i * 100)[0]!);
  assert.deepEqual([...ids], [1]);
  assert.equal(t.get(1)?.hits, 50);
  assert.equal(t.get(1)?.firstSeenMs, 0);
  assert.equal(t.get(1)?.lastSeenMs, 4900);
});

test('a jump larger than the overlap allows starts a new track; the old one expires after trackTtlMs', () => {
  const t = new BoxTracker({ trackIou: 0.3, trackTtlMs: 1500 });
  assert.deepEqual(t.update([box(0, 0, 100)], 0), [1]);
  assert.deepEqual(t.update([box(500, 0, 100)], 100), [2]);
  assert.equal(t.size, 2);
  assert.deepEqual(t.expire(1500), [], 'exactly trackTtlMs after the last detection the track is still alive');
  assert.deepEqual(t.expire(1501).map((x) => x.id), [1]);
  assert.deepEqual(t.expire(1601).map((x) => x.id), [2]);
  assert.equal(t.size, 0);
  assert.deepEqual(t.update([box(0, 0, 100)], 1700), [3], 'ids are never reused');
});

test('a track survives missed frames within trackTtlMs and is continued by the next overlapping box', () => {
  const t = new BoxTracker({ trackIou: 0.3, trackTtlMs: 1500 });
  t.update([box(0, 0, 100)], 0);
  t.expire(1400);
  assert.deepEqual(t.update([box(5, 0, 100)], 1400), [1]);
});

test('two faces side by side keep separate ids while both move', () => {
  const t = new BoxTracker({ trackIou: 0.3, trackTtlMs: 1500 });
  for (let i = 0; i < 20; i++) {
    // Listed in alternating order: ids follow the boxes, not the list position.
    const a = box(100 + i * 4, 100, 120);
    const b = box(400 - i * 4, 100, 120);
    const ids = i % 2 ? t.update([b, a], i * 100) : t.update([a, b], i * 100);
    assert.deepEqual(i % 2 ? ids : [...ids].reverse(), [2, 1]);
  }
});

test('the tracker keeps its own copy of the box', () => {
  const t = new BoxTracker({ trackIou: 0.3, trackTtlMs: 1500 });
  const b = box(0, 0, 100);
  t.update([b], 0);
  b[0] = 90;
  assert.deepEqual(t.get(1)?.box, [0, 0, 100, 100]);
});
