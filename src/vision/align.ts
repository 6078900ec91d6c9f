// 5-point similarity alignment to the ArcFace template and a bilinear warp that
// writes the embedder's normalised CHW tensor directly (one pass, no temp image).
import type { Point, RgbImage } from './types.js';

export const ARCFACE_SIZE = 112;

/** ArcFace reference landmarks for a 112x112 crop (insightface arcface_dst). */
export const ARCFACE_TEMPLATE: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** dst = [a -b; b a] * src + [tx; ty]: rotation, uniform scale, translation. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * Least-squares similarity transform mapping src onto dst (Umeyama 1991 without
 * reflection); the same estimate insightface gets from skimage's SimilarityTransform.
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  if (n !== dst.length || n < 2) throw new Error('estimateSimilarity needs two equal lists of at least 2 points');
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; i++) {
    msx += src[i]![0]; msy += src[i]![1];
    mdx += dst[i]![0]; mdy += dst[i]![1];
  }
  msx /= n; msy /= n; mdx /= n; mdy /= n;
  let num1 = 0, num2 = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - msx, py = src[i]![1] - msy;
    const qx = dst[i]![0] - mdx, qy = dst[i]![1] - mdy;
    num1 += px * qx + py * qy;
    num2 += px * qy - py * qx;
    den += px * px + py * py;
  }
  if (den === 0) throw new Error('estimateSimilarity: all source points coincide');
  const a = num1 / den;
  const b = num2 / den;
  return { a, b, tx: mdx - (a * msx - b * msy), ty: mdy - (b * msx + a * msy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

/**
 * Warp the face into a 112x112 crop and write it as (x - mean) / std in planar RGB
 * at `out[offset..offset + 3*112*112)`. Pixels outside the source are black, as
 * cv2.warpAffine's default border in the reference pipeline.
 */
export function warpToTensor(
  img: RgbImage,
  t: Similarity,
  out: Float32Array,
  offset: number,
  mean = 127.5,
  std = 127.5,
  size = ARCFACE_SIZE,
): void {
  // Inverse of [a -b; b a]: [a b; -b a] / (a^2 + b^2)
  const det = t.a * t.a + t.b * t.b;
  const ia = t.a / det, ib = t.b / det;
  const { data, width, height } = img;
  const plane = size * size;
  const black = (0 - mean) / std;
  for (let v = 0; v < size; v++) {
    const dy = v - t.ty;
    for (let u = 0; u < size; u++) {
      const dx = u - t.tx;
      const sx = ia * dx + ib * dy;
      const sy = -ib * dx + ia * dy;
      const o = offset + v * size + u;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= width || y0 >= height) {
        out[o] = black; out[o + plane] = black; out[o + 2 * plane] = black;
        continue;
      }
      const fx = sx - x0, fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      const in0 = y0 >= 0, in1 = y0 + 1 < height, inl = x0 >= 0, inr = x0 + 1 < width;
      const p00 = in0 && inl ? (y0 * width + x0) * 3 : -1;
      const p10 = in0 && inr ? (y0 * width + x0 + 1) * 3 : -1;
      const p01 = in1 && inl ? ((y0 + 1) * width + x0) * 3 : -1;
      const p11 = in1 && inr ? ((y0 + 1) * width + x0 + 1) * 3 : -1;
      for (let c = 0; c < 3; c++) {
        const val =
          (p00 >= 0 ? data[p00 + c]! * w00 : 0) +
          (p10 >= 0 ? data[p10 + c]! * w10 : 0) +
          (p01 >= 0 ? data[p01 + c]! * w01 : 0) +
          (p11 >= 0 ? data[p11 + c]! * w11 : 0);
        out[o + c * plane] = (val - mean) / std;
      }
    }
  }
}

/** Variance of the 4-neighbour Laplacian over the grey version of a normalised CHW crop, in 0..255 grey units. */
export function sharpnessOfTensor(t: Float32Array, offset: number, mean = 127.5, std = 127.5, size = ARCFACE_SIZE): number {
  const plane = size * size;
  const grey = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    grey[i] = ((t[offset + i]! + t[offset + plane + i]! + t[offset + 2 * plane + i]!) / 3) * std + mean;
  }
  let sum = 0, sumSq = 0, n = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const i = y * size + x;
      const lap = grey[i - 1]! + grey[i + 1]! + grey[i - size]! + grey[i + size]! - 4 * grey[i]!;
      sum += lap; sumSq += lap * lap; n++;
    }
  }
  const m = sum / n;
  return sumSq / n - m * m;
}
