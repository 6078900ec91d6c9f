// Is a face good enough to match or enroll? (pure)
import type { Config } from '../config/types.js';
import type { FaceQuality } from '../vision/types.js';

/** One `quality.*` setting applied to one face. */
export interface QualityCheck {
  /** The config key, e.g. quality.minInterEyePx. */
  key: 'quality.minInterEyePx' | 'quality.maxYawDeg' | 'quality.minSharpness';
  /** The face's measure: eye distance in px, |yaw| in degrees, or sharpness. */
  value: number;
  /** The setting's value. */
  limit: number;
  pass: boolean;
  /** What the gate says when this check fails (what is wrong and what to do); null when it passes. */
  problem: string | null;
}

/** Every quality setting against the face, in the order the gate applies them. */
export function qualityChecks(f: FaceQuality, q: Config['quality']): QualityCheck[] {
  const yaw = Math.abs(f.yawDeg);
  const small = f.interEyePx < q.minInterEyePx;
  const turned = yaw > q.maxYawDeg;
  const blurred = f.sharpness < q.minSharpness;
  return [
    {
      key: 'quality.minInterEyePx',
      value: f.interEyePx,
      limit: q.minInterEyePx,
      pass: !small,
      problem: small ? `face too small (${f.interEyePx.toFixed(0)} px between the eyes, need ${q.minInterEyePx}); come closer or use a larger photo` : null,
    },
    {
      key: 'quality.maxYawDeg',
      value: yaw,
      limit: q.maxYawDeg,
      pass: !turned,
      problem: turned ? `head turned too far (${yaw.toFixed(0)}°, at most ${q.maxYawDeg}°); face the camera` : null,
    },
    {
      key: 'quality.minSharpness',
      value: f.sharpness,
      limit: q.minSharpness,
      pass: !blurred,
      problem: blurred ? `image too blurred (sharpness ${f.sharpness.toFixed(0)}, need ${q.minSharpness}); hold still or use a sharper photo` : null,
    },
  ];
}

/** A sentence saying what is wrong and what to do, or null when the face is usable. */
export function qualityProblem(f: FaceQuality, q: Config['quality']): string | null {
  return qualityChecks(f, q).find((c) => !c.pass)?.problem ?? null;
}
