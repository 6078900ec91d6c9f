// The fixed-size ring behind the daemon's latency and stage statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentSamples } from '../../src/app/recent-samples.js';

void test('RecentSamples keeps the last N in arrival order and never more', () => {
  const r = new RecentSamples(3);
  assert.deepEqual(r.values(), []);
  r.push(1);
  r.push(2);
  assert.deepEqual(r.values(), [1, 2]);
  for (let i = 3; i <= 1000; i++) r.push(i);
  assert.equal(r.length, 3);
  assert.deepEqual(r.values(), [998, 999, 1000]);
  r.clear();
  assert.deepEqual([r.length, r.values()], [0, []]);
  assert.throws(() => new RecentSamples(0), /capacity 0 must be a whole number above 0/);
});
