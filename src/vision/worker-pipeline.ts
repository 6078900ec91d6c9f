// The face pipeline in a worker thread (inference-worker.ts), behind the same calls as the
// in-process FacePipeline. Work is ordered by the lane queue (lanes.ts: camera frames
// first), one job at a time; pixel buffers move to the worker and back in the transfer
// list. A worker that dies (an uncaught exception, an out-of-memory) fails the job it was
// running and every queued one, is reported ('crash') and started again after a
// backoff ('restarted'); meanwhile every call fails at once with InferenceUnavailableError,
// so the gate decides nothing, and opens nothing, until it is back.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { decodeImage, type DecodeOptions } from './image.js';
import { transferable, type InferenceReply, type InferenceRequest, type InferenceWorkerData, type WireAnalyzeOptions, type WorkerStartup } from './inference-worker.js';
import { LaneQueue, type Lane, type LaneOptions, type LaneStats } from './lanes.js';
import type { LivenessScorer } from './minifasnet.js';
import type { AnalyzeOptions, AnalyzeResult, FaceAnalyzer } from './pipeline.js';
import type { Detection, RgbImage } from './types.js';

const WORKER = new URL('./inference-worker.js', import.meta.url);
/** How long stop() waits for the job in hand before it terminates a worker that hangs. */
const STOP_GRACE_MS = 10_000;

export interface WorkerPipelineOptions {
  lanes: LaneOptions;
  /** First restart delay after a crash, ms; doubled per crash in a row up to restartMaxMs. */
  restartMinMs: number;
  restartMaxMs: number;
  decode: DecodeOptions;
}

/** The inference worker is not running (it crashed and is being restarted, or was stopped). */
export class InferenceUnavailableError extends Error {
  constructor(
    message: string,
    /** When it may be back, seconds (for Retry-After). */
    readonly retryAfterS: number,
  ) {
    super(message);
    this.name = 'InferenceUnavailableError';
  }
}

interface Pending {
  resolve: (r: InferenceReply & { ok: true }) => void;
  reject: (err: Error) => void;
  image: RgbImage;
}

type Events = {
  /** The worker died; it is started again in restartInMs. */
  crash: [Error, { restartInMs: number }];
  /** A restart after a crash succeeded, downMs after the crash. */
  restarted: [{ downMs: number; threadId: number }];
  /** A restart failed (the models would not load); the next try is in retryInMs. */
  'restart-failed': [Error, { retryInMs: number }];
};

export class WorkerPipeline extends EventEmitter<Events> implements FaceAnalyzer {
  readonly lanes: LaneQueue;
  private worker: Worker | null = null;
  private pending: Pending | null = null;
  private nextId = 1;
  private stopped = false;
  /** Crashes since the last restart that served a job: the backoff's exponent. */
  private crashesInRow = 0;
  private downSince: number | null = null;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartInMs = 0;
  /** Crashes since start (metrics, status). */
  crashes = 0;

  constructor(
    private readonly data: InferenceWorkerData,
    private readonly opts: WorkerPipelineOptions,
  ) {
    super();
    this.lanes = new LaneQueue(opts.lanes);
  }

  /** The worker's thread id (-1 when none runs). */
  get threadId(): number {
    return this.worker?.threadId ?? -1;
  }

