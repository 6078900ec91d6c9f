// Shapes shared by the vision stages.

/** Decoded image: tightly packed 8-bit RGB, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type Point = [number, number];

/** A detected face in image pixel coordinates. */
export interface Detection {
  box: [number, number, number, number];
  score: number;
  /** left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the image). */
  landmarks: [Point, Point, Point, Point, Point];
}

/** Capture-quality measures later gates use to reject poor captures. */
export interface FaceQuality {
  /** Distance between the eye landmarks, in source-image pixels. */
  interEyePx: number;
  /** Head turn estimated from the landmarks, degrees; 0 = frontal, sign = direction. */
  yawDeg: number;
  /** Variance of the Laplacian of the aligned 112x112 grey face; higher = sharper. */
  sharpness: number;
}

export interface Face extends Detection, FaceQuality {
  embedding?: Float32Array;
}

export interface AnalyzedImage {
  width: number;
  height: number;
  faces: Face[];
}
