// `eval identify`: 1:N identification with the gate's own matching: the int8 Gallery
// (exact float re-scoring of its top candidates) and decideMatch with match.threshold and
// match.margin, after the same quality gate the recognizer applies.
import type { Config } from '../config/types.js';
import { buildCalibration, effectiveThreshold, expectedFpir, type CalibrationTable, type ThresholdRule } from '../match/calibration.js';
import { decideMatch, type MatchReason } from '../match/decide.js';
import { FusedGallery, fuseVectors } from '../match/fused-gallery.js';
import { Gallery, type AttendeeGallery, type Candidate } from '../match/gallery.js';
import type { IdentificationConfig } from '../match/identification-config.js';
import { qualityProblem } from '../match/quality-gate.js';
import type { ImageEmbedding } from './embeddings.js';
import { identificationRates, type IdentificationOutcome } from './metrics.js';
import { evaluatePassages, planPassages, type PassageReport } from './passages.js';

export interface Probe {
  path: string;
  /** The enrolled identity this probe is (mated), or null for a stranger (non-mated). */
  truth: string | null;
}

export interface IdentificationPlan {
  /** Identity -> the photos enrolled for it, in name order of the identities. */
  enroll: Map<string, string[]>;
  probes: Probe[];
  /** Identities with no usable photo to enroll (their photos are not used). */
  notEnrolled: string[];
}

/**
 * One folder of identities: each identity with two or more photos is enrolled with its
 * first `enrollPhotos` usable photos (name order; usable = a face that passes the quality
 * gate, as enrollment requires; always leaving one photo to probe with) and probed with
 * all its other photos; identities with a single photo are the strangers (pure: `usable`
 * says which photos can be enrolled).
 */
export function planSplit(identities: ReadonlyMap<string, readonly string[]>, usable: (path: string) => boolean, enrollPhotos = 1): IdentificationPlan {
  const plan: IdentificationPlan = { enroll: new Map(), probes: [], notEnrolled: [] };
  const strangers: Probe[] = [];
  for (const [id, photos] of identities) {
    if (photos.length === 1) {
      strangers.push({ path: photos[0]!, truth: null });
      continue;
    }
    const chosen = photos.filter(usable).slice(0, Math.max(1, Math.min(enrollPhotos, photos.length - 1)));
    if (chosen.length === 0) {
      plan.notEnrolled.push(id);
      continue;
    }
    plan.enroll.set(id, chosen);
    for (const p of photos) if (!chosen.includes(p)) plan.probes.push({ path: p, truth: id });
  }
  plan.probes.push(...strangers);
  return plan;
}

/**
 * A gallery folder and a probe folder: every usable photo of a gallery identity is
 * enrolled; a probe folder named like an enrolled identity is mated, any other is a
 * stranger (pure).
 */
export function planSeparate(
  gallery: ReadonlyMap<string, readonly string[]>,
  probes: ReadonlyMap<string, readonly string[]>,
  usable: (path: string) => boolean,
): IdentificationPlan {
  const plan: IdentificationPlan = { enroll: new Map(), probes: [], notEnrolled: [] };
  for (const [id, photos] of gallery) {
    const ok = photos.filter(usable);
    if (ok.length) plan.enroll.set(id, ok);
    else plan.notEnrolled.push(id);
  }
  for (const [id, photos] of probes) for (const p of photos) plan.probes.push({ path: p, truth: plan.enroll.has(id) ? id : null });
  return plan;
}

export interface Miss {
  probe: string;
  truth: string | null;
  matched: string;
  similarity: number;
}

/** The figures at one threshold. */
export interface AtThreshold {
  threshold: number;
  fnir: number;
  fpir: number;
  falseNegatives: number;
  falsePositives: number;
  wrongIdentity: number;
  misses: Record<'noFace' | 'lowQuality' | 'belowThreshold' | 'belowMargin' | 'wrongIdentity', number>;
  /**
   * Probes the gate would not judge at all (no face, or refused by the quality gate: a
   * failure to acquire in ISO/IEC 19795-1 terms), and the rates over the probes it judges.
   * `fnir`/`fpir` count a failure to acquire as a miss; these leave them out.
   */
  failedToAcquire: { mated: number; nonMated: number };
  fnirJudged: number;
  fpirJudged: number;
  errors: Miss[];
}

