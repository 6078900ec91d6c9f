// The in-memory 1:N gallery of one event. Embeddings are held as int8 columns (one per
// embedding, with a per-column scale) so onnxruntime's integer GEMM scans 100k of them
// in a few milliseconds; the best candidates are then re-scored exactly in float from
// the store, so every decision is made on exact cosine similarities.
import { ort } from '../models/ort.js';
import { matMulIntegerModel } from './onnx-matmul.js';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { quantizeColumn, type GalleryColumns } from './gallery-columns.js';

/** Columns indexed, or matrix rows copied, between two yields to the event loop while adopting. */
const ADOPT_COLUMNS_PER_TURN = 1024;
const ADOPT_ROWS_PER_TURN = 16;

export interface Candidate {
  userId: string;
  similarity: number;
  embeddingId: number;
}

export interface GalleryOptions {
  dim: number;
  /** Threads for the scan. */
  threads: number;
  /** Embeddings re-scored exactly after the int8 scan. */
  rescoreTop: number;
  /** Float vector of an embedding, for exact re-scoring (from the store). */
  vectorOf: (embeddingId: number) => Float32Array | undefined;
  initialCapacity?: number;
}

// The query is sent as uint8 (value + 128) and 128 x the column sum is taken off the
// result, rather than giving MatMulInteger a zero point of 128: onnxruntime's integer
// GEMM measured 2.5x slower with a zero point (9.9 vs 3.9 ms at 100k on this machine).
const Q_OFFSET = 128;

/** What the gate and the identity endpoint match against: the per-embedding Gallery or the FusedGallery. */
export interface AttendeeGallery {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly size: number;
  readonly attendeeCount: number;
  readonly bytes: number;
  add(embeddingId: number, userId: string, v: Float32Array): void;
  /**
   * Fill a new gallery, before it is used, with columns built by a loader thread
   * (gallery-load.ts), yielding to the event loop between slices of the work.
   */
  adopt(parts: readonly GalleryColumns[]): Promise<void>;
  remove(pred: { embeddingId?: number; userId?: string }): void;
  clear(): void;
  search(q: Float32Array, maxAttendees?: number): Promise<Candidate[]>;
  verify(q: Float32Array, userId: string): Candidate | null;
}

export class Gallery implements AttendeeGallery {
  private cap: number;
  private n = 0;
  private mat: Int8Array;
  private invScale: Float32Array;
  /** Sum of each column's int8 values, to undo the query's +128 offset exactly. */
  private colSum: Int32Array;
  private ids: number[] = [];
  private users: string[] = [];
  private colOf = new Map<number, number>();
  /** userId -> their embedding id, or ids when several: removing an attendee is O(their embeddings), not O(n). */
  private byUser = new Map<string, number | number[]>();
  private session: ort.InferenceSession | undefined;
  /** Scans in flight; changes wait until none is. */
  private searching = 0;
  private deferred: (() => void)[] = [];

  constructor(private readonly opts: GalleryOptions) {
    this.cap = Math.max(16, opts.initialCapacity ?? 1024);
    this.mat = new Int8Array(opts.dim * this.cap);
    this.invScale = new Float32Array(this.cap);
    this.colSum = new Int32Array(this.cap);
  }

