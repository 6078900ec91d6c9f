// Turning gallery candidates into a match decision (pure). A stranger must come
// back unknown, never as the nearest attendee: a match needs the similarity at or
// above the threshold AND a margin over the best different attendee.
import type { Candidate } from './gallery.js';

export interface MatchPolicy {
  threshold: number;
  margin: number;
}

export type MatchReason = 'matched' | 'below_threshold' | 'below_margin' | 'empty_gallery';

export interface MatchResult {
  decision: 'match' | 'unknown';
  reason: MatchReason;
  /** The best attendee, when it is a match. */
  match: Candidate | null;
  /** The best attendee whatever the decision (for audit and tuning). */
  best: Candidate | null;
  secondBest: Candidate | null;
}

export function decideMatch(candidates: readonly Candidate[], policy: MatchPolicy): MatchResult {
  const best = candidates[0] ?? null;
  const secondBest = candidates[1] ?? null;
  if (!best) return { decision: 'unknown', reason: 'empty_gallery', match: null, best, secondBest };
  // Written as !(>=) so that a NaN similarity can never pass.
  if (!(best.similarity >= policy.threshold)) return { decision: 'unknown', reason: 'below_threshold', match: null, best, secondBest };
  if (secondBest && !(best.similarity - secondBest.similarity >= policy.margin)) {
    return { decision: 'unknown', reason: 'below_margin', match: null, best, secondBest };
  }
  return { decision: 'match', reason: 'matched', match: best, best, secondBest };
}
