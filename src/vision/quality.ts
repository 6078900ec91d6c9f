// Capture-quality measures from the 5 landmarks (pure).
import type { Point } from './types.js';

/** Nose-tip depth relative to the eye distance on an average adult face; used to turn
 * the nose's sideways offset into an angle. A rough anthropometric constant. */
const NOSE_DEPTH_PER_EYE_DISTANCE = 0.6;

export function interEyePx(landmarks: readonly Point[]): number {
  const [l, r] = landmarks as [Point, Point];
  return Math.hypot(r[0] - l[0], r[1] - l[1]);
}

/**
 * Yaw from the landmarks: the nose's offset from the eye midpoint along the eye axis
 * (so head roll does not count as yaw), against the projected eye distance. A turn of
 * theta shrinks the eye distance by cos(theta) and moves the nose by depth*sin(theta).
 */
export function yawDeg(landmarks: readonly Point[]): number {
  const [l, r, nose] = landmarks as [Point, Point, Point];
  const ex = r[0] - l[0], ey = r[1] - l[1];
  const eyeDist = Math.hypot(ex, ey);
  if (eyeDist === 0) return 90;
  const mx = (l[0] + r[0]) / 2, my = (l[1] + r[1]) / 2;
  const along = ((nose[0] - mx) * ex + (nose[1] - my) * ey) / eyeDist;
  return (Math.atan2(along, NOSE_DEPTH_PER_EYE_DISTANCE * eyeDist) * 180) / Math.PI;
}
