// The gallery-aware threshold: the calibration table's maths, worked out by hand on
// scores whose distribution is known, and the table shipped with the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildCalibration,
  calibratedThreshold,
  calibrationProblems,
  effectiveThreshold,
  expectedFpir,
  falseMatchRate,
  fpirFromRate,
  type CalibrationTable,
} from '../../src/match/calibration.js';
import { LFW_CALIBRATION } from '../../src/match/calibration-lfw.js';

// 100,000 impostor scores whose share at or above s is exactly 10^(-10 s) for s in (0, 0.4]:
// an exponential tail of slope -10 per unit of similarity.
const N = 100_000;
const scores = Array.from({ length: N }, (_, i) => -Math.log10((i + 1) / N) / 10);
const table = buildCalibration(scores, { source: 'test', modelId: 'm', templates: 'fused' });

test('a table from scores: points at quarter decades down to 10 comparisons, the tail slope fitted', () => {
  assert.equal(table.comparisons, N);
  // p = 10^-0.5 ... 10^-4 (10 comparisons of 100,000): 15 points, similarity rising, rate falling
  assert.equal(table.points.length, 15);
  for (const [s, p] of table.points) assert.ok(Math.abs(s - -Math.log10(p) / 10) < 1e-3, `${s} ${p}`);
  assert.ok(Math.abs(table.tailSlope - -10) < 0.05, String(table.tailSlope));
  assert.deepEqual(calibrationProblems(table, 't'), []);
});

test('p(t) interpolates between points and follows the tail beyond the last one', () => {
  assert.ok(Math.abs(falseMatchRate(table, 0.25) - 10 ** -2.5) / 10 ** -2.5 < 0.02);
  // beyond the measured scores (last point at p = 1e-4, similarity 0.4): the extrapolation
  assert.ok(Math.abs(Math.log10(falseMatchRate(table, 0.6)) - -6) < 0.02);
  assert.equal(falseMatchRate(table, -1), table.points[0]![1]);
});

test('FPIR(N) = 1 - (1 - p)^N, and the threshold for a target inverts it, growing with N', () => {
  assert.equal(fpirFromRate(0.5, 2), 0.75);
  assert.ok(Math.abs(fpirFromRate(1e-6, 1000) - (1 - (1 - 1e-6) ** 1000)) < 1e-12);
  let prev = -Infinity;
  for (const n of [1, 100, 1000, 10_000, 50_000]) {
    const t = calibratedThreshold(table, n, 0.001);
    assert.ok(t > prev, `threshold grows with the attendee count (${n}: ${t})`);
    prev = t;
    // the FPIR at t meets the target, and 0.001 lower does not (rounded up to 0.001)
    assert.ok(expectedFpir(table, t, n) <= 0.001 + 1e-12, `${n}: ${expectedFpir(table, t, n)}`);
    assert.ok(expectedFpir(table, t - 0.002, n) > 0.001, `${n}: not needlessly high`);
  }
  // by hand: N = 1000, target 1e-3 -> p ~ 1e-6 -> similarity 0.6 on this tail
  assert.ok(Math.abs(calibratedThreshold(table, 1000, 0.001) - 0.6) <= 0.002);
});

test('the effective threshold never goes below match.threshold, and says what set it', () => {
  const rule = { base: 0.34, targetFpir: 0.001, table };
  assert.deepEqual([effectiveThreshold(rule, 1).threshold, effectiveThreshold(rule, 1).from], [0.34, 'base']);
  const big = effectiveThreshold(rule, 10_000);
  assert.equal(big.from, 'calibration');
  assert.ok(big.threshold > 0.6);
  assert.equal(effectiveThreshold({ ...rule, targetFpir: null }, 10_000).threshold, 0.34);
});

test('a bad table is refused with what is wrong', () => {
  const bad = { ...table, points: [[0.2, 0.01], [0.1, 0.001]], tailSlope: 3 } as CalibrationTable;
  const p = calibrationProblems(bad, 'file.json');
  assert.ok(p.some((x) => /tailSlope: 3: must be a negative number/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /points\[1\]: similarity must rise/.test(x)), p.join('\n'));
  assert.ok(calibrationProblems(null, 'f')[0]!.includes('--write-calibration'));
  assert.throws(() => buildCalibration([0.1, 0.2], { source: '', modelId: '', templates: 'best' }), /at least 1000/);
});

test('the shipped LFW table: valid, and its thresholds for 649 and 50,000 attendees', () => {
  assert.deepEqual(calibrationProblems(LFW_CALIBRATION, 'LFW'), []);
  assert.equal(LFW_CALIBRATION.modelId, 'arcface_mbf_w600k_int8');
  const rule = { base: 0.34, targetFpir: 0.001, table: LFW_CALIBRATION };
  // docs/accuracy.md quotes these
  assert.equal(effectiveThreshold(rule, 649).threshold, 0.39);
  assert.equal(effectiveThreshold(rule, 50_000).threshold, 0.495);
});
