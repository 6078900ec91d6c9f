// The validated config, as the rest of the program sees it (mirrors schema.ts).
export interface Config {
  version: number;
  gateId: string;
  siteId: string;
  dataDir: string;
  models: {
    dir: string | null;
    detector: string;
    detectorInputPx: number;
    embedder: string;
    threads: number;
    verifyHashes: boolean;
  };
  vision: {
    scoreThreshold: number;
    nmsIou: number;
    emptyRetryPadRatio: number;
    maxImagePixels: number;
    maxEmbedBatch: number;
  };
  quality: { minInterEyePx: number; maxYawDeg: number; minSharpness: number };
  match: { threshold: number; margin: number; rescoreTop: number; threads: number };
  store: { keyFile: string | null; keepEnrollmentPhotos: boolean; purgeGraceHours: number };
}
