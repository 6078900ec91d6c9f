// onnxruntime sessions: created once per model and reused for every frame.
import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** Threads for one inference (intra-op). */
  threads: number;
}

export async function createSession(path: string, opts: SessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // 3 = errors only. SCRFD-500M declares 640x640 output shapes, so every other input
    // size, and ArcFace batches > 1 (declared [1,512]), log a shape warning per run.
    logSeverityLevel: 3,
    // No busy-waiting between runs: the detector's idle threads would otherwise spin
    // while the embedder runs (and the reverse), which measured 30% slower per frame.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
}

export { ort };
