// The threshold that keeps strangers out as the attendee list grows (pure).
//
// A stranger is wrongly identified when they score at or above the threshold against ANY
// of the N enrolled attendees, so with a per-comparison false-match rate p(t) the
// false-positive identification rate is about FPIR(N, t) = 1 - (1 - p(t))^N. A
// calibration table holds p(t) measured on impostor comparisons (`eval identify`); the
// effective threshold for an event is the lowest t whose FPIR at the event's attendee
// count stays within the target, never below match.threshold. Beyond the measured
// scores, p(t) is extrapolated along the fitted exponential tail: an extrapolation, and
// the docs say so (docs/accuracy.md).
import { calibrationProblems, type CalibrationTable } from '../config/calibration-file.js';

// The table's format is the file `identification.calibrationFile` names, checked when the
// config is loaded (src/config/calibration-file.ts).
export { calibrationProblems, type CalibrationTable };

/** Smallest count of impostor scores a point must rest on; rarer levels come from the tail fit. */
export const MIN_POINT_COUNT = 10;

/**
 * A table from impostor similarities: points at p = 10^-0.25k while at least
 * MIN_POINT_COUNT comparisons score above them, and the tail slope fitted (least squares
 * on log10 p) over the points with p <= 1e-2.
 */
export function buildCalibration(impostor: readonly number[], meta: Omit<CalibrationTable, 'comparisons' | 'points' | 'tailSlope'>): CalibrationTable {
  const s = [...impostor].sort((a, b) => b - a);
  const n = s.length;
  if (n < 1000) throw new RangeError(`calibration needs at least 1000 impostor comparisons, got ${n}`);
  const points: [number, number][] = [];
  for (let k = 2; ; k++) {
    const p = 10 ** (-k / 4);
    const count = Math.round(p * n);
    if (count < MIN_POINT_COUNT) break;
    // the count-th highest score: `count` comparisons score at or above it
    points.push([round(s[count - 1]!, 4), Number((count / n).toPrecision(4))]);
  }
  const fit = points.filter(([, p]) => p <= 1e-2);
  const tailSlope = fit.length >= 2 ? slope(fit.map(([t]) => t), fit.map(([, p]) => Math.log10(p))) : -20;
  return { ...meta, comparisons: n, points, tailSlope: round(tailSlope, 3) };
}

function slope(x: number[], y: number[]): number {
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let num = 0, den = 0;
  x.forEach((xi, i) => {
    num += (xi - mx) * (y[i]! - my);
    den += (xi - mx) ** 2;
  });
  return num / den;
}

const round = (v: number, d: number): number => Math.round(v * 10 ** d) / 10 ** d;

/** p(t): the per-comparison false-match rate at threshold t, log-linear between points, the tail beyond. */
export function falseMatchRate(table: CalibrationTable, t: number): number {
  const pts = table.points;
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  if (t <= first[0]) return first[1];
  if (t >= last[0]) return Math.min(1, 10 ** (Math.log10(last[1]) + table.tailSlope * (t - last[0])));
  for (let i = 1; i < pts.length; i++) {
    const [t1, p1] = pts[i]!;
    if (t > t1) continue;
    const [t0, p0] = pts[i - 1]!;
    const f = (t - t0) / (t1 - t0);
    return 10 ** (Math.log10(p0) + f * (Math.log10(p1) - Math.log10(p0)));
  }
  return last[1];
}

/** Expected FPIR with n attendees enrolled, from the per-comparison rate p: 1 - (1 - p)^n. */
export function fpirFromRate(p: number, n: number): number {
  if (n <= 0) return 0;
  return -Math.expm1(n * Math.log1p(-Math.min(p, 1 - 1e-16)));
}

export const expectedFpir = (table: CalibrationTable, t: number, n: number): number => fpirFromRate(falseMatchRate(table, t), n);

/** The lowest similarity t with expectedFpir(table, t, n) <= target (rounded up to 0.001). */
export function calibratedThreshold(table: CalibrationTable, n: number, target: number): number {
  const p = -Math.expm1(Math.log1p(-target) / Math.max(1, n));
  const pts = table.points;
  const last = pts[pts.length - 1]!;
  let t: number;
  if (p >= pts[0]![1]) t = pts[0]![0];
  else if (p <= last[1]) t = last[0] + (Math.log10(p) - Math.log10(last[1])) / table.tailSlope;
  else {
    t = last[0];
    for (let i = 1; i < pts.length; i++) {
      const [t1, p1] = pts[i]!;
      if (p1 > p) continue;
      const [t0, p0] = pts[i - 1]!;
      t = t0 + ((Math.log10(p) - Math.log10(p0)) / (Math.log10(p1) - Math.log10(p0))) * (t1 - t0);
      break;
    }
  }
  return Math.ceil(t * 1000 - 1e-9) / 1000;
}

export interface ThresholdRule {
  /** match.threshold: the floor, whatever the table says. */
  base: number;
  /** Target FPIR for a whole event; null: the base threshold alone. */
  targetFpir: number | null;
  table: CalibrationTable;
}

export interface EffectiveThreshold {
  threshold: number;
  /** Attendees it was computed for. */
  attendees: number;
  /** What set it: the calibration at the target, or the base threshold (floor, or no target). */
  from: 'calibration' | 'base';
  /** FPIR the table predicts at this threshold and attendee count. */
  expectedFpir: number;
}

/** The threshold an event with `attendees` enrolled decides with (pure). */
export function effectiveThreshold(rule: ThresholdRule, attendees: number): EffectiveThreshold {
  const cal = rule.targetFpir === null ? -Infinity : calibratedThreshold(rule.table, attendees, rule.targetFpir);
  const threshold = Math.max(rule.base, cal);
  return { threshold, attendees, from: cal > rule.base ? 'calibration' : 'base', expectedFpir: expectedFpir(rule.table, threshold, attendees) };
}
