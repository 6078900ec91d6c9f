// The matching rules, one copy for the gate's frames, the identity endpoint,
// `identify` and the evaluation's walk-ups: the quality gate, the effective threshold
// for the event's attendee count, the verify threshold of a ticket's 1:1 comparison,
// and the margin over the second-best attendee (pure but for reading the calibration file).
import type { Config } from '../config/types.js';
import type { Face } from '../vision/types.js';
import type { EffectiveThreshold } from './calibration.js';
import { decideMatch, type MatchResult } from './decide.js';
import type { AttendeeGallery } from './gallery.js';
import { ThresholdCache, thresholdRule } from './identification-config.js';
import { qualityProblem } from './quality-gate.js';

export type MatchRulesConfig = Pick<Config, 'match' | 'quality' | 'identification'>;

export class MatchRules {
  private thresholds: ThresholdCache;

  /** `config` is read live: a reload that changes it in place calls reconfigure(). */
  constructor(private readonly config: MatchRulesConfig) {
    this.thresholds = this.newThresholds();
  }

  private newThresholds(): ThresholdCache {
    return new ThresholdCache(thresholdRule(this.config), this.config.identification.verifyTargetFar);
  }

  /** The match settings changed (a reload): the thresholds are worked out afresh. */
  reconfigure(): void {
    this.thresholds = this.newThresholds();
  }

  /** Why a face is not good enough to match (config quality), or null. */
  qualityProblem(face: Face): string | null {
    return qualityProblem(face, this.config.quality);
  }

  /** The effective threshold for a gallery of this many attendees (identification.targetFpir). */
  thresholdFor(attendees: number): EffectiveThreshold {
    return this.thresholds.forAttendees(attendees);
  }

  /** 1:1 against a ticket's attendee: identification.verifyTargetFar on the calibration table, never below match.threshold. */
  verifyThreshold(): number {
    return this.thresholds.verify();
  }

  /** 1:N over the event's gallery at its effective threshold. */
  async identifyIn(gallery: AttendeeGallery, embedding: Float32Array): Promise<MatchResult> {
    return decideMatch(await gallery.search(embedding, 2), { threshold: this.thresholdFor(gallery.attendeeCount).threshold, margin: this.config.match.margin });
  }

  /** 1:1 against one attendee at the verify threshold; one candidate, so the margin has no second attendee to apply to. */
  verifyIn(gallery: AttendeeGallery, embedding: Float32Array, userId: string): MatchResult {
    const c = gallery.verify(embedding, userId);
    return decideMatch(c === null ? [] : [c], { threshold: this.verifyThreshold(), margin: this.config.match.margin });
  }
}
