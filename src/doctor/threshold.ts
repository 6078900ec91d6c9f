// The doctor's line about the effective threshold: what the gate will decide at for the
// current event's attendee count, and why (docs/accuracy.md).
import type { Config } from '../config/types.js';
import { effectiveThreshold } from '../match/calibration.js';
import { thresholdRule } from '../match/identification-config.js';
import type { CheckResult } from './checks.js';
import { errorText } from '../errors.js';

const pct = (v: number): string => `${(v * 100).toPrecision(2)}%`;

export function thresholdCheck(config: Config, attendees: number): CheckResult {
  let rule;
  try {
    rule = thresholdRule(config);
  } catch (err) {
    return { name: 'threshold', status: 'fail', detail: errorText(err) };
  }
  const e = effectiveThreshold(rule, attendees);
  const why =
    rule.targetFpir === null
      ? 'match.threshold (identification.targetFpir is null)'
      : e.from === 'calibration'
        ? `raised from match.threshold ${rule.base} to keep strangers accepted below ${pct(rule.targetFpir)}`
        : `match.threshold; the target FPIR ${pct(rule.targetFpir)} is met below it`;
  const table = `calibration: ${rule.table.source}`;
  return { name: 'threshold', status: 'ok', detail: `matching at ${e.threshold} for ${attendees} attendee(s): ${why}; expected FPIR ${pct(e.expectedFpir)} (${table})` };
}
