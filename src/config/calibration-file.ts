// The calibration table a site measures for itself (`gate-agent eval identify
// --write-calibration`) and `identification.calibrationFile` names: its format and its
// checks, run when the config is loaded so a missing or broken table stops the start.
import { readFileSync } from 'node:fs';
import { errorText } from '../errors.js';

export interface CalibrationTable {
  /** Where the comparisons came from (for people). */
  source: string;
  /** Embedder the scores were made with; a table is only valid for that model. */
  modelId: string;
  /** How one attendee is scored: the best of their templates, or their fused template. */
  templates: 'best' | 'fused';
  /** Impostor comparisons (one probe against one attendee) the table was measured on. */
  comparisons: number;
  /** [similarity, share of impostor comparisons scoring at or above it], similarity ascending. */
  points: [number, number][];
  /** d log10(p) / d similarity past the last point (negative): the fitted tail. */
  tailSlope: number;
}

/** Every problem with a table read from a file, as `where: what is wrong`. */
export function calibrationProblems(t: unknown, where: string): string[] {
  const o = t as Partial<CalibrationTable> | null;
  if (typeof o !== 'object' || o === null) return [`${where}: not a calibration table (write one with gate-agent eval identify --write-calibration)`];
  const out: string[] = [];
  if (typeof o.modelId !== 'string') out.push(`${where}: modelId: must be the embedder id the table was measured with`);
  if (o.templates !== 'best' && o.templates !== 'fused') out.push(`${where}: templates: must be "best" or "fused"`);
  if (!(typeof o.tailSlope === 'number' && o.tailSlope < 0)) out.push(`${where}: tailSlope: ${JSON.stringify(o.tailSlope)}: must be a negative number`);
  const pts = o.points;
  if (!Array.isArray(pts) || pts.length < 2) out.push(`${where}: points: needs at least two [similarity, rate] pairs`);
  else {
    pts.forEach((p, i) => {
      const ok = Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && p[1] > 0 && p[1] <= 1;
      const prev = pts[i - 1];
      if (!ok) out.push(`${where}: points[${i}]: ${JSON.stringify(p)}: must be [similarity, rate] with 0 < rate <= 1`);
      else if (prev && !(p[0] > prev[0] && p[1] < prev[1])) out.push(`${where}: points[${i}]: similarity must rise and rate fall from one point to the next`);
    });
  }
  return out;
}

/** Reads and checks a calibration file; throws an Error naming every problem. */
export function readCalibration(file: string, path = 'identification.calibrationFile'): CalibrationTable {
  let t: unknown;
  try {
    t = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${JSON.stringify(file)}: cannot be read as JSON (${errorText(err).split('\n')[0]}); write it with gate-agent eval identify --write-calibration`, { cause: err });
  }
  const problems = calibrationProblems(t, `${path}: ${JSON.stringify(file)}`);
  if (problems.length) throw new Error(problems.join('; '));
  return t as CalibrationTable;
}
