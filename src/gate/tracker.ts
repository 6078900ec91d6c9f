// Following faces across frames by box overlap (pure). At gate frame rates a
// walking face moves little between frames, so IoU with the previous box is
// enough; no motion model, no appearance features.
import { iou } from '../vision/scrfd.js';
import type { Box } from './types.js';

export interface TrackerOptions {
  /** Smallest IoU between a track's last box and a new box for them to be the same face. */
  trackIou: number;
  /** A track not seen for longer than this is gone. */
  trackTtlMs: number;
}

export interface Track {
  id: number;
  box: Box;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Frames the track was detected in. */
  hits: number;
}

/**
 * Greedy assignment: all (track, box) pairs at or above minIou, highest IoU first,
 * each track and box used once. Ties go to the earlier track, then the earlier box,
 * so the result does not depend on Map or sort internals.
 * Returns, for each box, the index of its track in `trackBoxes` or -1.
 */
export function assignBoxes(trackBoxes: readonly Box[], boxes: readonly Box[], minIou: number): number[] {
  const pairs: Array<{ t: number; b: number; iou: number }> = [];
  trackBoxes.forEach((tb, t) => {
    boxes.forEach((bb, b) => {
      const v = iou(tb, bb);
      if (v >= minIou && v > 0) pairs.push({ t, b, iou: v });
    });
  });
  pairs.sort((x, y) => y.iou - x.iou || x.t - y.t || x.b - y.b);
  const out = boxes.map(() => -1);
  const usedTracks = new Set<number>();
  for (const p of pairs) {
    if (usedTracks.has(p.t) || out[p.b] !== -1) continue;
    usedTracks.add(p.t);
    out[p.b] = p.t;
  }
  return out;
}

export class BoxTracker {
  private readonly tracks = new Map<number, Track>();
  private nextId = 1;

  constructor(private readonly opts: TrackerOptions) {}

  get size(): number {
    return this.tracks.size;
  }

  get(id: number): Track | undefined {
    return this.tracks.get(id);
  }

  /** Removes and returns the tracks not seen for more than trackTtlMs before nowMs, oldest id first. */
  expire(nowMs: number): Track[] {
    const gone: Track[] = [];
    for (const t of this.tracks.values()) {
      if (nowMs - t.lastSeenMs > this.opts.trackTtlMs) gone.push(t);
    }
    for (const t of gone) this.tracks.delete(t.id);
    return gone;
  }

  /** Assigns each box of one frame to a live track or a new one; returns the track id per box. */
  update(boxes: readonly Box[], atMs: number): number[] {
    const live = [...this.tracks.values()];
    const assigned = assignBoxes(live.map((t) => t.box), boxes, this.opts.trackIou);
    return boxes.map((box, i) => {
      const t = live[assigned[i] ?? -1];
      if (t) {
        t.box = [...box];
        t.lastSeenMs = atMs;
        t.hits++;
        return t.id;
      }
      const id = this.nextId++;
      this.tracks.set(id, { id, box: [...box], firstSeenMs: atMs, lastSeenMs: atMs, hits: 1 });
      return id;
    });
  }
}
