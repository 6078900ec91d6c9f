// Who is this? Image -> largest usable face -> event gallery -> match decision.
// Shared by `gate-agent identify`, the identity endpoint and the gate.
import type { AttendeeStore } from '../store/attendees.js';
import type { Lane } from '../vision/lanes.js';
import type { FaceAnalyzer, StageTimings } from '../vision/pipeline.js';
import type { Face, RgbImage } from '../vision/types.js';
import type { MatchReason } from './decide.js';
import type { Galleries } from './galleries.js';
import { MatchRules, type MatchRulesConfig } from './match-rules.js';

export interface NamedCandidate {
  userId: string;
  name: string;
  similarity: number;
}

export interface IdentifyResult {
  faces: number;
  decision: 'match' | 'unknown' | 'no_face';
  reason: MatchReason | 'no_face' | 'low_quality';
  /** What was wrong with the face when reason is low_quality. */
  detail?: string;
  match: NamedCandidate | null;
  secondBest: NamedCandidate | null;
  face: Face | null;
  timings: StageTimings & { matchMs: number };
  /** The effective threshold the face was decided at (identification.targetFpir at the event's attendee count); null when nothing was matched. */
  threshold: number | null;
}

export class Recognizer {
  /** The matching rules, shared with the gate's frame loop (app/frame-match.ts). */
  readonly rules: MatchRules;

  constructor(
    private readonly pipeline: FaceAnalyzer,
    private readonly galleries: Galleries,
    private readonly store: AttendeeStore,
    config: MatchRulesConfig,
  ) {
    this.rules = new MatchRules(config);
  }

  private named(c: { userId: string; similarity: number } | null, eventId: string): NamedCandidate | null {
    if (!c) return null;
    const name = this.store.getSession(eventId, c.userId)?.userInfo.name ?? '';
    return { userId: c.userId, name, similarity: Math.round(c.similarity * 1e4) / 1e4 };
  }

  /** `lane`: whose work this is in the inference worker's queue (the identity API passes 'api'). */
  async identify(eventId: string, image: Buffer | RgbImage, lane: Lane = 'background'): Promise<IdentifyResult> {
    this.store.requireEvent(eventId);
    const res = Buffer.isBuffer(image)
      ? await this.pipeline.analyzeEncoded(image, { embed: true, maxEmbedFaces: 1, lane })
      : await this.pipeline.analyze(image, { embed: true, maxEmbedFaces: 1, lane });
    const base = { faces: res.faces.length, secondBest: null, match: null, threshold: null };
    const face = res.faces[0] ?? null;
    if (!face?.embedding) return { ...base, decision: 'no_face', reason: 'no_face', face: null, timings: { ...res.timings, matchMs: 0 } };
    const problem = this.rules.qualityProblem(face);
    if (problem) return { ...base, decision: 'unknown', reason: 'low_quality', detail: problem, face, timings: { ...res.timings, matchMs: 0 } };
    const t0 = performance.now();
    const gallery = await this.galleries.get(eventId);
    // A single still: decided at the effective threshold for the event's attendee count.
    const threshold = this.rules.thresholdFor(gallery.attendeeCount).threshold;
    const m = await this.rules.identifyIn(gallery, face.embedding);
    const matchMs = performance.now() - t0;
    return {
      faces: res.faces.length,
      decision: m.decision,
      reason: m.reason,
      match: this.named(m.match, eventId),
      secondBest: this.named(m.secondBest, eventId),
      face,
      timings: { ...res.timings, matchMs },
      threshold,
    };
  }
}
