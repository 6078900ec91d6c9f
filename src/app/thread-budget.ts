// How many threads each pool gets, from the core count: onnxruntime's intra-op threads
// (models.threads, set in the config), libvips (sharp) for the detector's resize and JPEG
// decodes, the libuv pool (set before it starts, in bin/gate-agent.js), and the gallery's
// loader threads. The frame loop runs its stages one after another, so the pools take
// turns rather than competing; the figures behind the defaults are in docs/benchmarks.md.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';

export interface ThreadBudget {
  cores: number;
  /** libvips threads per image operation (sharp.concurrency). */
  imageThreads: number;
  /** Gallery loader threads. */
  loadWorkers: number;
}

/** The budget for this many cores; 0 in a setting means "derive it". */
export function threadBudget(settings: { imageThreads: number; loadWorkers: number }, cores = availableParallelism()): ThreadBudget {
  return {
    cores,
    // One camera frame at a time: a 640x480 resize gains nothing from more threads, and
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
