// Enrolling an attendee from photos: every photo must hold exactly one usable face;
// all photos are checked before anything is written, so a failure leaves nothing.
import { createHash } from 'node:crypto';
import type { Config } from '../config/types.js';
import type { Galleries } from '../match/galleries.js';
import { qualityProblem } from '../match/quality-gate.js';
import type { AttendeeStore } from '../store/attendees.js';
import { localSession, type AttendeeSession } from '../store/session.js';
import { ImageError } from '../vision/image.js';
import type { FaceAnalyzer } from '../vision/pipeline.js';

export class EnrollError extends Error {
  override name = 'UsageError';
  constructor(
    readonly userId: string,
    readonly problems: string[],
  ) {
    super(`attendee ${userId} not enrolled: ${problems.join('; ')}`);
  }
}

export interface EnrollPhoto {
  /** What to call the photo in messages (its path). */
  label: string;
  data: Buffer;
}

export interface EnrollRequest {
  eventId: string;
  userId: string;
  name?: string;
  email?: string;
  phone?: string;
  /** The attendee's ticket QR id (gate.mode verify/either); kept when absent. */
  qrId?: string;
  photos: EnrollPhoto[];
  /** Enroll every photo again, replacing the attendee's embeddings of this model. */
  replace?: boolean;
  /** Check everything (faces, quality, duplicates), write nothing. */
  dryRun?: boolean;
}

export interface EnrollResult {
  userId: string;
  /** Embeddings added (with dryRun: that would be added). */
  embeddings: number;
  /** Photos skipped: already enrolled for this attendee and model (same bytes), or listed twice. */
  skipped: number;
  warnings: string[];
}

export interface EnrollDeps {
  pipeline: FaceAnalyzer;
  store: AttendeeStore;
  galleries: Galleries;
  config: Pick<Config, 'quality' | 'match' | 'store'>;
  embedderId: string;
}

export async function enrollAttendee(deps: EnrollDeps, req: EnrollRequest): Promise<EnrollResult> {
  const { pipeline, store, galleries, config } = deps;
  store.requireOpenEvent(req.eventId);
  if (!req.userId.trim()) throw new EnrollError(req.userId, ['user id is empty']);
  if (req.photos.length === 0) throw new EnrollError(req.userId, ['no photo given; pass at least one photo file']);
  // A photo enrolled before (same bytes) is not enrolled again: a repeated import changes nothing.
  const seen = req.replace ? new Set<string>() : store.enrolledPhotoHashes(req.eventId, req.userId, deps.embedderId);
  const fresh: (EnrollPhoto & { sha256: string })[] = [];
  for (const p of req.photos) {
    const sha256 = createHash('sha256').update(p.data).digest('hex');
    if (seen.has(sha256)) continue;
    seen.add(sha256);
    fresh.push({ ...p, sha256 });
  }
  const skipped = req.photos.length - fresh.length;
  if (fresh.length === 0) return { userId: req.userId, embeddings: 0, skipped, warnings: [] };
  const problems: string[] = [];
  const good: { vector: Float32Array; quality: number; photo: Buffer; sha256: string }[] = [];
  for (const p of fresh) {
    try {
      const res = await pipeline.analyzeEncoded(p.data, { embed: true, maxEmbedFaces: 1 });
      // A face too small to use (a bystander far behind) does not make the photo ambiguous.
      const sized = res.faces.filter((f) => f.interEyePx >= config.quality.minInterEyePx);
      if (res.faces.length === 0) problems.push(`${p.label}: no face found; use a photo where the face is clearly visible`);
      else if (sized.length > 1) problems.push(`${p.label}: ${sized.length} faces; use a photo showing only this attendee`);
      else {
        const f = res.faces[0]!;
        const q = qualityProblem(f, config.quality);
        if (q) problems.push(`${p.label}: ${q}`);
        else good.push({ vector: f.embedding!, quality: f.score, photo: p.data, sha256: p.sha256 });
      }
    } catch (err) {
      if (err instanceof ImageError) problems.push(`${p.label}: ${err.message}`);
      else throw err;
    }
  }
  if (problems.length) throw new EnrollError(req.userId, problems);

  const warnings: string[] = [];
  const gallery = await galleries.get(req.eventId);
  for (const g of good) {
    for (const c of await gallery.search(g.vector, 3)) {
      if (c.userId !== req.userId && c.similarity >= config.match.threshold) {
        const w = `already looks like attendee ${c.userId} (similarity ${c.similarity.toFixed(2)}); check this is not a duplicate enrollment`;
        if (!warnings.includes(w)) warnings.push(w);
      }
    }
  }

  if (req.dryRun) return { userId: req.userId, embeddings: good.length, skipped, warnings };
  store.transaction(() => {
    if (req.replace) store.replaceEmbeddings(req.eventId, req.userId, deps.embedderId, []);
    const existing = store.getSession(req.eventId, req.userId);
    const session: AttendeeSession = existing ?? localSession(req.userId, req);
    if (existing) {
      session.userInfo = {
        ...existing.userInfo,
        ...(req.name !== undefined ? { name: req.name } : {}),
        ...(req.email !== undefined ? { email: req.email } : {}),
        ...(req.phone !== undefined ? { phone: req.phone } : {}),
      };
    }
    if (req.qrId !== undefined) session.qrId = req.qrId;
    store.upsertAttendee(req.eventId, session);
    for (const g of good) {
      store.addEmbedding(req.eventId, req.userId, {
        vector: g.vector,
        modelId: deps.embedderId,
        quality: g.quality,
        source: 'enroll',
        photo: config.store.keepEnrollmentPhotos ? g.photo : null,
        photoSha256: g.sha256,
      });
    }
  });
  return { userId: req.userId, embeddings: good.length, skipped, warnings };
}