  /** Is a worker up and serving. */
  get running(): boolean {
    return this.worker !== null;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.worker = await this.spawn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const w = this.worker;
    this.worker = null;
    this.lanes.refuseAll(new InferenceUnavailableError('the face pipeline is stopping', 1));
    if (!w) return;
    // Never terminate() during a model run: onnxruntime-node aborts the process then. The
    // worker ends itself once the job in hand is answered; terminate only if it hangs.
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ id: 0, op: 'exit', code: 0 } satisfies InferenceRequest);
    const hung = setTimeout(() => void w.terminate(), STOP_GRACE_MS);
    await exited;
    clearTimeout(hung);
    this.failPending(new InferenceUnavailableError('the face pipeline stopped', 1));
  }

  /**
   * Ends the worker thread as a crash would (code 1, not asked to stop), once the job in
   * hand is answered: the crash path runs and the worker is started again. For tests and
   * fault drills.
   */
  async killWorker(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ id: 0, op: 'exit', code: 1 } satisfies InferenceRequest);
    await exited;
  }

  laneStats(): LaneStats {
    return this.lanes.stats();
  }

  async analyze(img: RgbImage, opts: AnalyzeOptions): Promise<AnalyzeResult> {
    if (opts.chooseFaces) throw new Error('chooseFaces cannot cross to the inference worker; use the in-process pipeline (createPipeline) for it');
    const { lane = 'background', chooseFaces: _c, ...wire } = opts;
    const reply = await this.call(lane, img, (id, image) => ({ id, op: 'analyze', image, opts: wire satisfies WireAnalyzeOptions }));
    const result = reply.result!;
    if (lane === 'camera' && result.faces.length > 0) this.lanes.facesSeen();
    return result;
  }

  async analyzeEncoded(input: Buffer, opts: AnalyzeOptions): Promise<AnalyzeResult> {
    // Decoded here, on the libuv pool: a decode never holds the worker's queue.
    const t0 = performance.now();
    const img = await decodeImage(input, this.opts.decode);
    const decodeMs = performance.now() - t0;
    const res = await this.analyze(img, opts);
    res.timings.decodeMs = decodeMs;
    return res;
  }

  /** The liveness models in the worker, as a scorer (start and stop belong to the pipeline). */
  livenessScorer(): LivenessScorer {
    return {
      start: async () => {},
      stop: async () => {},
      score: async (img: RgbImage, box: Detection['box'], lane: Lane = 'background') => {
        const reply = await this.call(lane, img, (id, image) => ({ id, op: 'liveness', image, box }));
        return reply.score!;
      },
    };
  }

  /** Queue a request in its lane; when its turn comes, send it with the pixels transferred. */
  private call(lane: Lane, img: RgbImage, request: (id: number, image: RgbImage) => InferenceRequest): Promise<InferenceReply & { ok: true }> {
    if (!this.worker) return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => {
      this.lanes.submit(
        lane,
        () => {
          const w = this.worker;
          if (!w) {
            reject(this.unavailable());
            this.lanes.done();
            return;
          }
          const pixels = transferable(img.data);
          const id = this.nextId++;
          this.pending = { resolve, reject, image: img };
          try {
            w.postMessage(request(id, { data: pixels, width: img.width, height: img.height }), [pixels.buffer as ArrayBuffer]);
          } catch (err) {
            this.pending = null;
            reject(err as Error);
            this.lanes.done();
          }
        },
        reject,
      );
    });
  }

  private unavailable(): InferenceUnavailableError {
    if (this.stopped) return new InferenceUnavailableError('the face pipeline is stopped', 1);
    return new InferenceUnavailableError(`the face inference worker is restarting after a crash (next start in about ${this.restartInMs} ms); nothing is decided until it is back`, Math.max(1, Math.ceil(this.restartInMs / 1000)));
  }

  private onReply(m: InferenceReply): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    // The same bytes, back from the worker: the caller's image is whole again.
    p.image.data = m.pixels;
    this.crashesInRow = 0;
    this.lanes.done();
    if (m.ok) p.resolve(m);
    else p.reject(new Error(`face inference failed: ${m.message}`));
  }

  private failPending(err: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    p.reject(err);
    this.lanes.done();
  }

  /** A worker with its models loaded; rejects with the loading error. */
  private spawn(): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const w = new Worker(WORKER, { workerData: this.data, execArgv: [] });
      const onStartup = (m: WorkerStartup): void => {
        if (m.ready) {
          w.off('error', onEarlyError);
          w.off('exit', onEarlyExit);
          w.on('message', (r: InferenceReply) => this.onReply(r));
          w.on('error', (err) => this.onCrash(w, err));
          w.on('exit', (code) => this.onCrash(w, new Error(`the inference worker exited (code ${code})`)));
          resolve(w);
        } else {
          void w.terminate();
          reject(new Error(`the face models could not be loaded in the inference worker: ${m.message}`));
        }
      };
      const onEarlyError = (err: Error): void => reject(new Error(`the inference worker failed to start: ${err.message}`));
      const onEarlyExit = (code: number): void => reject(new Error(`the inference worker exited (code ${code}) while loading the models`));
      w.once('message', onStartup);
      w.once('error', onEarlyError);
      w.once('exit', onEarlyExit);
    });
  }

  private onCrash(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    void w.terminate();
    if (this.stopped) return;
    this.crashes++;
    this.downSince = performance.now();
    this.backOff();
    const failed = new InferenceUnavailableError(`the face inference worker crashed (${err.message}); the frame was not decided`, Math.max(1, Math.ceil(this.restartInMs / 1000)));
    this.failPending(failed);
    this.lanes.refuseAll(failed);
    this.emit('crash', err, { restartInMs: this.restartInMs });
    this.scheduleRestart(this.restartInMs);
  }

  /** The next restart delay: restartMinMs doubled per failure in a row, at most restartMaxMs. */
  private backOff(): void {
    this.restartInMs = Math.min(this.opts.restartMaxMs, this.opts.restartMinMs * 2 ** this.crashesInRow);
    this.crashesInRow++;
  }

  private scheduleRestart(ms: number): void {
    this.restartTimer = setTimeout(() => {
      this.spawn().then(
        (w) => {
          if (this.stopped) {
            void w.terminate();
            return;
          }
          this.worker = w;
          const downMs = performance.now() - (this.downSince ?? performance.now());
          this.downSince = null;
          this.emit('restarted', { downMs, threadId: w.threadId });
        },
        (err: Error) => {
          if (this.stopped) return;
          this.backOff();
          this.emit('restart-failed', err, { retryInMs: this.restartInMs });
          this.scheduleRestart(this.restartInMs);
        },
      );
    }, ms);
  }
}
