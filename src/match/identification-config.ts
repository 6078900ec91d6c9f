// The `identification` section: how the threshold follows the number of enrolled
// attendees (a target FPIR and a calibration table) and how an attendee with several
// enrollment photos is scored. Its own section, so it stays apart from `match`.
import { readFileSync } from 'node:fs';
import type { SchemaNode } from '../config/schema.js';
import { calibrationProblems, effectiveThreshold, type CalibrationTable, type EffectiveThreshold, type ThresholdRule } from './calibration.js';
import { LFW_CALIBRATION } from './calibration-lfw.js';
import { errorText } from '../errors.js';

export interface IdentificationConfig {
  /** Target false-positive identification rate for an event; null: match.threshold alone. */
  targetFpir: number | null;
  /** Target wrong-person acceptance of 1:1 verification (ticket + face). */
  verifyTargetFar: number;
  /** JSON table written by `eval identify --write-calibration`; null: the shipped LFW table. */
  calibrationFile: string | null;
  /** An attendee's score: their fused template (mean of their embeddings) or the best of them. */
  templates: 'fused' | 'best';
}

export const identificationDefaults: Readonly<IdentificationConfig> = Object.freeze({
  targetFpir: 0.001,
  verifyTargetFar: 0.0001,
  calibrationFile: null,
  templates: 'fused',
});

export const identificationSchema: SchemaNode = {
  type: 'object',
  description: 'Keeping strangers out as the attendee list grows: the threshold follows the number of enrolled attendees (docs/accuracy.md, docs/matching.md).',
  additionalProperties: false,
  default: {},
  properties: {
    targetFpir: {
      type: ['number', 'null'],
      description: 'Target false-positive identification rate (share of strangers given an identity) for a single still at the event\'s attendee count. The effective threshold is the lowest similarity the calibration table says meets it, never below match.threshold; null turns the rule off (match.threshold alone).',
      default: identificationDefaults.targetFpir,
      exclusiveMinimum: 0,
      maximum: 0.5,
      examples: [0.001],
    },
    verifyTargetFar: {
      type: 'number',
      description: 'Target share of impostor attempts accepted in 1:1 verification (a ticket names the attendee, the face is compared with theirs only); the verify threshold is the calibrated threshold for one comparison, never below match.threshold.',
      default: identificationDefaults.verifyTargetFar,
      exclusiveMinimum: 0,
      maximum: 0.5,
      examples: [0.0001],
    },
    calibrationFile: {
      type: ['string', 'null'],
      description: 'Calibration table (JSON) written by `gate-agent eval identify --write-calibration <file>` on the site\'s own photos; null uses the table shipped with the agent (measured on LFW).',
      default: identificationDefaults.calibrationFile,
      examples: ['/etc/gate-agent/calibration.json'],
    },
    templates: {
      type: 'string',
      description: 'How an attendee with several enrollment photos is scored: fused (one template, the normalised mean of their embeddings) or best (the best of their embeddings).',
      default: identificationDefaults.templates,
      enum: ['fused', 'best'],
      examples: ['fused'],
    },
  },
};

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

/** Problems the schema cannot see: the calibration file must exist and hold a table. */
export function identificationProblems(c: IdentificationConfig): string[] {
  if (c.calibrationFile === null) return [];
  try {
    readCalibration(c.calibrationFile);
    return [];
  } catch (err) {
    return [errorText(err)];
  }
}

export function thresholdRule(config: { match: { threshold: number }; identification: IdentificationConfig }): ThresholdRule {
  const id = config.identification;
  return { base: config.match.threshold, targetFpir: id.targetFpir, table: id.calibrationFile ? readCalibration(id.calibrationFile) : LFW_CALIBRATION };
}

/**
 * The effective thresholds of one rule, remembered per attendee count (the gallery's
 * size changes rarely; the rule is consulted on every face).
 */
export class ThresholdCache {
  private last: EffectiveThreshold | null = null;
  private lastVerify: number | null = null;

  constructor(
    private readonly rule: ThresholdRule,
    private readonly verifyTargetFar: number,
  ) {}

  forAttendees(n: number): EffectiveThreshold {
    if (this.last?.attendees !== n) this.last = effectiveThreshold(this.rule, n);
    return this.last;
  }

  /** 1:1: the threshold for one comparison at verifyTargetFar, never below the base. */
  verify(): number {
    this.lastVerify ??= effectiveThreshold({ ...this.rule, targetFpir: this.verifyTargetFar }, 1).threshold;
    return this.lastVerify;
  }
}
