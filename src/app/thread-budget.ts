// How many threads each pool gets, from the core count: onnxruntime's intra-op threads
// (models.threads, set in the config), libvips (sharp) for the detector's resize and JPEG
// decodes, the libuv pool (set before it starts, in bin/gate-agent.js), and the gallery's
// loader threads. The inference workers (vision.inferenceWorkers) each run models.threads
// onnxruntime threads, and with two or more camera frames are in the models at once, so
// workers x threads is what competes for the cores; more than the cores is reported at
// start. The figures behind the defaults are in docs/benchmarks.md.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';

export interface ThreadBudget {
  cores: number;
  /** Inference worker threads (1 for the models on the event loop). */
  inferenceWorkers: number;
  /** onnxruntime intra-op threads per model run (models.threads). */
  onnxThreads: number;
  /** inferenceWorkers x onnxThreads: the inference threads that may run at once. */
  inferenceThreads: number;
  /** libvips threads per image operation (sharp.concurrency). */
  imageThreads: number;
  /** Gallery loader threads. */
  loadWorkers: number;
}

/** The budget for this many cores; 0 in a setting means "derive it". */
export function threadBudget(
  settings: { imageThreads: number; loadWorkers: number; inferenceWorkers?: number; onnxThreads?: number },
  cores = availableParallelism(),
): ThreadBudget {
  const inferenceWorkers = settings.inferenceWorkers ?? 1;
  const onnxThreads = settings.onnxThreads ?? 1;
  return {
    cores,
    inferenceWorkers,
    onnxThreads,
    inferenceThreads: inferenceWorkers * onnxThreads,
    // One resize per frame, and frames spread over the workers: a 640x480 resize gains nothing from more threads, and
    // each extra one takes a core from the next inference (measured, docs/benchmarks.md).
    imageThreads: settings.imageThreads || 1,
    loadWorkers: settings.loadWorkers || Math.min(4, cores),
  };
}

/** libvips: the budget's threads, and no operation cache (every camera frame is new). */
export function applyImageThreads(n: number): void {
  sharp.concurrency(n);
  sharp.cache(false);
}

/** The libuv pool size for a process on this many cores (sharp's work and file I/O run there). */
export function uvThreadpoolSize(cores = availableParallelism()): number {
  return Math.max(2, Math.min(4, cores));
}

/** A line for the log when the inference threads outnumber the cores (null when they fit). */
export function oversubscribed(b: ThreadBudget): string | null {
  if (b.inferenceThreads <= b.cores) return null;
  return `${b.inferenceWorkers} inference workers x ${b.onnxThreads} onnxruntime threads = ${b.inferenceThreads} threads on ${b.cores} cores: frames in the models at once take turns on the cores (set vision.inferenceWorkers x models.threads <= ${b.cores}; see docs/benchmarks.md)`;
}