/** One gallery size: the figures at its effective threshold, plus the context to read them. */
export interface SizeReport extends AtThreshold {
  /** Enrolled identities in this gallery. */
  gallerySize: number;
  /** FPIR the calibration table predicts at the effective threshold (`threshold`: identification.targetFpir over the table, never below match.threshold) and size. */
  expectedFpir: number;
  /** The same probes at match.threshold alone, for comparison. */
  base: Omit<AtThreshold, 'errors' | 'misses' | 'failedToAcquire'>;
  embeddings: number;
  mated: number;
  nonMated: number;
}

/** 1:1 verification (ticket + face): every probe claims every other enrolled identity. */
export interface VerifyClaims {
  threshold: number;
  /** Mated probes claiming their own identity, and how many were refused (no face and low quality included). */
  genuine: number;
  falseRejects: number;
  fnir: number;
  /** Usable probes x enrolled identities that are not theirs. */
  impostorAttempts: number;
  falseAccepts: number;
  far: number;
  /** Accepted impostor claims, most similar first. */
  accepted: { probe: string; truth: string | null; claimed: string; similarity: number }[];
}

export interface Extrapolated {
  attendees: number;
  /** Expected FPIR at match.threshold alone: 1 - (1 - p)^N with p from the calibration table. */
  fpirAtBase: number;
  /** The effective threshold the rule picks for N attendees, and the FPIR it predicts there. */
  threshold: number;
  expectedFpir: number;
  /** FNIR of this run's genuine probes (full gallery) at that threshold: measured, not extrapolated. */
  fnir: number;
}

export interface IdentifyReport {
  /** match.threshold (the floor) and the rule's target. */
  threshold: number;
  targetFpir: number | null;
  calibrationSource: string;
  templates: IdentificationConfig['templates'];
  enrollPhotos: number;
  margin: number;
  identities: number;
  enrolled: number;
  notEnrolled: number;
  mated: number;
  strangers: number;
  /** Probes whose image could not be read (left out of every figure). */
  unreadable: number;
  sizes: SizeReport[];
  /** This run's impostor comparisons (strangers x enrolled identities) as a calibration table; null with fewer than 1000. */
  calibration: CalibrationTable | null;
  verify: VerifyClaims;
  extrapolation: Extrapolated[];
  /** Walk-ups of several photos through the gate's frame stages (--passage-frames); null when not asked for. */
  passages: PassageReport | null;
}

/** Attendee counts the report extrapolates to (docs/accuracy.md). */
export const EXTRAPOLATE_TO = [1000, 10_000, 50_000];

/** Gallery sizes asked for, clipped to what is enrolled, smallest first, each once (pure). */
export function gallerySizes(asked: readonly (number | 'all')[], enrolled: number): number[] {
  const out = new Set<number>();
  for (const s of asked) if (s === 'all' || s >= enrolled) out.add(enrolled);
  else if (s > 0) out.add(s);
  return [...out].sort((a, b) => a - b);
}

export interface IdentifyDeps {
  config: Pick<Config, 'match' | 'quality'> & { identification: IdentificationConfig };
  rule: ThresholdRule;
  modelId: string;
  embed: (path: string) => Promise<ImageEmbedding>;
  dim: number;
  onProbe?: () => void;
  /** Also score passages of `frames` probe photos each through the gate's FrameMatcher and GatePolicy (the whole config). */
  passages?: { frames: number; maxPerIdentity: number; config: Config };
}

type Scored = { probe: Probe; e: ImageEmbedding; usable: boolean; cands: Candidate[] };

