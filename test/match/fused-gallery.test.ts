// The fused gallery (one template per attendee: the mean of their embeddings) against a
// brute force over the fused vectors, its updates, and 1:1 verification of both galleries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FusedGallery, fuseVectors } from '../../src/match/fused-gallery.js';
import { Gallery } from '../../src/match/gallery.js';
import { unitVectors } from '../vectors.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

test('fused: each attendee scored once against the mean of their embeddings; verify() is that score; removal and additions apply', async () => {
  const vs = unitVectors(600, 512, 7);
  const byId = new Map(vs.map((v, i) => [i, v]));
  const userOf = (i: number) => `u${i % 200}`; // 3 embeddings per attendee
  const g = new FusedGallery({ dim: 512, threads: 1, rescoreTop: 16, vectorOf: (id) => byId.get(id), initialCapacity: 16 });
  const best = new Gallery({ dim: 512, threads: 1, rescoreTop: 16, vectorOf: (id) => byId.get(id), initialCapacity: 16 });
  await g.start();
  await best.start();
  try {
    vs.forEach((v, i) => { g.add(i, userOf(i), v); best.add(i, userOf(i), v); });
    assert.deepEqual([g.size, g.attendeeCount], [200, 200]);
    const fusedOf = (u: number) => fuseVectors([vs[u]!, vs[u + 200]!, vs[u + 400]!])!;
    // a probe near attendee u5's fused template
    const q = fuseVectors([fusedOf(5), unitVectors(1, 512, 99)[0]!])!;
    const [top] = await g.search(q, 2);
    assert.equal(top!.userId, 'u5');
    assert.ok(Math.abs(top!.similarity - dot(q, fusedOf(5))) < 1e-5);
    assert.ok(Math.abs(g.verify(q, 'u5')!.similarity - dot(q, fusedOf(5))) < 1e-5);
    // best-of: the best single embedding of u5
    const bestOf = Math.max(dot(q, vs[5]!), dot(q, vs[205]!), dot(q, vs[405]!));
    assert.ok(Math.abs(best.verify(q, 'u5')!.similarity - bestOf) < 1e-5);
    assert.equal(g.verify(q, 'nobody'), null);
    assert.equal(best.verify(q, 'nobody'), null);

    // one embedding gone: the template is the mean of the other two
    g.remove({ embeddingId: 405 });
    byId.delete(405);
    assert.ok(Math.abs(g.verify(q, 'u5')!.similarity - dot(q, fuseVectors([vs[5]!, vs[205]!])!)) < 1e-5);
    g.remove({ userId: 'u5' });
    assert.equal(g.verify(q, 'u5'), null);
    assert.notEqual((await g.search(q, 1))[0]!.userId, 'u5');
    assert.equal(g.attendeeCount, 199);
    g.add(1000, 'u5', fusedOf(5));
    byId.set(1000, fusedOf(5));
    assert.equal((await g.search(q, 1))[0]!.userId, 'u5');
  } finally {
    await g.stop();
    await best.stop();
  }
});
