// The `identification` section: how the threshold follows the number of enrolled
// attendees (a target FPIR and a calibration table) and how an attendee with several
// enrollment photos is scored. Its own section, so it stays apart from `match`.
import { readCalibration } from '../calibration-file.js';
import { defaultsOf, num, numOrNull, oneOf, section, strOrNull, type Static } from '../schema-kit.js';
import { errorText } from '../../errors.js';

export const identificationSchema = section('Keeping strangers out as the attendee list grows: the threshold follows the number of enrolled attendees (docs/accuracy.md, docs/matching.md).', {
  targetFpir: numOrNull({
    description: 'Target false-positive identification rate (share of strangers given an identity) for a single still at the event\'s attendee count. The effective threshold is the lowest similarity the calibration table says meets it, never below match.threshold; null turns the rule off (match.threshold alone).',
    default: 0.001,
    exclusiveMinimum: 0,
    maximum: 0.5,
    examples: [0.001],
  }),
  verifyTargetFar: num({
    description: 'Target share of impostor attempts accepted in 1:1 verification (a ticket names the attendee, the face is compared with theirs only); the verify threshold is the calibrated threshold for one comparison, never below match.threshold.',
    default: 0.0001,
    exclusiveMinimum: 0,
    maximum: 0.5,
    examples: [0.0001],
  }),
  calibrationFile: strOrNull({
    description: 'Calibration table (JSON) written by `gate-agent eval identify --write-calibration <file>` on the site\'s own photos; null uses the table shipped with the agent (measured on LFW).',
    default: null,
    examples: ['/etc/gate-agent/calibration.json'],
  }),
  templates: oneOf(['fused', 'best'], {
    description: 'How an attendee with several enrollment photos is scored: fused (one template, the normalised mean of their embeddings) or best (the best of their embeddings).',
    default: 'fused',
    examples: ['fused'],
  }),
});

/**
 * targetFpir null: match.threshold alone; calibrationFile null: the shipped LFW table;
 * templates: an attendee's score is their fused template (mean of their embeddings) or the best of them.
 */
export type IdentificationConfig = Static<typeof identificationSchema>;

export const identificationDefaults: Readonly<IdentificationConfig> = defaultsOf(identificationSchema);

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
