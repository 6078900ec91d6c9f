// Evidence over frames: each face is matched with the fused embedding of its track's
// last few good frames (the mean of unit vectors, normalised again), not with one frame
// alone (pure). Faces are followed with the same box tracker and settings as the gate
// policy, so a track here is the policy's track. Two people merged into one track by
// mistake blend into a vector that scores lower against both: the error fails closed.
import { fuseVectors } from '../match/fused-gallery.js';
import { BoxTracker, type TrackerOptions } from './tracker.js';
import type { Box } from './types.js';

export interface FusionOptions extends TrackerOptions {
  /** Good frames of a track fused; 1 = each frame alone. */
  fusionFrames: number;
}

export class TrackFuser {
  private readonly tracker: BoxTracker;
  private readonly recent = new Map<number, Float32Array[]>();

  constructor(private readonly opts: FusionOptions) {
    this.tracker = new BoxTracker(opts);
  }

  /**
   * One frame's faces, every face of the frame (so tracks match the policy's); `embedding`
   * null for a face that is not good enough to count (it neither adds nor gets evidence).
   * Returns each face's fused embedding and how many frames it rests on.
   */
  fuse(faces: readonly { box: Box; embedding: Float32Array | null }[], atMs: number): ({ embedding: Float32Array; frames: number } | null)[] {
    for (const t of this.tracker.expire(atMs)) this.recent.delete(t.id);
    const ids = this.tracker.update(faces.map((f) => f.box), atMs);
    return faces.map((f, i) => {
      const id = ids[i]!;
      if (!f.embedding) return null;
      const list = [...(this.recent.get(id) ?? []), f.embedding].slice(-this.opts.fusionFrames);
      this.recent.set(id, list);
      const embedding = fuseVectors(list);
      return embedding && { embedding, frames: list.length };
    });
  }
}
