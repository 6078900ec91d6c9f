// One template per attendee: the normalised mean of their enrollment embeddings. An
// attendee enrolled with several photos is then scored once, against their fused
// template, instead of by the best of their photos: the best-of score gives a stranger
// several chances per attendee, the fused one does not (docs/accuracy.md measures both).
// Built on the int8 Gallery: one column per attendee, re-scored exactly from the store.
import type { GalleryColumns } from './gallery-columns.js';
import { Gallery, type AttendeeGallery, type Candidate, type GalleryOptions } from './gallery.js';

/** Normalised mean of unit vectors (pure); null for none. */
export function fuseVectors(vs: readonly Float32Array[]): Float32Array | null {
  const first = vs[0];
  if (!first) return null;
  const out = new Float32Array(first.length);
  for (const v of vs) for (let d = 0; d < out.length; d++) out[d]! += v[d]!;
  let n = 0;
  for (let d = 0; d < out.length; d++) n += out[d]! * out[d]!;
  n = Math.sqrt(n);
  if (!(n > 0)) return null;
  for (let d = 0; d < out.length; d++) out[d]! /= n;
  return out;
}

export class FusedGallery implements AttendeeGallery {
  private readonly inner: Gallery;
  /** userId -> their embedding ids. */
  private readonly members = new Map<string, number[]>();
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

  /** The attendee's fused template from the stored vectors (exact); undefined when none is left. */
  private centroid(userId: string | undefined, extra?: [number, Float32Array]): Float32Array | undefined {
    if (userId === undefined) return undefined;
    const vs: Float32Array[] = [];
    for (const id of this.members.get(userId) ?? []) {
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
    const ids = this.members.get(userId) ?? [];
    if (ids.includes(embeddingId)) return;
    if (v.length !== this.opts.dim) throw new Error(`embedding ${embeddingId} has ${v.length} values, the gallery holds ${this.opts.dim}`);
    ids.push(embeddingId);
    this.members.set(userId, ids);
    this.refresh(userId, [embeddingId, v]);
  }

  /** Columns built by a loader thread with fused templates: one column per attendee. */
  adopt(parts: readonly GalleryColumns[]): void {
    this.members.clear();
    this.slot.clear();
    this.userOfSlot.clear();
    const slots: number[] = [];
    for (const p of parts) {
      for (let c = 0; c < p.n; c++) {
        const userId = p.users[c]!;
        const s = this.nextSlot++;
        slots.push(s);
        this.slot.set(userId, s);
        this.userOfSlot.set(s, userId);
        this.members.set(userId, Array.from(p.memberIds.subarray(p.memberStart[c]!, p.memberStart[c + 1]!)));
      }
    }
    this.inner.adopt(parts, slots);
  }

  remove(pred: { embeddingId?: number; userId?: string }): void {
    if (pred.userId !== undefined) {
      this.members.delete(pred.userId);
      this.refresh(pred.userId);
      return;
    }
    for (const [userId, ids] of this.members) {
      const i = ids.indexOf(pred.embeddingId ?? NaN);
      if (i < 0) continue;
      ids.splice(i, 1);
      if (ids.length === 0) this.members.delete(userId);
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
    return { ...c, embeddingId: this.members.get(c.userId)?.[0] ?? c.embeddingId };
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
