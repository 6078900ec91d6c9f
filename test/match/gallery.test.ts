// The int8 gallery against an exact float brute force, and its incremental updates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gallery } from '../../src/match/gallery.js';
import { decideMatch } from '../../src/match/decide.js';
import { unitVectors } from '../vectors.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/**
 * A started gallery holding n seeded unit vectors (embedding id i, attendee userOf(i)),
 * re-scored from `byId` as the store would; stopped after fn whatever happens.
 */
async function withGallery(
  n: number,
  seed: number,
  userOf: (i: number) => string,
  fn: (g: Gallery, vs: Float32Array[], byId: Map<number, Float32Array>) => Promise<void>,
): Promise<void> {
  const vs = unitVectors(n, 512, seed);
  const byId = new Map(vs.map((v, i) => [i, v]));
  const g = new Gallery({ dim: 512, threads: 1, rescoreTop: 16, vectorOf: (id) => byId.get(id), initialCapacity: 16 });
  await g.start();
  try {
    vs.forEach((v, i) => g.add(i, userOf(i), v));
    await fn(g, vs, byId);
  } finally {
    await g.stop();
  }
}

test('search returns the exact best and second-best attendee, equal to a float brute force', async () => {
  await withGallery(3000, 1, (i) => `u${i % 1000}`, async (g, vs) => {
    assert.equal(g.size, 3000);
    assert.equal(g.attendeeCount, 1000);
    for (const [qi, q] of unitVectors(20, 512, 2).entries()) {
      // a probe near attendee u(qi*7): a noisy copy of one of their embeddings
      const target = vs[qi * 7]!;
      const probe = new Float32Array(512).map((_, d) => target[d]! + 0.8 * q[d]!);
      const n = Math.hypot(...probe);
      probe.forEach((x, d) => (probe[d] = x / n));
      const best = new Map<string, number>();
      vs.forEach((v, i) => {
        const u = `u${i % 1000}`;
        best.set(u, Math.max(best.get(u) ?? -2, dot(probe, v)));
      });
      const exact = [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2);
      const got = await g.search(probe, 2);
      assert.deepEqual(got.map((c) => c.userId), exact.map((e) => e[0]));
      got.forEach((c, i) => assert.ok(Math.abs(c.similarity - exact[i]![1]) < 1e-5));
    }
  });
});

test('removals and re-adds keep every remaining embedding findable', async () => {
  await withGallery(200, 3, (i) => `u${i}`, async (g, vs) => {
    for (let i = 0; i < 200; i += 3) g.remove({ userId: `u${i}` });
    g.remove({ embeddingId: 1 });
    for (let i = 0; i < 200; i++) {
      const top = (await g.search(vs[i]!, 1))[0];
      if (i % 3 === 0 || i === 1) assert.notEqual(top?.userId, `u${i}`);
      else assert.equal(top?.userId, `u${i}`);
    }
    g.add(0, 'u0', vs[0]!);
    assert.equal((await g.search(vs[0]!, 1))[0]?.userId, 'u0');
  });
});

test('changes made during a scan wait for it, so scores are never credited to the wrong attendee', async () => {
  await withGallery(500, 4, (i) => `u${i}`, async (g, vs) => {
    const pending = g.search(vs[499]!, 1);
    g.remove({ userId: 'u3' }); // moves the last column (u499) into column 3
    assert.equal((await pending)[0]?.userId, 'u499');
    assert.equal(g.size, 499);
  });
});

test('decideMatch: threshold, margin over a different attendee, empty gallery', () => {
  const p = { threshold: 0.4, margin: 0.05 };
  const c = (userId: string, similarity: number) => ({ userId, similarity, embeddingId: 0 });
  assert.equal(decideMatch([], p).reason, 'empty_gallery');
  assert.equal(decideMatch([c('a', 0.39)], p).reason, 'below_threshold');
  assert.equal(decideMatch([c('a', 0.6), c('b', 0.57)], p).reason, 'below_margin');
  const m = decideMatch([c('a', 0.6), c('b', 0.5)], p);
  assert.equal(m.decision, 'match');
  assert.equal(m.match?.userId, 'a');
  assert.equal(m.secondBest?.userId, 'b');
  assert.equal(decideMatch([c('a', 0.4)], p).decision, 'match');
});

test('overlapping scans: changes wait for the last one; a deleted embedding never matches on its estimate', async () => {
  await withGallery(300, 11, (i) => `u${i}`, async (g, vs, byId) => {
    const a = g.search(vs[299]!, 2);
    const b = g.search(vs[298]!, 2);
    g.remove({ userId: 'u5' }); // would move column 299 into 5 mid-scan
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra[0]?.userId, 'u299');
    assert.equal(rb[0]?.userId, 'u298');
    for (const c of [...ra, ...rb]) assert.ok(c.userId !== undefined && c.embeddingId !== undefined);
    byId.delete(7); // gone from the store, still in the gallery
    const r = await g.search(vs[7]!, 2);
    assert.notEqual(r[0]?.userId, 'u7');
  });
});
