// The inference worker thread: the detector, embedder and liveness sessions live here, so
// onnxruntime's session.run, which runs synchronously on its calling thread, never holds
// the gate's event loop (MQTT, the API, the watchdog). One request at a time, in the order
// the client's lane queue sends them (worker-pipeline.ts); pixels arrive and go back in
// the transfer list, never copied.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ArcfaceEmbedder, type ArcfaceOptions } from './embedder.js';
import { ScrfdDetector, type ScrfdOptions } from './detector.js';
import { MiniFasnet, type MiniFasnetModel } from './minifasnet.js';
import { FacePipeline, type AnalyzeOptions, type AnalyzeResult } from './pipeline.js';
import type { Detection, RgbImage } from './types.js';
import { errorText } from '../errors.js';

export interface InferenceWorkerData {
  detector: ScrfdOptions;
  embedder: ArcfaceOptions;
  /** Liveness models (null: liveness off), run with `threads` intra-op threads each. */
  liveness: { models: MiniFasnetModel[]; threads: number } | null;
  maxImagePixels: number;
}

/** Options that cross the thread boundary (no functions). */
export type WireAnalyzeOptions = Omit<AnalyzeOptions, 'chooseFaces' | 'lane'>;

export type InferenceRequest =
  | { id: number; op: 'analyze'; image: RgbImage; opts: WireAnalyzeOptions }
  | { id: number; op: 'liveness'; image: RgbImage; box: Detection['box'] }
  /** End the thread with `code` once the job in hand is answered (a fault drill, or stop). */
  | { id: number; op: 'exit'; code: number };

export type InferenceReply =
  | { id: number; ok: true; pixels: Uint8Array; result?: AnalyzeResult; score?: number }
  | { id: number; ok: false; pixels: Uint8Array; message: string };

export type WorkerStartup = { ready: true } | { ready: false; message: string };

/** The buffer that can move `view`'s bytes to another thread: its own, or a copy when it shares one. */
export function transferable(view: Uint8Array): Uint8Array {
  const buf = view.buffer;
  if (buf instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buf.byteLength) return view;
  return new Uint8Array(view);
}

async function main(port: NonNullable<typeof parentPort>, data: InferenceWorkerData): Promise<void> {
  const pipeline = new FacePipeline(new ScrfdDetector(data.detector), new ArcfaceEmbedder(data.embedder), { maxPixels: data.maxImagePixels });
  const liveness = data.liveness ? new MiniFasnet(data.liveness.models, data.liveness.threads) : null;
  try {
    await pipeline.start();
    await liveness?.start();
  } catch (err) {
    port.postMessage({ ready: false, message: errorText(err) } satisfies WorkerStartup);
    return;
  }
  // The job in hand. The thread never ends in the middle of one: onnxruntime-node aborts
  // the whole process when a worker is terminated while session.run is in progress (its
  // binding throws a C++ Napi::Error into the dead environment), so exits wait for it.
  let current: Promise<unknown> = Promise.resolve();
  port.on('message', (req: InferenceRequest) => {
    if (req.op === 'exit') {
      void current.finally(() => process.exit(req.code));
      return;
    }
    const pixels = req.image.data;
    const answer = async (): Promise<InferenceReply> => {
      if (req.op === 'analyze') return { id: req.id, ok: true, pixels, result: await pipeline.analyze(req.image, req.opts) };
      if (!liveness) throw new Error('liveness is off in this inference worker');
      return { id: req.id, ok: true, pixels, score: await liveness.score(req.image, req.box) };
    };
    current = answer().then(
      (reply) => port.postMessage(reply, [reply.pixels.buffer as ArrayBuffer]),
      (err: Error) => port.postMessage({ id: req.id, ok: false, pixels, message: err.message } satisfies InferenceReply, [pixels.buffer as ArrayBuffer]),
    );
  });
  port.postMessage({ ready: true } satisfies WorkerStartup);
}

if (!isMainThread && parentPort) void main(parentPort, workerData as InferenceWorkerData);
