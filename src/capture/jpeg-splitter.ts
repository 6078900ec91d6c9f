// Splits a concatenated MJPEG byte stream (ffmpeg `-f mjpeg`) into whole JPEG images.
//
// Scanning for the next FFD9 is not enough: an APP1/Exif segment can carry a thumbnail
// JPEG with its own FFD8..FFD9, and chunk boundaries fall anywhere. So this walks the
// marker structure: length-prefixed segments are skipped whole (thumbnails included),
// and only inside entropy-coded data (after SOS) are bytes scanned, where FF00 is byte
// stuffing and FFD0-FFD7 are restart markers. Pure and synchronous: tested directly.

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;

function isRst(m: number): boolean {
  return m >= 0xd0 && m <= 0xd7;
}

type Phase = 'seek' | 'segments' | 'entropy';

export interface JpegSplitterStats {
  /** Bytes thrown away while looking for a start of image (noise, truncated frames). */
  readonly discardedBytes: number;
  /** Frames abandoned because they were malformed or larger than maxFrameBytes. */
  readonly corruptFrames: number;
}

export class JpegSplitter {
  /**
   * Bytes not yet emitted: store[0..len). Grown by doubling, so feeding a frame in tiny
   * chunks stays linear (re-concatenating per chunk would be quadratic).
   */
  private store: Buffer = Buffer.alloc(0);
  private len = 0;
  /** Parse position inside buf; buf[0] is the frame's SOI once phase != 'seek'. */
  private pos = 0;
  private phase: Phase = 'seek';
  private discarded = 0;
  private corrupt = 0;
  /** The current frame outgrew maxFrameBytes: keep parsing to its EOI, but keep no bytes. */
  private skipping = false;

  /** maxFrameBytes bounds memory when the stream is garbage without an EOI. */
  constructor(private readonly maxFrameBytes = 16 * 1024 * 1024) {}

  stats(): JpegSplitterStats {
    return { discardedBytes: this.discarded, corruptFrames: this.corrupt };
  }

  /** Feeds a chunk; returns the frames it completed, in order (each a private copy). */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    for (;;) {
      const progress = this.step(out);
      if (!progress) break;
    }
    if (this.phase !== 'seek' && this.buf.length > this.maxFrameBytes) {
      // Resyncing on the next FFD8 would find the frame's own Exif thumbnail; following
      // its structure to the EOI, with the parsed bytes dropped, keeps memory bounded.
      this.discarded += this.pos;
      this.consume(this.pos);
      this.pos = 0;
      this.skipping = true;
    }
    return out;
  }

  /** Drops a partial frame, e.g. when the producing process was restarted. */
  reset(): void {
    this.discarded += this.len;
    this.len = 0;
    this.pos = 0;
    this.phase = 'seek';
    this.skipping = false;
  }

  private get buf(): Buffer {
    return this.store.subarray(0, this.len);
  }

  private append(chunk: Buffer): void {
    if (this.len + chunk.length > this.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.store.length * 2, this.len + chunk.length, 64 * 1024));
      this.store.copy(grown, 0, 0, this.len);
      this.store = grown;
    }
    chunk.copy(this.store, this.len);
    this.len += chunk.length;
  }

  /** Drops the first n bytes; what follows is usually a fraction of one pipe chunk. */
  private consume(n: number): void {
    this.store.copyWithin(0, n, this.len);
    this.len -= n;
  }

  /** Advances the state machine once; false when more input is needed. */
  private step(out: Buffer[]): boolean {
    const b = this.buf;
    if (this.phase === 'seek') {
      let i = b.indexOf(0xff, this.pos);
      while (i !== -1 && i + 1 < b.length && b[i + 1] !== SOI) i = b.indexOf(0xff, i + 1);
      if (i === -1) {
        this.discarded += b.length;
        this.len = 0;
        this.pos = 0;
        return false;
      }
      if (i + 1 >= b.length) {
        // A lone trailing FF may be the first half of an SOI: keep it.
        this.discarded += i;
        this.consume(i);
        this.pos = 0;
        return false;
      }
      this.discarded += i;
      this.consume(i);
      this.pos = 2;
      this.phase = 'segments';
      return true;
    }
    if (this.phase === 'segments') {
      let p = this.pos;
      if (p >= b.length) return false;
      if (b[p] !== 0xff) {
        this.corrupt++;
        this.resync(p);
        return true;
      }
      while (p < b.length && b[p] === 0xff) p++; // fill bytes before a marker are legal
      if (p >= b.length) return false;
      const marker = b[p] as number;
      const markerAt = p - 1;
      if (marker === SOI) {
        // A new image started before this one ended: the previous one was truncated.
        this.corrupt++;
        this.resync(markerAt);
        return true;
      }
      if (marker === EOI) {
        const end = p + 1;
        if (this.skipping) {
          this.corrupt++;
          this.discarded += end;
          this.skipping = false;
        } else {
          out.push(Buffer.from(b.subarray(0, end)));
        }
        this.consume(end);
        this.pos = 0;
        this.phase = 'seek';
        return true;
      }
      if (isRst(marker) || marker === TEM) {
        this.pos = p + 1;
        return true;
      }
      if (p + 2 >= b.length) return false;
      const len = b.readUInt16BE(p + 1);
      if (len < 2) {
        this.corrupt++;
        this.resync(p);
        return true;
      }
      const next = p + 1 + len;
      if (next > b.length) return false;
      this.pos = next;
      if (marker === SOS) this.phase = 'entropy';
      return true;
    }
    // entropy-coded data: runs until an FF followed by something other than 00/RSTn/FF.
    let i = b.indexOf(0xff, this.pos);
    for (;;) {
      if (i === -1) {
        this.pos = b.length;
        return false;
      }
      if (i + 1 >= b.length) {
        this.pos = i;
        return false;
      }
      const n = b[i + 1] as number;
      if (n === 0x00 || isRst(n)) i = b.indexOf(0xff, i + 2);
      else if (n === 0xff) i = i + 1;
      else break;
    }
    this.pos = i;
    this.phase = 'segments';
    return true;
  }

  /** Abandons the current frame and looks for the next SOI from offset `from`. */
  private resync(from: number): void {
    this.discarded += from;
    this.consume(from);
    this.pos = 0;
    this.phase = 'seek';
    this.skipping = false;
  }
}

/** True when the buffer starts with SOI and ends with EOI: a cheap completeness check. */
export function looksLikeJpeg(data: Buffer): boolean {
  return data.length >= 4 && data[0] === 0xff && data[1] === SOI && data[data.length - 2] === 0xff && data[data.length - 1] === EOI;
}
