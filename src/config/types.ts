// The validated config, as the rest of the program sees it (mirrors schema.ts).
import type { RelayOptions } from '../relay/types.js';
import type { PublishOptions } from '../publish/options.js';
import type { ApiConfig } from '../api/api-config.js';
import type { SyncConfig } from '../sync/config.js';
import type { GatePolicyOptions } from '../gate/policy.js';
import type { LivenessOptions } from '../gate/liveness.js';
import type { GateModeOptions } from '../gate/modes.js';
import type { IdentificationConfig } from '../match/identification-config.js';
import type { FleetOptions } from '../fleet/options.js';

export interface CameraConfig {
  kind: 'auto' | 'v4l2' | 'rtsp' | 'webcam' | 'replay';
  device: string;
  url: string | null;
  path: string | null;
  loop: boolean;
  realtime: boolean;
  fps: number;
  widthPx: number;
  heightPx: number;
  stallTimeoutMs: number;
  restartBackoffMinMs: number;
  restartBackoffMaxMs: number;
  /** auto: raw for rtsp and video replay, mjpeg for v4l2. */
  frameFormat: 'auto' | 'raw' | 'mjpeg';
}

export interface Config {
  event: { id: string | null };
  camera: CameraConfig;
  relay: RelayOptions;
  mqtt: Omit<PublishOptions, 'brokerUrl'> & { brokerUrl: string | null };
  api: ApiConfig & { enabled: boolean; host: string; port: number; maxGateActivities: number; summaryFlushMs: number };
  sync: SyncConfig;
  gate: GatePolicyOptions & GateModeOptions;
  liveness: LivenessOptions;
  fleet: FleetOptions;
  daemon: { shutdownDeadlineMs: number; purgeIntervalMs: number; maxFacesPerFrame: number; retryEmptyFrames: boolean; statusIntervalMs: number; statusFpsWindowMs: number };
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
    /** libvips threads; 0: derived from the core count (app/thread-budget.ts). */
    imageThreads: number;
    /** Face models in a worker thread (vision/worker-pipeline.ts), off the event loop. */
    inferenceWorker: boolean;
    /** After a camera frame with a face, API and background inference wait this long. */
    passageHoldMs: number;
    /** Longest an API recognition waits for the camera to leave the models a turn. */
    apiMaxWaitMs: number;
    workerRestartMinMs: number;
    workerRestartMaxMs: number;
  };
  quality: { minInterEyePx: number; maxYawDeg: number; minSharpness: number };
  match: { threshold: number; margin: number; rescoreTop: number; threads: number; loadWorkers: number };
  identification: IdentificationConfig;
  store: { keyFile: string | null; keepEnrollmentPhotos: boolean; purgeGraceHours: number; purgeBatchRows: number };
}
