// One template per attendee: the normalised mean of their enrollment embeddings. An
// attendee enrolled with several photos is then scored once, against their fused
// template, instead of by the best of their photos: the best-of score gives a stranger
// several chances per attendee, the fused one does not (docs/accuracy.md measures both).
// Built on the int8 Gallery: one column per attendee, re-scored exactly from the store.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { normalizeInPlace, type GalleryColumns } from './gallery-columns.js';

/** Attendees indexed between two yields to the event loop while adopting. */
const ADOPT_COLUMNS_PER_TURN = 1024;
import { Gallery, type AttendeeGallery, type Candidate, type GalleryOptions } from './gallery.js';

/** Normalised mean of unit vectors (pure); null for none. */
export function fuseVectors(vs: readonly Float32Array[]): Float32Array | null {
  const first = vs[0];
  if (!first) return null;
  const out = new Float32Array(first.length);
  for (const v of vs) for (let d = 0; d < out.length; d++) out[d]! += v[d]!;
  return normalizeInPlace(out) ? out : null;
}

export class FusedGallery implements AttendeeGallery {
  private readonly inner: Gallery;
  /** userId -> their embedding ids. */
  private readonly members = new Map<string, number | number[]>();
  /** userId -> the inner gallery's column id for them; embeddingId of candidates is their first embedding. */
  private readonly slot = new Map<string, number>();
  private readonly userOfSlot = new Map<number, string>();
  private nextSlot = 1;

  constructor(private readonly opts: GalleryOptions) {
    this.inner = new Gallery({ ...opts, vectorOf: (slot) => this.centroid(this.userOfSlot.get(slot)) });
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  get size(): number {
    return this.inner.size;
  }

  get attendeeCount(): number {
    return this.inner.size;
  }

  get bytes(): number {
    return this.inner.bytes;
  }

  /** The attendee's embedding ids (one is kept as a bare number: most attendees have one). */
  private idsOf(userId: string): readonly number[] {
    const had = this.members.get(userId);
    return had === undefined ? [] : typeof had === 'number' ? [had] : had;
  }

  /** The attendee's fused template from the stored vectors (exact); undefined when none is left. */
  private centroid(userId: string | undefined, extra?: [number, Float32Array]): Float32Array | undefined {
    if (userId === undefined) return undefined;
    const vs: Float32Array[] = [];
    for (const id of this.idsOf(userId)) {
      const v = extra && extra[0] === id ? extra[1] : this.opts.vectorOf(id);
      if (v) vs.push(v);
    }
    return fuseVectors(vs) ?? undefined;
  }

  private refresh(userId: string, extra?: [number, Float32Array]): void {
    const old = this.slot.get(userId);
    if (old !== undefined) {
      this.inner.remove({ embeddingId: old });
      this.userOfSlot.delete(old);
      this.slot.delete(userId);
    }
    const c = this.centroid(userId, extra);
    if (!c) return;
    const s = this.nextSlot++;
    this.slot.set(userId, s);
    this.userOfSlot.set(s, userId);
    this.inner.add(s, userId, c);
  }

  add(embeddingId: number, userId: string, v: Float32Array): void {
    const ids = [...this.idsOf(userId)];
    if (ids.includes(embeddingId)) return;
    if (v.length !== this.opts.dim) throw new Error(`embedding ${embeddingId} has ${v.length} values, the gallery holds ${this.opts.dim}`);
    ids.push(embeddingId);
    this.members.set(userId, ids.length === 1 ? ids[0]! : ids);
    this.refresh(userId, [embeddingId, v]);
  }

  /** Columns built by a loader thread with fused templates, one column per attendee; yields to the loop as it indexes. */
  async adopt(parts: readonly GalleryColumns[]): Promise<void> {
    const slots: number[] = [];
    for (const p of parts) {
      for (let c = 0; c < p.n; c++) {
        const userId = p.users[c]!;
        const s = this.nextSlot++;
        slots.push(s);
        this.slot.set(userId, s);
        this.userOfSlot.set(s, userId);
        const from = p.memberStart[c]!;
        const to = p.memberStart[c + 1]!;
        this.members.set(userId, to - from === 1 ? p.memberIds[from]! : Array.from(p.memberIds.subarray(from, to)));
        if (slots.length % ADOPT_COLUMNS_PER_TURN === 0) await yieldToLoop();
      }
    }
    await this.inner.adopt(parts, slots);
  }

  remove(pred: { embeddingId?: number; userId?: string }): void {
    if (pred.userId !== undefined) {
      this.members.delete(pred.userId);
      this.refresh(pred.userId);
      return;
    }
    for (const [userId, had] of this.members) {
      const ids = typeof had === 'number' ? [had] : had;
      const i = ids.indexOf(pred.embeddingId ?? NaN);
      if (i < 0) continue;
      ids.splice(i, 1);
      if (ids.length === 0) this.members.delete(userId);
      else this.members.set(userId, ids.length === 1 ? ids[0]! : ids);
      this.refresh(userId);
    }
  }

  clear(): void {
    this.members.clear();
    this.slot.clear();
    this.userOfSlot.clear();
    this.inner.clear();
  }

  private named(c: Candidate): Candidate {
    return { ...c, embeddingId: this.idsOf(c.userId)[0] ?? c.embeddingId };
  }

  async search(q: Float32Array, maxAttendees = 2): Promise<Candidate[]> {
    return (await this.inner.search(q, maxAttendees)).map((c) => this.named(c));
  }

  verify(q: Float32Array, userId: string): Candidate | null {
    const c = this.centroid(userId);
    if (!c) return null;
    let s = 0;
    for (let d = 0; d < q.length; d++) s += q[d]! * c[d]!;
    return this.named({ userId, similarity: s, embeddingId: 0 });
  }
}
