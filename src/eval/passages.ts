// `eval identify --passage-frames K`: what evidence over frames gives at the gate. Each
// passage is K photos of one person shown to the gate's own frame stages one after the
// other, as the frames of one walk-up: the FrameMatcher (quality gate, the track's last
// gate.fusionFrames good frames fused, the gallery-aware threshold) and the GatePolicy
// (votesNeeded of votesWindow on one track). A passage is scored twice: against the full
// gallery (genuine: is its person let in?) and against the gallery without its person
// (a stranger with several photos: is anybody let in?). LFW's single-photo strangers
// cannot make a passage, so leaving the person out is how a stranger's walk-up is made.
import { FrameMatcher } from '../app/frame-match.js';
import type { Config } from '../config/types.js';
import { GatePolicy } from '../gate/policy.js';
import type { GateDecision } from '../gate/types.js';
import type { AttendeeGallery } from '../match/gallery.js';
import { MatchRules } from '../match/match-rules.js';
import type { Face, Point } from '../vision/types.js';
import type { ImageEmbedding } from './embeddings.js';

export interface Passage {
  /** The enrolled identity the photos are of. */
  truth: string;
  photos: string[];
}

/**
 * Passages of `frames` photos from each identity's probe photos in name order (the last
 * incomplete group dropped), at most `maxPerIdentity` per identity so that a few people
 * with hundreds of photos do not make the figure their own (pure).
 */
export function planPassages(probes: readonly { path: string; truth: string | null }[], frames: number, maxPerIdentity: number): Passage[] {
  const byId = new Map<string, string[]>();
  for (const p of probes) if (p.truth !== null) byId.set(p.truth, [...(byId.get(p.truth) ?? []), p.path]);
  const out: Passage[] = [];
  for (const [truth, photos] of byId) {
    for (let i = 0, n = 0; i + frames <= photos.length && n < maxPerIdentity; i += frames, n++) out.push({ truth, photos: photos.slice(i, i + frames) });
  }
  return out;
}

export interface PassageRow {
  fusionFrames: number;
  /** Genuine passages not let in as their own person (no grant, or a grant for someone else). */
  falseNegatives: number;
  fnir: number;
  /** Stranger passages (the person left out of the gallery) let in as anybody. */
  falsePositives: number;
  fpir: number;
  /** Genuine passages let in as somebody else. */
  wrongIdentity: number;
}

export interface PassageReport {
  framesPerPassage: number;
  maxPerIdentity: number;
  passages: number;
  identities: number;
  /** The policy's votes, the same for every row. */
  votesNeeded: number;
  votesWindow: number;
  /** One row per gate.fusionFrames setting: 1 (each frame alone, votes only) and the configured one. */
  rows: PassageRow[];
}

/** Frames of a passage are this far apart on the policy's clock: 10 frames/s. */
const FRAME_GAP_MS = 100;
const NO_TIMINGS = { detectMs: 0, alignMs: 0, embedMs: 0, matchMs: 0 };
/**
 * Every photo's face at the same place in the frame, so the passage's frames form one track
 * as a person walking up does (the embedding cache keeps no boxes; LFW faces sit in the
 * middle of each photo anyway). The landmarks are not used past the embedding.
 */
const BOX: Face['box'] = [70, 60, 180, 190];
const NO_LANDMARKS = Array.from({ length: 5 }, (): Point => [0, 0]) as Face['landmarks'];

/** The grant of one walk-up through the gate's stages, or null when the door stayed shut. */
async function walkUp(config: Config, gallery: AttendeeGallery, photos: readonly ImageEmbedding[]): Promise<GateDecision | null> {
  const matcher = new FrameMatcher(config, new MatchRules(config));
  const policy = new GatePolicy({ ...config.gate, antiPassbackMinutes: 0 }, { startsAt: null, endsAt: null });
  const decisions: GateDecision[] = [];
  let t = 0;
  for (const e of photos) {
    t += FRAME_GAP_MS;
    const faces: Face[] = e.status === 'ok' ? [{ ...e.face, box: BOX, landmarks: NO_LANDMARKS }] : [];
    const m = await matcher.match(faces, gallery, t);
    decisions.push(...policy.onFrame({ atMs: t, monoMs: t, faces: m.faces, timings: NO_TIMINGS }, t));
  }
  decisions.push(...policy.tick(t + config.gate.trackTtlMs + 1));
  return decisions.find((d) => d.kind === 'grant') ?? null;
}

export interface PassageDeps {
  config: Config;
  /** A gallery holding every enrolled identity, started. */
  gallery: AttendeeGallery;
  /** Each enrolled identity's templates (embeddingId, vector), to put a left-out person back. */
  templates: ReadonlyMap<string, readonly { id: number; v: Float32Array }[]>;
  embed: (path: string) => Promise<ImageEmbedding>;
}

export async function evaluatePassages(passages: readonly Passage[], frames: number, maxPerIdentity: number, deps: PassageDeps): Promise<PassageReport> {
  const { gallery, templates } = deps;
  const settings = [...new Set([1, deps.config.gate.fusionFrames])];
  const rows: PassageRow[] = [];
  for (const fusionFrames of settings) {
    // Liveness has nothing to score on stills and the ticket modes need a code: the
    // passage measures identification, as `eval identify` does.
    const config: Config = {
      ...deps.config,
      gate: { ...deps.config.gate, fusionFrames, mode: 'identify' },
      liveness: { ...deps.config.liveness, mode: 'off' },
    };
    const row: PassageRow = { fusionFrames, falseNegatives: 0, fnir: 0, falsePositives: 0, fpir: 0, wrongIdentity: 0 };
    for (const p of passages) {
      const photos = await Promise.all(p.photos.map((x) => deps.embed(x)));
      const own = await walkUp(config, gallery, photos);
      if (own?.userId !== p.truth) row.falseNegatives++;
      if (own && own.userId !== p.truth) row.wrongIdentity++;
      gallery.remove({ userId: p.truth });
      try {
        if (await walkUp(config, gallery, photos)) row.falsePositives++;
      } finally {
        for (const t of templates.get(p.truth) ?? []) gallery.add(t.id, p.truth, t.v);
      }
    }
    row.fnir = passages.length ? row.falseNegatives / passages.length : NaN;
    row.fpir = passages.length ? row.falsePositives / passages.length : NaN;
    rows.push(row);
  }
  return {
    framesPerPassage: frames,
    maxPerIdentity,
    passages: passages.length,
    identities: new Set(passages.map((p) => p.truth)).size,
    votesNeeded: deps.config.gate.votesNeeded,
    votesWindow: deps.config.gate.votesWindow,
    rows,
  };
}
