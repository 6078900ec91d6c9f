// Is a face good enough to match or enroll? (pure)
import type { Config } from '../config/types.js';
import type { FaceQuality } from '../vision/types.js';

/** A sentence saying what is wrong and what to do, or null when the face is usable. */
export function qualityProblem(f: FaceQuality, q: Config['quality']): string | null {
  if (f.interEyePx < q.minInterEyePx) {
    return `face too small (${f.interEyePx.toFixed(0)} px between the eyes, need ${q.minInterEyePx}); come closer or use a larger photo`;
  }
  if (Math.abs(f.yawDeg) > q.maxYawDeg) {
    return `head turned too far (${Math.abs(f.yawDeg).toFixed(0)}°, at most ${q.maxYawDeg}°); face the camera`;
  }
  if (f.sharpness < q.minSharpness) {
    return `image too blurred (sharpness ${f.sharpness.toFixed(0)}, need ${q.minSharpness}); hold still or use a sharper photo`;
  }
  return null;
}
