// A gallery's int8 columns as plain transferable arrays, so they can be built in a worker
// thread (read, decrypt, fuse, quantise) and handed to the gate's loop in one piece.
// Pure functions: no I/O.

/** Columns of one gallery part: column c holds one embedding (or one attendee's fused template). */
export interface GalleryColumns {
  n: number;
  dim: number;
  /** dim x n, row-major by dimension: value d of column c at d * n + c. */
  mat: Int8Array;
  invScale: Float32Array;
  colSum: Int32Array;
  /** The attendee of each column. */
  users: string[];
  /** Embedding ids of column c: memberIds[memberStart[c] .. memberStart[c + 1]). One per column unless fused. */
  memberIds: Float64Array;
  memberStart: Int32Array;
}

/**
 * Quantise unit vector v into column col of a dim x cap matrix; returns [1/scale, column sum].
 * The per-column scale maps the largest |value| to 127.
 */
export function quantizeColumn(v: Float32Array, mat: Int8Array, cap: number, col: number, offset = 0): [number, number] {
  let max = 0;
  for (let d = 0; d < v.length; d++) max = Math.max(max, Math.abs(v[d]!));
  const s = max > 0 ? 127 / max : 1;
  let sum = 0;
  for (let d = 0; d < v.length; d++) {
    const x = Math.round(v[d]! * s);
    mat[offset + d * cap + col] = x;
    sum += x;
  }
  return [1 / s, sum];
}

/**
 * Quantises vectors column by column into a dim x cap matrix through a small row-major
 * block, written out a block of columns at a time: writing each column straight into the
 * matrix touches dim cache lines per column and made a 100k load several times slower.
 */
export class ColumnWriter {
  private static readonly BLOCK = 64;
  private readonly block: Int8Array;
  private first = 0;
  private filled = 0;

  constructor(
    private readonly mat: Int8Array,
    private readonly dim: number,
    private readonly cap: number,
  ) {
    this.block = new Int8Array(ColumnWriter.BLOCK * dim);
  }

  /** Column col (the next one in order); returns [1/scale, column sum]. */
  write(v: Float32Array, col: number): [number, number] {
    if (col !== this.first + this.filled) throw new Error(`columns must be written in order (expected ${this.first + this.filled}, got ${col})`);
    const r = quantizeColumn(v, this.block, 1, 0, this.filled * this.dim);
    if (++this.filled === ColumnWriter.BLOCK) this.flush();
    return r;
  }

  flush(): void {
    const { dim, cap, mat, block } = this;
    for (let d = 0; d < dim; d++) {
      const row = d * cap + this.first;
      for (let j = 0; j < this.filled; j++) mat[row + j] = block[j * dim + d]!;
    }
    this.first += this.filled;
    this.filled = 0;
  }
}

/** A sum of unit vectors made their normalised mean, in place; false when it is zero. */
export function normalizeInPlace(v: Float32Array): boolean {
  let n = 0;
  for (let d = 0; d < v.length; d++) n += v[d]! * v[d]!;
  n = Math.sqrt(n);
  if (!(n > 0)) return false;
  for (let d = 0; d < v.length; d++) v[d]! /= n;
  return true;
}