/** Decisions of scored probes at one threshold (pure). */
function decideAt(scored: readonly Scored[], threshold: number, margin: number): AtThreshold {
  const outcomes: IdentificationOutcome[] = [];
  const misses = { noFace: 0, lowQuality: 0, belowThreshold: 0, belowMargin: 0, wrongIdentity: 0 };
  const errors: Miss[] = [];
  const fta = { mated: 0, nonMated: 0 };
  for (const { probe, e, usable, cands } of scored) {
    let matched: string | null = null;
    let reason: MatchReason | 'no_face' | 'low_quality';
    if (e.status !== 'ok') reason = 'no_face';
    else if (!usable) reason = 'low_quality';
    else {
      const m = decideMatch(cands, { threshold, margin });
      reason = m.reason;
      matched = m.match?.userId ?? null;
      if (matched !== null && matched !== probe.truth) errors.push({ probe: probe.path, truth: probe.truth, matched, similarity: m.match!.similarity });
    }
    if (reason === 'no_face' || reason === 'low_quality') fta[probe.truth === null ? 'nonMated' : 'mated']++;
    if (probe.truth !== null && matched !== probe.truth) {
      if (reason === 'no_face') misses.noFace++;
      else if (reason === 'low_quality') misses.lowQuality++;
      else if (reason === 'below_threshold') misses.belowThreshold++;
      else if (reason === 'below_margin') misses.belowMargin++;
      else misses.wrongIdentity++;
    }
    outcomes.push({ truth: probe.truth, matched });
  }
  const r = identificationRates(outcomes);
  errors.sort((a, b) => b.similarity - a.similarity);
  return {
    threshold,
    fnir: r.fnir,
    fpir: r.fpir,
    falseNegatives: r.falseNegatives,
    falsePositives: r.falsePositives,
    wrongIdentity: r.wrongIdentity,
    misses,
    failedToAcquire: fta,
    // A failure to acquire is always a false negative of a mated probe and never a false positive.
    fnirJudged: (r.falseNegatives - fta.mated) / (r.mated - fta.mated),
    fpirJudged: r.falsePositives / (r.nonMated - fta.nonMated),
    errors,
  };
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[d]!;
  return s;
};

/**
 * Runs every probe against galleries of the first N enrolled identities (name order) for
 * each size; the strangers are the same at every size, the mated probes are those of the
 * identities in that gallery. Figures at the effective threshold of each size, and at
 * match.threshold for comparison; then, over all enrolled identities, the impostor score
 * distribution (a calibration table), 1:1 claims and the extrapolation to larger events.
 */
