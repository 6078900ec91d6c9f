// The figures of `gate-agent eval`, as pure functions over scores and outcomes, so each
// is checked by hand on small inputs. Vocabulary: ISO/IEC 19795-1 for verification and
// identification (TAR, FAR, FNIR, FPIR), ISO/IEC 30107-3 for presentation attacks
// (APCER, BPCER).

/** One labelled comparison: the two images show the same person (genuine) or not (impostor). */
export interface ScoredPair {
  same: boolean;
  similarity: number;
}

export interface VerificationAt {
  threshold: number;
  /** Genuine pairs accepted / rejected, impostor pairs rejected / accepted. */
  trueAccepts: number;
  falseRejects: number;
  trueRejects: number;
  falseAccepts: number;
  /** (true accepts + true rejects) / all pairs; NaN when there is no pair. */
  accuracy: number;
}

/** Decisions at one threshold: a pair is accepted when similarity >= threshold (as compare does). */
export function verificationAt(pairs: readonly ScoredPair[], threshold: number): VerificationAt {
  let ta = 0, fr = 0, tr = 0, fa = 0;
  for (const p of pairs) {
    const accept = p.similarity >= threshold;
    if (p.same && accept) ta++;
    else if (p.same) fr++;
    else if (accept) fa++;
    else tr++;
  }
  return { threshold, trueAccepts: ta, falseRejects: fr, trueRejects: tr, falseAccepts: fa, accuracy: (ta + tr) / pairs.length };
}

/**
 * The threshold with the best accuracy on these pairs. Candidates are the midpoints between
 * consecutive distinct scores, plus one below the lowest and one above the highest (0.01
 * away); ties go to the lowest candidate. It is fitted on the same data it is scored on,
 * so it flatters: a figure to compare with, not a setting to copy blindly.
 */
export function bestThreshold(pairs: readonly ScoredPair[]): { threshold: number; accuracy: number } | null {
  if (pairs.length === 0) return null;
  const s = [...new Set(pairs.map((p) => p.similarity))].sort((a, b) => a - b);
  const candidates = [s[0]! - 0.01];
  for (let i = 1; i < s.length; i++) candidates.push((s[i - 1]! + s[i]!) / 2);
  candidates.push(s[s.length - 1]! + 0.01);
  let best = { threshold: candidates[0]!, accuracy: -1 };
  for (const t of candidates) {
    const a = verificationAt(pairs, t).accuracy;
    if (a > best.accuracy) best = { threshold: t, accuracy: a };
  }
  return best;
}

export type TarAtFar =
  | {
      far: number;
      /** Genuine pairs accepted / genuine pairs. */
      tar: number;
      /** Accept when similarity is strictly above this (the (k+1)-th highest impostor score). */
      threshold: number;
      /** The FAR actually reached at that threshold (<= far). */
      farReached: number;
      impostors: number;
      genuine: number;
    }
  | { far: number; tar: null; reason: string; impostors: number; genuine: number };

/**
 * TAR at a target FAR: with n impostor pairs, at most k = floor(far * n) of them may be
 * accepted, so the threshold sits at the (k+1)-th highest impostor score and a pair is
 * accepted strictly above it. A FAR of f needs at least 1/f impostor pairs to mean
 * anything (with fewer, k is 0 for every f below 1/n): below that, no figure.
 */
export function tarAtFar(pairs: readonly ScoredPair[], far: number): TarAtFar {
  const impostor = pairs.filter((p) => !p.same).map((p) => p.similarity).sort((a, b) => b - a);
  const genuine = pairs.filter((p) => p.same).map((p) => p.similarity);
  const base = { far, impostors: impostor.length, genuine: genuine.length };
  const needed = Math.ceil(1 / far - 1e-9);
  if (impostor.length < needed) return { ...base, tar: null, reason: `needs at least ${needed} impostor pairs, have ${impostor.length}` };
  if (genuine.length === 0) return { ...base, tar: null, reason: 'no genuine pair' };
  const k = Math.floor(far * impostor.length + 1e-9);
  const threshold = impostor[k]!;
  const accepted = impostor.filter((s) => s > threshold).length;
  return {
    ...base,
    tar: genuine.filter((s) => s > threshold).length / genuine.length,
    threshold,
    farReached: accepted / impostor.length,
  };
}

/**
 * What happened to one identification probe. A mated probe's person is enrolled; a
 * non-mated probe (a stranger) is not. `matched` is the identity returned, null for
 * unknown (below threshold or margin, no face, or a face too poor to use).
 */
export interface IdentificationOutcome {
  truth: string | null;
  matched: string | null;
}

export interface IdentificationRates {
  mated: number;
  nonMated: number;
  /** Mated probes not given their own identity (unknown or somebody else) / mated probes. */
  fnir: number;
  /** Mated probes given somebody else's identity (a subset of the FNIR misses). */
  wrongIdentity: number;
  /** Non-mated probes given an identity / non-mated probes. */
  fpir: number;
  falsePositives: number;
  falseNegatives: number;
}

/** FNIR and FPIR at the operating point the outcomes were decided at; NaN for an empty side. */
export function identificationRates(outcomes: readonly IdentificationOutcome[]): IdentificationRates {
  let mated = 0, nonMated = 0, fn = 0, wrong = 0, fp = 0;
  for (const o of outcomes) {
    if (o.truth !== null) {
      mated++;
      if (o.matched !== o.truth) fn++;
      if (o.matched !== null && o.matched !== o.truth) wrong++;
    } else {
      nonMated++;
      if (o.matched !== null) fp++;
    }
  }
  return { mated, nonMated, fnir: fn / mated, wrongIdentity: wrong, fpir: fp / nonMated, falsePositives: fp, falseNegatives: fn };
}

/** One presentation to the liveness check: a frame, or a fused track. */
export interface PadDecision {
  attack: boolean;
  /** The attack source (presentation attack instrument species) or the bona fide set it came from. */
  source: string;
  /** The check called it live (bona fide). */
  live: boolean;
}

export interface PadRates {
  /** Per attack source: attack presentations classified as bona fide / attack presentations. */
  apcer: { source: string; presentations: number; acceptedAsLive: number; apcer: number }[];
  /** The worst source's APCER (ISO/IEC 30107-3 reports the maximum over species). */
  apcerMax: number;
  bonaFide: number;
  rejectedAsAttack: number;
  /** Bona fide presentations classified as attacks / bona fide presentations. */
  bpcer: number;
}

export function padRates(decisions: readonly PadDecision[]): PadRates {
  const bySource = new Map<string, { presentations: number; acceptedAsLive: number }>();
  let bonaFide = 0, rejected = 0;
  for (const d of decisions) {
    if (d.attack) {
      const s = bySource.get(d.source) ?? { presentations: 0, acceptedAsLive: 0 };
      s.presentations++;
      if (d.live) s.acceptedAsLive++;
      bySource.set(d.source, s);
    } else {
      bonaFide++;
      if (!d.live) rejected++;
    }
  }
  const apcer = [...bySource].map(([source, s]) => ({ source, ...s, apcer: s.acceptedAsLive / s.presentations }));
  return {
    apcer,
    apcerMax: apcer.length ? Math.max(...apcer.map((a) => a.apcer)) : NaN,
    bonaFide,
    rejectedAsAttack: rejected,
    bpcer: rejected / bonaFide,
  };
}

/** Mean of a track's per-frame live probabilities: its fused score; NaN for no frame. */
export function fuseTrack(liveProbabilities: readonly number[]): number {
  let s = 0;
  for (const p of liveProbabilities) s += p;
  return s / liveProbabilities.length;
}
