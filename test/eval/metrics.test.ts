// The eval figures on hand-made inputs whose right answers are worked out in the comments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestThreshold, fuseTrack, identificationRates, padRates, tarAtFar, verificationAt, type ScoredPair } from '../../src/eval/metrics.js';
import { centralFace } from '../../src/eval/embeddings.js';
import { gallerySizes, planSeparate, planSplit } from '../../src/eval/identify.js';
import { parseSourceArg } from '../../src/eval/pad.js';
import { parsePairs } from '../../src/eval/verify.js';
import { identitiesFromList } from '../../src/eval/inputs.js';
import { commandLineProblem } from '../../src/cli/argv-guard.js';
import type { Detection } from '../../src/vision/types.js';

const g = (similarity: number): ScoredPair => ({ same: true, similarity });
const i = (similarity: number): ScoredPair => ({ same: false, similarity });

test('verificationAt: accepted at >= threshold; accuracy counts both kinds of right answer', () => {
  // genuine 0.9, 0.5, 0.2; impostor 0.6, 0.1 at 0.5: accept 0.9, 0.5 (TA 2), reject 0.2 (FR 1),
  // accept 0.6 (FA 1), reject 0.1 (TR 1): accuracy 3/5.
  const v = verificationAt([g(0.9), g(0.5), g(0.2), i(0.6), i(0.1)], 0.5);
  assert.deepEqual(v, { threshold: 0.5, trueAccepts: 2, falseRejects: 1, trueRejects: 1, falseAccepts: 1, accuracy: 0.6 });
});

test('bestThreshold: the midpoint with the best accuracy, lowest on ties', () => {
  // Sorted scores 0.1(i) 0.2(g) 0.6(i) 0.7(g) 0.9(g). At 0.65: TA 2 (0.7, 0.9), FR 1 (0.2),
  // TR 2: 4/5. At 0.15: TA 3, FA 1 (0.6), TR 1: 4/5 as well, and lower, so it wins the tie.
  // Every other candidate (0.09, 0.4, 0.8, 0.91) is right on at most 3 of 5.
  const b = bestThreshold([i(0.1), g(0.2), i(0.6), g(0.7), g(0.9)])!;
  assert.ok(Math.abs(b.threshold - 0.15) < 1e-12);
  assert.equal(b.accuracy, 0.8);
  // Perfectly separable: the midpoint of the gap, accuracy 1.
  const s = bestThreshold([i(0.1), i(0.3), g(0.5), g(0.9)])!;
  assert.ok(Math.abs(s.threshold - 0.4) < 1e-12);
  assert.equal(s.accuracy, 1);
  assert.equal(bestThreshold([]), null);
});

test('tarAtFar: threshold at the (k+1)-th highest impostor, k = floor(far * impostors)', () => {
  // 200 impostors scoring 0.000 .. 0.199; FAR 1e-2 allows k = 2 accepted: the threshold is
  // the 3rd highest, 0.197, and only 0.198 and 0.199 are above it.
  const imp = Array.from({ length: 200 }, (_, n) => i(n / 1000));
  const pairs = [...imp, g(0.9), g(0.198), g(0.197), g(0.05)];
  const t = tarAtFar(pairs, 1e-2);
  assert.ok(t.tar !== null);
  assert.equal(t.threshold, 0.197);
  assert.equal(t.farReached, 2 / 200);
  // genuine strictly above 0.197: 0.9 and 0.198 -> 2 of 4
  assert.equal(t.tar, 0.5);
  // FAR 1e-3 needs 1000 impostors; 200 are not enough to say anything.
  const none = tarAtFar(pairs, 1e-3);
  assert.equal(none.tar, null);
  assert.match((none as { reason: string }).reason, /needs at least 1000 impostor pairs, have 200/);
});

test('identificationRates: FNIR over mated probes (unknown or wrong), FPIR over strangers', () => {
  const r = identificationRates([
    { truth: 'a', matched: 'a' },
    { truth: 'a', matched: null }, // miss
    { truth: 'b', matched: 'a' }, // miss, wrong identity
    { truth: 'b', matched: 'b' },
    { truth: null, matched: null },
    { truth: null, matched: 'b' }, // false positive
    { truth: null, matched: null },
    { truth: null, matched: null },
  ]);
  assert.deepEqual(r, { mated: 4, nonMated: 4, fnir: 0.5, wrongIdentity: 1, fpir: 0.25, falsePositives: 1, falseNegatives: 2 });
});