export async function evaluateIdentification(plan: IdentificationPlan, identities: number, sizes: readonly number[], deps: IdentifyDeps): Promise<IdentifyReport> {
  const { config, embed, rule } = deps;
  const fused = config.identification.templates === 'fused';
  const enrolledIds = [...plan.enroll.keys()];
  const probes: { probe: Probe; e: ImageEmbedding }[] = [];
  for (const probe of plan.probes) probes.push({ probe, e: await embed(probe.path) });
  const unreadable = probes.filter((p) => p.e.status === 'error').length;
  const readable = probes.filter((p) => p.e.status !== 'error');

  const vectors: Float32Array[] = [];
  const owner: string[] = [];
  const templatesOf = new Map<string, Float32Array[]>();
  for (const id of enrolledIds) {
    for (const path of plan.enroll.get(id)!) {
      const e = await embed(path);
      if (e.status !== 'ok') throw new Error(`${path} was usable when planned and is not now`);
      vectors.push(e.face.embedding);
      owner.push(id);
      templatesOf.set(id, [...(templatesOf.get(id) ?? []), e.face.embedding]);
    }
  }
  const usableOf = (e: ImageEmbedding): boolean => e.status === 'ok' && qualityProblem(e.face, config.quality) === null;

  const reports: SizeReport[] = [];
  let lastScored: Scored[] = [];
  for (const size of sizes) {
    const members = new Set(enrolledIds.slice(0, size));
    const opts = { dim: deps.dim, threads: config.match.threads, rescoreTop: config.match.rescoreTop, vectorOf: (id: number) => vectors[id], initialCapacity: vectors.length };
    const gallery: AttendeeGallery = fused ? new FusedGallery(opts) : new Gallery(opts);
    await gallery.start();
    try {
      let embeddings = 0;
      vectors.forEach((v, i) => {
        if (members.has(owner[i]!)) {
          gallery.add(i, owner[i]!, v);
          embeddings++;
        }
      });
      const scored: Scored[] = [];
      for (const { probe, e } of readable) {
        if (probe.truth !== null && !members.has(probe.truth)) continue;
        const usable = usableOf(e);
        const cands = e.status === 'ok' && usable ? await gallery.search(e.face.embedding, 2) : [];
        scored.push({ probe, e, usable, cands });
        deps.onProbe?.();
      }
      const eff = effectiveThreshold(rule, members.size);
      const at = decideAt(scored, eff.threshold, config.match.margin);
      const { misses: _m, errors: _e, failedToAcquire: _f, ...base } = decideAt(scored, config.match.threshold, config.match.margin);
      const mated = scored.filter((x) => x.probe.truth !== null).length;
      reports.push({ gallerySize: members.size, expectedFpir: eff.expectedFpir, base, embeddings, mated, nonMated: scored.length - mated, ...at });
      lastScored = scored;
    } finally {
      await gallery.stop();
    }
  }

  // Every usable probe against every enrolled identity, exactly: the impostor score
  // distribution and the 1:1 claims do not depend on a gallery.
  const templates = enrolledIds.map((id) => (fused ? [fuseVectors(templatesOf.get(id)!)!] : templatesOf.get(id)!));
  const scoreOf = (q: Float32Array, i: number): number => Math.max(...templates[i]!.map((t) => dot(q, t)));
  const verifyThreshold = effectiveThreshold({ ...rule, targetFpir: config.identification.verifyTargetFar }, 1).threshold;
  const impostor: number[] = [];
  const claims: VerifyClaims = { threshold: verifyThreshold, genuine: 0, falseRejects: 0, fnir: NaN, impostorAttempts: 0, falseAccepts: 0, far: NaN, accepted: [] };
  for (const { probe, e } of readable) {
    const usable = usableOf(e);
    if (probe.truth !== null) claims.genuine++;
    if (e.status !== 'ok' || !usable) {
      if (probe.truth !== null) claims.falseRejects++;
      continue;
    }
    enrolledIds.forEach((id, i) => {
      const s = scoreOf(e.face.embedding, i);
      if (id === probe.truth) {
        if (!(s >= verifyThreshold)) claims.falseRejects++;
        return;
      }
      if (probe.truth === null) impostor.push(s);
      claims.impostorAttempts++;
      if (s >= verifyThreshold) {
        claims.falseAccepts++;
        claims.accepted.push({ probe: probe.path, truth: probe.truth, claimed: id, similarity: s });
      }
    });
  }
  claims.fnir = claims.falseRejects / claims.genuine;
  claims.far = claims.falseAccepts / claims.impostorAttempts;
  claims.accepted.sort((a, b) => b.similarity - a.similarity);
  const calibration =
    impostor.length >= 1000 ? buildCalibration(impostor, { source: `eval identify: ${impostor.length} stranger x enrolled comparisons`, modelId: deps.modelId, templates: config.identification.templates }) : null;

  const extrapolation = [...new Set([enrolledIds.length, ...EXTRAPOLATE_TO])].map((n) => {
    const eff = effectiveThreshold(rule, n);
    const mated = lastScored.filter((x) => x.probe.truth !== null);
    return {
      attendees: n,
      fpirAtBase: expectedFpir(rule.table, config.match.threshold, n),
      threshold: eff.threshold,
      expectedFpir: eff.expectedFpir,
      fnir: decideAt(mated, eff.threshold, config.match.margin).fnir,
    };
  });

  const passages = deps.passages ? await passagesOver(plan, vectors, owner, deps.passages, deps) : null;

  return {
    threshold: config.match.threshold,
    targetFpir: rule.targetFpir,
    calibrationSource: rule.table.source,
    templates: config.identification.templates,
    enrollPhotos: Math.max(0, ...[...plan.enroll.values()].map((v) => v.length)),
    margin: config.match.margin,
    identities,
    enrolled: enrolledIds.length,
    notEnrolled: plan.notEnrolled.length,
    mated: readable.filter((p) => p.probe.truth !== null).length,
    strangers: readable.filter((p) => p.probe.truth === null).length,
    unreadable,
    sizes: reports,
    calibration,
    verify: claims,
    extrapolation,
    passages,
  };
}

/** Passages against a gallery of every enrolled identity, built as the gate builds it. */
async function passagesOver(
  plan: IdentificationPlan,
  vectors: readonly Float32Array[],
  owner: readonly string[],
  p: NonNullable<IdentifyDeps['passages']>,
  deps: IdentifyDeps,
): Promise<PassageReport> {
  const opts = { dim: deps.dim, threads: p.config.match.threads, rescoreTop: p.config.match.rescoreTop, vectorOf: (id: number) => vectors[id], initialCapacity: vectors.length };
  const gallery: AttendeeGallery = deps.config.identification.templates === 'fused' ? new FusedGallery(opts) : new Gallery(opts);
  const templates = new Map<string, { id: number; v: Float32Array }[]>();
  vectors.forEach((v, i) => templates.set(owner[i]!, [...(templates.get(owner[i]!) ?? []), { id: i, v }]));
  await gallery.start();
  try {
    for (const [userId, list] of templates) for (const t of list) gallery.add(t.id, userId, t.v);
    const passages = planPassages(plan.probes, p.frames, p.maxPerIdentity);
    return await evaluatePassages(passages, p.frames, p.maxPerIdentity, { config: p.config, gallery, templates, embed: deps.embed });
  } finally {
    await gallery.stop();
  }
}
