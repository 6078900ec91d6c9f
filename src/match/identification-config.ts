// The threshold rule of the config's `identification` section (src/config/sections/
// identification.ts): the base threshold, the target FPIR and the calibration table, and the
// effective thresholds it gives, remembered per attendee count.
import { readCalibration } from '../config/calibration-file.js';
import type { IdentificationConfig } from '../config/sections/identification.js';
import { effectiveThreshold, type EffectiveThreshold, type ThresholdRule } from './calibration.js';
import { LFW_CALIBRATION } from './calibration-lfw.js';

export type { IdentificationConfig };

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
