// `eval identify`: 1:N identification with the gate's own matching: the int8 Gallery
// (exact float re-scoring of its top candidates) and decideMatch with match.threshold and
// match.margin, after the same quality gate the recognizer applies.
import type { Config } from '../config/types.js';
import { decideMatch, type MatchReason } from '../match/decide.js';
import { Gallery } from '../match/gallery.js';
import { qualityProblem } from '../match/quality-gate.js';
import type { ImageEmbedding } from './embeddings.js';
import { identificationRates, type IdentificationOutcome } from './metrics.js';

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
 * first usable photo (name order; usable = a face that passes the quality gate, as
 * enrollment requires) and probed with all its other photos; identities with a single
 * photo are the strangers (pure: `usable` says which photos can be enrolled).
 */
export function planSplit(identities: ReadonlyMap<string, readonly string[]>, usable: (path: string) => boolean): IdentificationPlan {
  const plan: IdentificationPlan = { enroll: new Map(), probes: [], notEnrolled: [] };
  const strangers: Probe[] = [];
  for (const [id, photos] of identities) {
    if (photos.length === 1) {
      strangers.push({ path: photos[0]!, truth: null });
      continue;
    }
    const first = photos.find(usable);
    if (first === undefined) {
      plan.notEnrolled.push(id);
      continue;
    }
    plan.enroll.set(id, [first]);
    for (const p of photos) if (p !== first) plan.probes.push({ path: p, truth: id });
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

export interface SizeReport {
  /** Enrolled identities in this gallery. */
  gallerySize: number;
  embeddings: number;
  mated: number;
  nonMated: number;
  fnir: number;
  fpir: number;
  falseNegatives: number;
  falsePositives: number;
  wrongIdentity: number;
  /** Why mated probes were missed (wrongIdentity is also in fnir). */
  misses: Record<'noFace' | 'lowQuality' | 'belowThreshold' | 'belowMargin' | 'wrongIdentity', number>;
  /** Wrong-identity matches and strangers given an identity, worst first. */
  errors: Miss[];
}

export interface IdentifyReport {
  threshold: number;
  margin: number;
  identities: number;
  enrolled: number;
  notEnrolled: number;
  mated: number;
  strangers: number;
  /** Probes whose image could not be read (left out of every figure). */
  unreadable: number;
  sizes: SizeReport[];
}

/** Gallery sizes asked for, clipped to what is enrolled, smallest first, each once (pure). */
export function gallerySizes(asked: readonly (number | 'all')[], enrolled: number): number[] {
  const out = new Set<number>();
  for (const s of asked) if (s === 'all' || s >= enrolled) out.add(enrolled);
  else if (s > 0) out.add(s);
  return [...out].sort((a, b) => a - b);
}

export interface IdentifyDeps {
  config: Pick<Config, 'match' | 'quality'>;
  embed: (path: string) => Promise<ImageEmbedding>;
  dim: number;
  onProbe?: () => void;
}

/**
 * Runs every probe against galleries of the first N enrolled identities (name order) for
 * each size; the strangers are the same at every size, the mated probes are those of the
 * identities in that gallery.
 */
export async function evaluateIdentification(plan: IdentificationPlan, identities: number, sizes: readonly number[], deps: IdentifyDeps): Promise<IdentifyReport> {
  const { config, embed } = deps;
  const enrolledIds = [...plan.enroll.keys()];
  const probes: { probe: Probe; e: ImageEmbedding }[] = [];
  for (const probe of plan.probes) probes.push({ probe, e: await embed(probe.path) });
  const unreadable = probes.filter((p) => p.e.status === 'error').length;
  const readable = probes.filter((p) => p.e.status !== 'error');

  const vectors: Float32Array[] = [];
  const owner: string[] = [];
  for (const id of enrolledIds) {
    for (const path of plan.enroll.get(id)!) {
      const e = await embed(path);
      if (e.status !== 'ok') throw new Error(`${path} was usable when planned and is not now`);
      vectors.push(e.face.embedding);
      owner.push(id);
    }
  }

  const reports: SizeReport[] = [];
  for (const size of sizes) {
    const members = new Set(enrolledIds.slice(0, size));
    const gallery = new Gallery({
      dim: deps.dim,
      threads: config.match.threads,
      rescoreTop: config.match.rescoreTop,
      vectorOf: (id) => vectors[id],
      initialCapacity: vectors.length,
    });
    await gallery.start();
    try {
      let embeddings = 0;
      vectors.forEach((v, i) => {
        if (members.has(owner[i]!)) {
          gallery.add(i, owner[i]!, v);
          embeddings++;
        }
      });
      const outcomes: IdentificationOutcome[] = [];
      const misses = { noFace: 0, lowQuality: 0, belowThreshold: 0, belowMargin: 0, wrongIdentity: 0 };
      const errors: Miss[] = [];
      for (const { probe, e } of readable) {
        if (probe.truth !== null && !members.has(probe.truth)) continue;
        let matched: string | null = null;
        let reason: MatchReason | 'no_face' | 'low_quality';
        if (e.status !== 'ok') reason = 'no_face';
        else if (qualityProblem(e.face, config.quality)) reason = 'low_quality';
        else {
          const m = decideMatch(await gallery.search(e.face.embedding, 2), config.match);
          reason = m.reason;
          matched = m.match?.userId ?? null;
          if (matched !== null && matched !== probe.truth) errors.push({ probe: probe.path, truth: probe.truth, matched, similarity: m.match!.similarity });
        }
        if (probe.truth !== null && matched !== probe.truth) {
          if (reason === 'no_face') misses.noFace++;
          else if (reason === 'low_quality') misses.lowQuality++;
          else if (reason === 'below_threshold') misses.belowThreshold++;
          else if (reason === 'below_margin') misses.belowMargin++;
          else misses.wrongIdentity++;
        }
        outcomes.push({ truth: probe.truth, matched });
        deps.onProbe?.();
      }
      const r = identificationRates(outcomes);
      errors.sort((a, b) => b.similarity - a.similarity);
      reports.push({ gallerySize: members.size, embeddings, ...r, misses, errors });
    } finally {
      await gallery.stop();
    }
  }
  return {
    threshold: config.match.threshold,
    margin: config.match.margin,
    identities,
    enrolled: enrolledIds.length,
    notEnrolled: plan.notEnrolled.length,
    mated: readable.filter((p) => p.probe.truth !== null).length,
    strangers: readable.filter((p) => p.probe.truth === null).length,
    unreadable,
    sizes: reports,
  };
}
