// SCRFD output decoding, pure. Facts from shared/models/MODELS.md: strides 8/16/32,
// two anchors per cell centred at (x*s, y*s); boxes are (l, t, r, b) distances and
// landmarks (dx, dy) offsets, both in units of the stride; outputs come ordered
// scores(8,16,32), boxes(8,16,32), landmarks(8,16,32).
import type { Detection, Point } from './types.js';

export const STRIDES = [8, 16, 32] as const;
const ANCHORS_PER_CELL = 2;

export interface Letterbox {
  /** Network input size (square, multiple of 32). */
  inputPx: number;
  /** Image pixels are multiplied by this to get network pixels. */
  scale: number;
  resizedWidth: number;
  resizedHeight: number;
}

/** Keep aspect ratio, scale to fit (never above maxScale), pad right and bottom. */
export function letterbox(width: number, height: number, inputPx: number, maxScale = Infinity): Letterbox {
  const scale = Math.min(inputPx / width, inputPx / height, maxScale);
  return {
    inputPx,
    scale,
    resizedWidth: Math.max(1, Math.min(inputPx, Math.round(width * scale))),
    resizedHeight: Math.max(1, Math.min(inputPx, Math.round(height * scale))),
  };
}

export interface ScrfdOutputs {
  /** [scores8, scores16, scores32] each of length cells*2 */
  scores: Float32Array[];
  /** [boxes8, boxes16, boxes32] each of length cells*2*4 */
  boxes: Float32Array[];
  /** [kps8, kps16, kps32] each of length cells*2*10 */
  landmarks: Float32Array[];
}

/**
 * Decode all three strides into detections in network-input pixels, keeping those
 * at or above the score threshold. Coordinates are divided by `scale` so the result
 * is in the original image's pixels.
 */
export function decodeScrfd(out: ScrfdOutputs, inputPx: number, scale: number, scoreThreshold: number): Detection[] {
  const dets: Detection[] = [];
  STRIDES.forEach((stride, si) => {
    const scores = out.scores[si];
    const boxes = out.boxes[si];
    const kps = out.landmarks[si];
    if (!scores || !boxes || !kps) throw new Error(`SCRFD output for stride ${stride} is missing`);
    const cols = Math.ceil(inputPx / stride);
    for (let i = 0; i < scores.length; i++) {
      const score = scores[i]!;
      if (score < scoreThreshold) continue;
      const cell = Math.floor(i / ANCHORS_PER_CELL);
      const cx = (cell % cols) * stride;
      const cy = Math.floor(cell / cols) * stride;
      const b = i * 4;
      const k = i * 10;
      const lm = (j: number): Point => [(cx + kps[k + 2 * j]! * stride) / scale, (cy + kps[k + 2 * j + 1]! * stride) / scale];
      dets.push({
        box: [
          (cx - boxes[b]! * stride) / scale,
          (cy - boxes[b + 1]! * stride) / scale,
          (cx + boxes[b + 2]! * stride) / scale,
          (cy + boxes[b + 3]! * stride) / scale,
        ],
        score,
        landmarks: [lm(0), lm(1), lm(2), lm(3), lm(4)],
      });
    }
  });
  return dets;
}

export function iou(a: Detection['box'], b: Detection['box']): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy non-maximum suppression, highest score first. */
export function nms(dets: Detection[], iouThreshold: number): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const keep: Detection[] = [];
  for (const d of sorted) {
    if (keep.every((k) => iou(k.box, d.box) <= iouThreshold)) keep.push(d);
  }
  return keep;
}

export function boxArea(box: Detection['box']): number {
  return Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]);
}

/** Clip a box to the image and order faces largest first. */
export function finalizeDetections(dets: Detection[], width: number, height: number): Detection[] {
  return dets
    .map((d) => ({
      ...d,
      box: [
        Math.max(0, Math.min(width, d.box[0])),
        Math.max(0, Math.min(height, d.box[1])),
        Math.max(0, Math.min(width, d.box[2])),
        Math.max(0, Math.min(height, d.box[3])),
      ] as Detection['box'],
    }))
    .filter((d) => boxArea(d.box) > 0)
    .sort((a, b) => boxArea(b.box) - boxArea(a.box));
}
