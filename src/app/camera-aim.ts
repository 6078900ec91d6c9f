// Aiming the camera: each face of a snapshot against the gate's own quality checks, what
// would make a failing one pass, and the boxes drawn onto the picture. The verdicts come
// from match/quality-gate.ts, so a face shown as passing here passes at the gate.
import sharp from 'sharp';
import type { Config } from '../config/types.js';
import { qualityChecks, type QualityCheck } from '../match/quality-gate.js';
import type { Face } from '../vision/types.js';

export interface AimCheck extends QualityCheck {
  /** For a failing check: the measure, the setting, and what change at the camera would pass it. */
  hint: string | null;
}

export interface AimFace {
  box: [number, number, number, number];
  score: number;
  landmarks: [number, number][];
  interEyePx: number;
  yawDeg: number;
  sharpness: number;
  /** Passes every quality.* setting: the gate would try to match it. */
  pass: boolean;
  /** The gate's own reason for skipping the face (the first failing check), or null. */
  problem: string | null;
  checks: AimCheck[];
}

const r1 = (v: number): number => Math.round(v * 10) / 10;

/** What to change at the camera so that a face failing `c` would pass it. */
export function hintFor(c: QualityCheck): string | null {
  if (c.pass) return null;
  switch (c.key) {
    case 'quality.minInterEyePx': {
      const grow = c.value > 0 ? c.limit / c.value : Infinity;
      const size = Number.isFinite(grow) ? `the face must be ${grow.toFixed(1)}x larger in the picture: ` : '';
      const closer = Number.isFinite(grow) ? ` (to about ${Math.floor(100 / grow)}% of its distance to this face)` : '';
      return `eye distance ${c.value.toFixed(0)} px, needs >= ${c.limit}: ${size}move the camera closer${closer} or zoom in, or raise camera.widthPx/heightPx if the camera offers more`;
    }
    case 'quality.maxYawDeg':
      return `head turned ${c.value.toFixed(0)}°, needs <= ${c.limit}°: mount the camera in line with the way people walk up, facing them, not off to the side`;
    case 'quality.minSharpness':
      return `sharpness ${c.value.toFixed(0)}, needs >= ${c.limit}: focus and clean the lens, add light so the exposure is shorter (walking people blur), or place the camera where faces are in focus`;
  }
}

export function aimFace(f: Face, q: Config['quality']): AimFace {
  const checks = qualityChecks(f, q).map((c) => ({ ...c, value: r1(c.value), hint: hintFor(c) }));
  const failing = checks.find((c) => !c.pass);
  return {
    box: f.box.map(r1) as AimFace['box'],
    score: Math.round(f.score * 1000) / 1000,
    landmarks: f.landmarks.map(([x, y]) => [r1(x), r1(y)]),
    interEyePx: r1(f.interEyePx),
    yawDeg: r1(f.yawDeg),
    sharpness: r1(f.sharpness),
    pass: failing === undefined,
    problem: failing?.problem ?? null,
    checks,
  };
}

/** Box colours: the gate would use the face, or would skip it. */
export const BOX_COLOURS = { pass: '#00ff00', fail: '#ff0000', landmark: '#ffff00' } as const;

/** The boxes and landmarks as an SVG the size of the frame; strokes scale with it. */
export function annotationSvg(width: number, height: number, faces: readonly AimFace[]): string {
  const stroke = Math.max(3, Math.round(Math.min(width, height) / 160));
  const parts = faces.map((f) => {
    const [x1, y1, x2, y2] = f.box;
    const colour = f.pass ? BOX_COLOURS.pass : BOX_COLOURS.fail;
    const dots = f.landmarks.map(([x, y]) => `<circle cx="${x}" cy="${y}" r="${stroke}" fill="${BOX_COLOURS.landmark}"/>`).join('');
    return `<rect x="${x1}" y="${y1}" width="${Math.max(1, x2 - x1)}" height="${Math.max(1, y2 - y1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>${dots}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/** The frame with the faces drawn on it, as a JPEG. */
export async function annotateJpeg(jpeg: Buffer, width: number, height: number, faces: readonly AimFace[]): Promise<Buffer> {
  return sharp(jpeg)
    .rotate() // the detector saw the picture upright (EXIF applied); draw on the same
    .composite([{ input: Buffer.from(annotationSvg(width, height, faces)), top: 0, left: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}
