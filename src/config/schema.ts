// The config schema: every key with a description, type, default and example. Numbers that
// matter carry their unit in the key name. The sections a component takes as its options
// live in sections/ (with their rules across keys); `Config` is this schema's type (types.ts).
import { Type } from '@sinclair/typebox';
import { bool, int, intOneOf, num, oneOf, section, str, strOrNull } from './schema-kit.js';
import { apiSchema } from './sections/api.js';
import { cameraSchema } from './sections/camera.js';
import { fleetSchema } from './sections/fleet.js';
import { gateSchema } from './sections/gate.js';
import { identificationSchema } from './sections/identification.js';
import { livenessSchema } from './sections/liveness.js';
import { mqttSchema } from './sections/mqtt.js';
import { relaySchema } from './sections/relay.js';
import { syncSchema } from './sections/sync.js';

export type { SchemaNode } from './schema-kit.js';

export const CONFIG_VERSION = 1;

export const configSchema = Type.Object(
  {
    version: int({ description: 'Config format version; older versions are migrated on load.', default: CONFIG_VERSION, minimum: 0, maximum: CONFIG_VERSION, examples: [CONFIG_VERSION] }),
    gateId: str({ description: 'This gate\'s id, unique within the site; used in MQTT topics and results.', default: 'gate-1', minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', examples: ['north-entrance-1'] }),
    siteId: str({ description: 'The venue/site id; used in MQTT topics and results.', default: 'site-1', minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', examples: ['arena-berlin'] }),
    dataDir: str({ description: 'Folder for the SQLite database and other state. Overridden by --data-dir or GATE_AGENT_DATA_DIR.', default: './data', minLength: 1, examples: ['/var/lib/gate-agent'] }),
    event: section('Which event\'s attendees this gate admits.', {
      id: strOrNull({ description: 'Event id; null picks the current event by schedule (the cached event whose time window, with gate.earlyOpenMinutes, contains now).', default: null, examples: ['gala-2026'] }),
    }),
    camera: cameraSchema,
    relay: relaySchema,
    mqtt: mqttSchema,
    api: apiSchema,
    sync: syncSchema,
    gate: gateSchema,
    liveness: livenessSchema,
    fleet: fleetSchema,
    daemon: section('The daemon\'s own timings.', {
      shutdownDeadlineMs: int({ description: 'A graceful stop taking longer than this is cut short (the relay is made safe first either way).', default: 10000, minimum: 100, examples: [10000] }),
      purgeIntervalMs: int({ description: 'How often expired events are purged and the current event re-checked, in ms.', default: 60000, minimum: 1000, examples: [60000] }),
      maxFacesPerFrame: int({ description: 'Faces embedded and matched per frame, largest first.', default: 2, minimum: 1, maximum: 16, examples: [2] }),
      statusIntervalMs: int({ description: 'How often the daemon writes <dataDir>/status.json for `gate-agent status`, in ms (also on every health change). `gate-agent status` calls a snapshot older than 5 intervals stale.', default: 1000, minimum: 100, maximum: 60000, examples: [1000] }),
      statusFpsWindowMs: int({ description: 'The camera frame rate in status.json counts the frames of this many last ms.', default: 5000, minimum: 1000, maximum: 60000, examples: [5000] }),
      retryEmptyFrames: bool({ description: 'When a camera frame has no face, run the detector again on a bordered copy (vision.emptyRetryPadRatio). Off: an empty entrance, the common case, costs one detector run. On only when the camera sees faces that fill the whole frame (tight crops replayed as frames).', default: false, examples: [false] }),
    }),
    models: section('Which face models to load and where from.', {
      dir: strOrNull({ description: 'Folder holding the model files. Overridden by --models-dir or GATE_AGENT_MODELS_DIR; null means the project\'s models/ folder.', default: null, examples: ['/var/lib/gate-agent/models'] }),
      detector: oneOf(['scrfd_500m_kps', 'scrfd_2.5g_kps'], { description: 'Detector model id from models/manifest.json.', default: 'scrfd_500m_kps', examples: ['scrfd_500m_kps'] }),
      detectorInputPx: intOneOf([320, 480, 640], { description: 'Square detector input size in pixels; smaller is faster, larger finds smaller faces.', default: 640, examples: [640] }),
      embedder: oneOf(['arcface_mbf_w600k_int8', 'arcface_mbf_w600k'], { description: 'Embedder model id from models/manifest.json; every stored embedding is tagged with it.', default: 'arcface_mbf_w600k_int8', examples: ['arcface_mbf_w600k_int8'] }),
      threads: int({ description: 'onnxruntime threads per model run. 0: derived from the core count: the cores shared among the inference workers (vision.inferenceWorkers; cores / workers, at least 1, at most 4), so that the frames in the models at once do not take turns on the cores; the one-shot CLI commands get the cores (at most 4). Measured in docs/benchmarks.md (bench:gate).', default: 0, minimum: 0, maximum: 64, examples: [1] }),
      verifyHashes: bool({ description: 'Check each model file\'s SHA-256 against the manifest when loading.', default: true, examples: [true] }),
    }),
    vision: section('Face detection and image decoding.', {
      scoreThreshold: num({ description: 'Minimum detector score for a face.', default: 0.5, minimum: 0, maximum: 1, examples: [0.5] }),
      nmsIou: num({ description: 'Overlap (IoU) above which two detections are the same face.', default: 0.4, minimum: 0, maximum: 1, examples: [0.4] }),
      emptyRetryPadRatio: num({ description: 'When no face is found, look again inside a black border of this fraction of the image\'s longer side (finds faces that fill the whole frame); 0 disables.', default: 0.5, minimum: 0, maximum: 2, examples: [0.5] }),
      detectAtImageSize: bool({ description: 'Detect an image smaller than models.detectorInputPx at its own size (its longer side rounded up to a multiple of 32, padded) instead of enlarging it to detectorInputPx: enlarging adds no detail, and the detector\'s work grows with the square of its input (a 150x150 enrollment crop costs a 160 px run instead of a 640 px one). Camera frames at least as large as detectorInputPx are unchanged. Off: every image is scaled to detectorInputPx.', default: true, examples: [true] }),
      maxImagePixels: int({ description: 'Largest image (width x height) accepted; larger ones are refused before decoding.', default: 40000000, minimum: 1, examples: [40000000] }),
      maxEmbedBatch: int({ description: 'Faces embedded in one model run.', default: 8, minimum: 1, maximum: 64, examples: [8] }),
      imageThreads: int({ description: 'libvips (sharp) threads per image operation: the detector\'s resize and JPEG decodes in the gate\'s process. 0: derived from the core count (1: frames are handled one at a time, see docs/benchmarks.md). The daemon also turns off sharp\'s operation cache, as every camera frame is new.', default: 0, minimum: 0, maximum: 64, examples: [1] }),
      inferenceWorker: bool({ description: 'Run the face models (detector, embedder, liveness) in a worker thread: onnxruntime runs each model synchronously on its calling thread, and in the worker that thread is not the one serving MQTT, the API and the watchdog. Camera frames go ahead of API work in its queue. Off: the models run on the event loop (as before; for debugging). One-shot CLI commands (detect, compare, eval) always run them in their own thread.', default: true, examples: [true] }),
      inferenceWorkers: int({ description: 'Inference worker threads (with vision.inferenceWorker on), each with its own model sessions of models.threads threads (0: the cores shared among the workers): with 2 or more, that many camera frames are in the models at once (their results are applied in capture order), so a frame never waits in the newest-frame slot for the previous frame\'s models; each worker loads its own sessions. 1 by default: on 2 cores two workers raised the frame rate but not frame-to-relay latency, which the frames in the models at once share the cores for (docs/benchmarks.md). A crashed worker is restarted while the others keep serving.', default: 1, minimum: 1, maximum: 16, examples: [2] }),
      passageHoldMs: int({ description: 'After a camera frame with a face in it, API recognitions and enrollment photos wait this long for the face models (someone is walking up: each of their frames counts). Between frames of an empty entrance one API recognition runs at a time. The hold bridges a frame where the detector misses the face.', default: 500, minimum: 0, maximum: 60000, examples: [500] }),
      apiMaxWaitMs: int({ description: 'Longest an API recognition waits for its turn at the face models while the camera keeps them busy; then it is answered 503 with Retry-After.', default: 3000, minimum: 1, maximum: 60000, examples: [3000] }),
      backgroundMaxWaitMs: int({ description: 'Longest an enrollment photo of a sync waits for the face models while people keep walking up; then it runs in the next gap between two camera frames, one per gap (a sync page is applied, its deletions included, only once its photos are embedded).', default: 5000, minimum: 1, maximum: 600000, examples: [5000] }),
      workerRestartMinMs: int({ description: 'First wait before the inference worker is started again after a crash, ms; doubled for each crash in a row, up to workerRestartMaxMs. Nothing is decided (the door stays shut) while it is down.', default: 500, minimum: 0, maximum: 600000, examples: [500] }),
      workerRestartMaxMs: int({ description: 'Longest wait between restarts of a crashing inference worker, ms.', default: 30000, minimum: 0, maximum: 600000, examples: [30000] }),
    }),
    quality: section('Capture quality a face must have to be matched or enrolled.', {
      minInterEyePx: num({ description: 'Smallest distance between the eyes, in image pixels.', default: 24, minimum: 0, examples: [24] }),
      maxYawDeg: num({ description: 'Largest head turn estimated from the landmarks, degrees.', default: 40, minimum: 0, maximum: 90, examples: [40] }),
      minSharpness: num({ description: 'Smallest sharpness (variance of the Laplacian of the aligned face).', default: 15, minimum: 0, examples: [15] }),
    }),
    match: section('How a face is matched to an attendee.', {
      threshold: num({ description: 'Cosine similarity above which a face can match an attendee.', default: 0.34, minimum: -1, maximum: 1, examples: [0.34] }),
      margin: num({ description: 'How far the best attendee must score above the best different attendee.', default: 0.05, minimum: 0, maximum: 2, examples: [0.05] }),
      rescoreTop: int({ description: 'Embeddings re-scored exactly after the fast int8 gallery scan.', default: 32, minimum: 2, maximum: 1024, examples: [32] }),
      threads: int({ description: 'Threads for the gallery scan.', default: 1, minimum: 1, maximum: 64, examples: [2] }),
      loadWorkers: int({ description: 'Worker threads that read, decrypt and quantise an event\'s gallery in slices, off the gate\'s loop (at start, and after another process changed the attendees); 0: one per CPU core, at most 4.', default: 0, minimum: 0, maximum: 16, examples: [2] }),
    }),
    identification: identificationSchema,
    store: section('The local attendee cache (SQLite in dataDir).', {
      keyFile: strOrNull({ description: 'File holding the 256-bit key that encrypts embeddings, KYC data and kept photos (AES-256-GCM); GATE_AGENT_STORE_KEY overrides it. null: not encrypted.', default: null, examples: ['/etc/gate-agent/store.key'] }),
      keepEnrollmentPhotos: bool({ description: 'Keep enrollment photos (encrypted when a key is set) so attendees can be re-embedded after a model change. Off by default: photos are biometric data.', default: false, examples: [false] }),
      purgeGraceHours: num({ description: 'Hours after an event ends before its attendees and embeddings are deleted.', default: 24, minimum: 0, examples: [24] }),
      purgeBatchRows: int({ description: 'Rows the daemon deletes per step when it purges an ended event, yielding to frames, MQTT and the API between steps (one step of 1000 embeddings takes a few ms).', default: 1000, minimum: 1, maximum: 100000, examples: [1000] }),
    }),
  },
  { additionalProperties: false },
);