  async start(): Promise<void> {
    this.session = await ort.InferenceSession.create(matMulIntegerModel(this.opts.dim), {
      intraOpNumThreads: this.opts.threads,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  }

  async stop(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }

  get size(): number {
    return this.n;
  }

  /** Distinct attendees. */
  get attendeeCount(): number {
    return this.byUser.size;
  }

  /** Bytes held by the gallery's matrix and per-column arrays. */
  get bytes(): number {
    return this.mat.byteLength + this.invScale.byteLength;
  }

  private mutate(fn: () => void): void {
    // A scan reads columns by index; moving them mid-scan would credit a score to
    // the wrong attendee, so changes wait for the scan to finish.
    if (this.searching > 0) this.deferred.push(fn);
    else fn();
  }

  add(embeddingId: number, userId: string, v: Float32Array): void {
    this.mutate(() => {
      if (this.colOf.has(embeddingId)) return;
      if (v.length !== this.opts.dim) throw new Error(`embedding ${embeddingId} has ${v.length} values, the gallery holds ${this.opts.dim}`);
      if (this.n === this.cap) this.grow(this.cap * 2);
      const col = this.n++;
      [this.invScale[col], this.colSum[col]] = quantizeColumn(v, this.mat, this.cap, col);
      this.place(col, embeddingId, userId);
    });
  }

  private place(col: number, embeddingId: number, userId: string): void {
    this.ids[col] = embeddingId;
    this.users[col] = userId;
    this.colOf.set(embeddingId, col);
    const had = this.byUser.get(userId);
    this.byUser.set(userId, had === undefined ? embeddingId : typeof had === 'number' ? [had, embeddingId] : (had.push(embeddingId), had));
  }

  private unplaceUser(embeddingId: number, userId: string): void {
    const had = this.byUser.get(userId);
    if (had === undefined) return;
    if (typeof had === 'number') return void (had === embeddingId && this.byUser.delete(userId));
    const rest = had.filter((x) => x !== embeddingId);
    if (rest.length === 0) this.byUser.delete(userId);
    else this.byUser.set(userId, rest.length === 1 ? rest[0]! : rest);
  }

  /**
   * Fill a new gallery, before it is used, with columns built by a loader thread, one
   * embedding per column; ids: the id of each column in part order (default: each column's
   * embedding id). Capacity leaves an eighth free, so the next additions do not copy the
   * matrix. The copy and the indexing yield to the event loop every few ms of work, so a
   * 100k gallery never holds up a frame.
   */
  async adopt(parts: readonly GalleryColumns[], ids?: readonly number[]): Promise<void> {
    if (this.n > 0 || this.searching > 0) throw new Error('adopt() fills a new gallery; this one is in use');
    const dim = this.opts.dim;
    const total = parts.reduce((a, p) => a + p.n, 0);
    const cap = Math.max(16, Math.ceil(total * 1.125) + 64);
    const mat = new Int8Array(dim * cap);
    const invScale = new Float32Array(cap);
    const colSum = new Int32Array(cap);
    let at = 0;
    for (const p of parts) {
      if (p.dim !== dim) throw new Error(`gallery part has ${p.dim} dimensions, the gallery holds ${dim}`);
      for (let d = 0; d < dim; d++) {
        mat.set(p.mat.subarray(d * p.n, (d + 1) * p.n), d * cap + at);
        if (d % ADOPT_ROWS_PER_TURN === ADOPT_ROWS_PER_TURN - 1) await yieldToLoop();
      }
      invScale.set(p.invScale, at);
      colSum.set(p.colSum, at);
      at += p.n;
    }
    this.mat = mat;
    this.invScale = invScale;
    this.colSum = colSum;
    this.cap = cap;
    this.ids = [];
    this.users = [];
    let col = 0;
    for (const p of parts) {
      for (let c = 0; c < p.n; c++) {
        const id = ids ? ids[col]! : p.memberIds[p.memberStart[c]!]!;
        this.place(col++, id, p.users[c]!);
        if (col % ADOPT_COLUMNS_PER_TURN === 0) await yieldToLoop();
      }
    }
    this.n = col;
  }

  /** Remove embeddings by id, or all of one attendee's. */
  remove(pred: { embeddingId?: number; userId?: string }): void {
    this.mutate(() => {
      const cols: number[] = [];
      if (pred.embeddingId !== undefined) {
        const c = this.colOf.get(pred.embeddingId);
        if (c !== undefined) cols.push(c);
      } else if (pred.userId !== undefined) {
        const had = this.byUser.get(pred.userId);
        for (const id of had === undefined ? [] : typeof had === 'number' ? [had] : had) {
          const c = this.colOf.get(id);
          if (c !== undefined) cols.push(c);
        }
      }
      // highest first, so moving the last column into a hole never moves one still to delete
      for (const c of cols.sort((a, b) => b - a)) this.removeColumn(c);
    });
  }

  clear(): void {
    this.mutate(() => {
      this.n = 0;
      this.ids = [];
      this.users = [];
      this.colOf.clear();
      this.byUser.clear();
      this.mat.fill(0);
    });
  }

  private removeColumn(col: number): void {
    const last = --this.n;
    this.colOf.delete(this.ids[col]!);
    this.unplaceUser(this.ids[col]!, this.users[col]!);
    if (col !== last) {
      for (let d = 0; d < this.opts.dim; d++) this.mat[d * this.cap + col] = this.mat[d * this.cap + last]!;
      this.invScale[col] = this.invScale[last]!;
      this.colSum[col] = this.colSum[last]!;
      this.ids[col] = this.ids[last]!;
      this.users[col] = this.users[last]!;
      this.colOf.set(this.ids[col]!, col);
    }
    for (let d = 0; d < this.opts.dim; d++) this.mat[d * this.cap + last] = 0;
    this.invScale[last] = 0;
    this.colSum[last] = 0;
    this.ids.length = this.n;
    this.users.length = this.n;
  }

  private grow(cap: number): void {
    const next = new Int8Array(this.opts.dim * cap);
    for (let d = 0; d < this.opts.dim; d++) next.set(this.mat.subarray(d * this.cap, d * this.cap + this.n), d * cap);
    const scale = new Float32Array(cap);
    scale.set(this.invScale.subarray(0, this.n));
    const sums = new Int32Array(cap);
    sums.set(this.colSum.subarray(0, this.n));
    this.mat = next;
    this.invScale = scale;
    this.colSum = sums;
    this.cap = cap;
  }

  /**
   * The best-scoring attendees for a unit query, best first, one entry per attendee
   * (an attendee's score is the best of their embeddings), with exact similarities.
   */
  async search(q: Float32Array, maxAttendees = 2): Promise<Candidate[]> {
    if (!this.session) throw new Error('gallery used before start()');
    if (this.n === 0) return [];
    let max = 0;
    for (let d = 0; d < q.length; d++) max = Math.max(max, Math.abs(q[d]!));
    const qs = max > 0 ? 127 / max : 1;
    const qu = new Uint8Array(q.length);
    for (let d = 0; d < q.length; d++) qu[d] = Math.round(q[d]! * qs) + Q_OFFSET;
    this.searching++;
    let approx: Int32Array;
    const n = this.n;
    try {
      const out = await this.session.run({
        Q: new ort.Tensor('uint8', qu, [1, q.length]),
        G: new ort.Tensor('int8', this.mat, [this.opts.dim, this.cap]),
      });
      approx = out.S!.data as Int32Array;
      return this.rescore(q, approx, n, qs, maxAttendees);
    } finally {
      // Several scans can overlap (the camera and the identity endpoint): changes are
      // applied only when the last of them is done.
      if (--this.searching === 0) {
        const pending = this.deferred;
        this.deferred = [];
        for (const fn of pending) fn();
      }
    }
  }

  /**
   * 1:1: the score of one attendee (the best of their embeddings), exact; null when the
   * gallery holds none of theirs. Used when a ticket says who the person claims to be.
   */
  verify(q: Float32Array, userId: string): Candidate | null {
    let best: Candidate | null = null;
    for (let c = 0; c < this.n; c++) {
      if (this.users[c] !== userId) continue;
      const id = this.ids[c]!;
      const vec = this.opts.vectorOf(id);
      if (!vec) continue;
      let s = 0;
      for (let d = 0; d < q.length; d++) s += q[d]! * vec[d]!;
      if (!best || s > best.similarity) best = { userId, similarity: s, embeddingId: id };
    }
    return best;
  }

  private rescore(q: Float32Array, approx: Int32Array, n: number, qs: number, maxAttendees: number): Candidate[] {
    const k = Math.min(n, Math.max(this.opts.rescoreTop, maxAttendees));
    // top-k by approximate score: a small sorted buffer beats sorting n scores
    const topCol = new Int32Array(k).fill(-1);
    const topVal = new Float32Array(k).fill(-Infinity);
    const invQ = 1 / qs;
    for (let c = 0; c < n; c++) {
      const v = (approx[c]! - Q_OFFSET * this.colSum[c]!) * invQ * this.invScale[c]!;
      if (v <= topVal[k - 1]!) continue;
      let j = k - 1;
      while (j > 0 && topVal[j - 1]! < v) {
        topVal[j] = topVal[j - 1]!;
        topCol[j] = topCol[j - 1]!;
        j--;
      }
      topVal[j] = v;
      topCol[j] = c;
    }
    const best = new Map<string, Candidate>();
    for (const c of topCol) {
      if (c < 0) continue;
      const id = this.ids[c];
      const user = this.users[c];
      if (id === undefined || user === undefined) continue;
      // No stored vector: the embedding was deleted (by another process, say). It must
      // not match on its int8 estimate.
      const vec = this.opts.vectorOf(id);
      if (!vec) continue;
      let s = 0;
      for (let d = 0; d < q.length; d++) s += q[d]! * vec[d]!;
      const prev = best.get(user);
      if (!prev || s > prev.similarity) best.set(user, { userId: user, similarity: s, embeddingId: id });
    }
    return [...best.values()].sort((a, b) => b.similarity - a.similarity).slice(0, maxAttendees);
  }
}