test('padRates: APCER per attack source and its maximum, BPCER over bona fide', () => {
  const r = padRates([
    { attack: true, source: 'print', live: true },
    { attack: true, source: 'print', live: false },
    { attack: true, source: 'print', live: false },
    { attack: true, source: 'print', live: false }, // print: 1 of 4 accepted
    { attack: true, source: 'screen', live: true },
    { attack: true, source: 'screen', live: false }, // screen: 1 of 2
    { attack: false, source: 'cam', live: true },
    { attack: false, source: 'cam', live: false },
    { attack: false, source: 'cam', live: true }, // 1 of 3 bona fide rejected
  ]);
  assert.deepEqual(r.apcer, [
    { source: 'print', presentations: 4, acceptedAsLive: 1, apcer: 0.25 },
    { source: 'screen', presentations: 2, acceptedAsLive: 1, apcer: 0.5 },
  ]);
  assert.equal(r.apcerMax, 0.5);
  assert.equal(r.bonaFide, 3);
  assert.equal(r.rejectedAsAttack, 1);
  assert.equal(r.bpcer, 1 / 3);
  assert.equal(fuseTrack([0.9, 0.2, 0.7]), 0.6);
});

test('centralFace: the face whose box centre is nearest the image centre, not the largest', () => {
  const det = (box: [number, number, number, number]): Detection => ({ box, score: 1, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] });
  // 250x250: a large face at the left edge, a smaller one in the middle.
  assert.equal(centralFace([det([0, 50, 120, 200]), det([90, 90, 160, 160])], 250, 250), 1);
  assert.equal(centralFace([], 250, 250), null);
});

test('planSplit: first usable photo enrolled, the rest probes, single-photo identities strangers', () => {
  const ids = new Map([
    ['ann', ['ann/1', 'ann/2', 'ann/3']],
    ['bob', ['bob/1']],
    ['cid', ['cid/1', 'cid/2']],
    ['dan', ['dan/1', 'dan/2']],
  ]);
  const usable = (p: string) => p !== 'ann/1' && !p.startsWith('dan');
  const plan = planSplit(ids, usable);
  assert.deepEqual([...plan.enroll], [['ann', ['ann/2']], ['cid', ['cid/1']]]);
  assert.deepEqual(plan.notEnrolled, ['dan']);
  assert.deepEqual(plan.probes, [
    { path: 'ann/1', truth: 'ann' },
    { path: 'ann/3', truth: 'ann' },
    { path: 'cid/2', truth: 'cid' },
    { path: 'bob/1', truth: null },
  ]);
  const sep = planSeparate(new Map([['ann', ['g/ann/1']], ['eve', ['g/eve/1']]]), new Map([['ann', ['p/ann/1']], ['eve', ['p/eve/1']], ['zed', ['p/zed/1']]]), (p) => p !== 'g/eve/1');
  assert.deepEqual(sep.probes.map((p) => p.truth), ['ann', null, null]);
  assert.deepEqual(sep.notEnrolled, ['eve']);
  assert.deepEqual(gallerySizes([100, 500, 'all'], 649), [100, 500, 649]);
  assert.deepEqual(gallerySizes([100, 500, 'all'], 300), [100, 300]);
});

test('parsePairs: header skipped, yes/no and 1/0, paths relative to the images folder; bad lines named', () => {
  const pairs = parsePairs('a\tb\tsame\nx/1.jpg\tx/2.jpg\tyes\n\n/abs/y.jpg\tz.jpg\t0\n', '/data/pairs.tsv', '/imgs');
  assert.deepEqual(pairs, [
    { a: 'x/1.jpg', b: 'x/2.jpg', same: true, aPath: '/imgs/x/1.jpg', bPath: '/imgs/x/2.jpg' },
    { a: '/abs/y.jpg', b: 'z.jpg', same: false, aPath: '/abs/y.jpg', bPath: '/imgs/z.jpg' },
  ]);
  assert.equal(parsePairs('p.jpg,q.jpg,no\n', '/data/pairs.csv')[0]!.aPath, '/data/p.jpg');
  assert.throws(() => parsePairs('a.jpg\tb.jpg\tmaybe\n', 'f.tsv'), /f\.tsv:1: expected/);
  assert.throws(() => parsePairs('a\tb\tsame\n', 'f.tsv'), /holds no pair/);
});

test('identities from a list, source labels, and the command-line limit', () => {
  assert.deepEqual([...identitiesFromList(['/d/bob/2.jpg', '/d/ann/1.jpg', '/d/bob/10.jpg', '/d/bob/1.jpg'])], [
    ['ann', ['/d/ann/1.jpg']],
    ['bob', ['/d/bob/1.jpg', '/d/bob/2.jpg', '/d/bob/10.jpg']],
  ]);
  assert.deepEqual(parseSourceArg('print=/x/y', () => false), { label: 'print', path: '/x/y' });
  assert.deepEqual(parseSourceArg('/x/a=b.mp4', () => true), { label: '/x/a=b.mp4', path: '/x/a=b.mp4' });
  assert.equal(commandLineProblem(24_000, 'use a folder'), null);
  assert.match(commandLineProblem(24_001, 'use a folder')!, /command line is 24001 bytes, over the 24000 .*; use a folder/);
});
