// The face pipeline in a pool of worker threads (inference-worker.ts, each with its own
// sessions), behind the same calls as the in-process FacePipeline. Work is ordered by the
// lane queue (lanes.ts: camera frames first), one job per worker at a time; pixel buffers
// move to a worker and back in the transfer list. A worker that dies (an uncaught
// exception, an out-of-memory) fails the job it was running, is reported ('crash') and
// started again after a backoff ('restarted'); the others keep taking the queue
// meanwhile. Only when no worker is up does every call fail at once with
// InferenceUnavailableError, so the gate decides nothing, and opens nothing, until one
// is back.
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
  /** Inference worker threads, each with its own sessions (vision.inferenceWorkers). */
  workers: number;
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
  lane: Lane;
}

/** One worker thread of the pool and its restart state. */
interface Slot {
  /** Its place in the pool, 0-based (logs, health, fault drills). */
  index: number;
  worker: Worker | null;
  pending: Pending | null;
  /** Crashes since the last restart that served a job: the backoff's exponent. */
  crashesInRow: number;
  downSince: number | null;
  restartTimer: NodeJS.Timeout | undefined;
  restartInMs: number;
}

/** Which worker an event is about, and how many of the pool are up after it. */
export interface WorkerRef {
  worker: number;
  up: number;
  workers: number;
}

type Events = {
  /** A worker died; it is started again in restartInMs. */
  crash: [Error, { restartInMs: number } & WorkerRef];
  /** A restart after a crash succeeded, downMs after the crash. */
  restarted: [{ downMs: number; threadId: number } & WorkerRef];
  /** A restart failed (the models would not load); the next try is in retryInMs. */
  'restart-failed': [Error, { retryInMs: number } & WorkerRef];
};

export class WorkerPipeline extends EventEmitter<Events> implements FaceAnalyzer {
  readonly lanes: LaneQueue;
  private readonly slots: Slot[];
  private nextId = 1;
  private stopped = false;
  /** Crashes since start, all workers together (metrics, status). */
  crashes = 0;

  constructor(
    private readonly data: InferenceWorkerData,
    private readonly opts: WorkerPipelineOptions,
  ) {
    super();
    this.lanes = new LaneQueue(opts.lanes);
    this.lanes.setCapacity(0);
    this.slots = Array.from({ length: Math.max(1, opts.workers) }, (_, index) => ({ index, worker: null, pending: null, crashesInRow: 0, downSince: null, restartTimer: undefined, restartInMs: 0 }));
  }

  /** Worker threads in the pool (up or not). */
  get workers(): number {
    return this.slots.length;
  }

  /** Workers up and serving. */
  get up(): number {
    return this.slots.filter((s) => s.worker !== null).length;
  }

  /** The first running worker's thread id (-1 when none runs). */
  get threadId(): number {
    return this.threadIds.find((t) => t !== -1) ?? -1;
  }

  /** Each worker's thread id, -1 for one that is down. */
  get threadIds(): number[] {
    return this.slots.map((s) => s.worker?.threadId ?? -1);
  }

  /** Is at least one worker up and serving. */
  get running(): boolean {
    return this.up > 0;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const started = await Promise.allSettled(this.slots.map((slot) => this.spawn(slot)));
    for (const [i, r] of started.entries()) if (r.status === 'fulfilled') this.slots[i]!.worker = r.value;
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
    this.lanes.setCapacity(this.up);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.lanes.setCapacity(0);
    this.lanes.refuseAll(new InferenceUnavailableError('the face pipeline is stopping', 1));
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot)));
  }

  private async stopSlot(slot: Slot): Promise<void> {
    clearTimeout(slot.restartTimer);
    const w = slot.worker;
    slot.worker = null;
    if (!w) return;
    // Never terminate() during a model run: onnxruntime-node aborts the process then. The
    // worker ends itself once the job in hand is answered; terminate only if it hangs.
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ id: 0, op: 'exit', code: 0 } satisfies InferenceRequest);
    const hung = setTimeout(() => void w.terminate(), STOP_GRACE_MS);
    await exited;
    clearTimeout(hung);
    this.failPending(slot, new InferenceUnavailableError('the face pipeline stopped', 1));
  }

  /**
   * Ends worker `index`'s thread as a crash would (code 1, not asked to stop), once the job
   * in hand is answered: the crash path runs and the worker is started again. For tests
   * and fault drills.
   */
  async killWorker(index = 0): Promise<void> {
    const w = this.slots[index]?.worker;
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
    // Decoded here, on the libuv pool: a decode never holds the workers' queue.
    const t0 = performance.now();
    const img = await decodeImage(input, this.opts.decode);
    const decodeMs = performance.now() - t0;
    const res = await this.analyze(img, opts);
    res.timings.decodeMs = decodeMs;
    return res;
  }

  /** The liveness models in the workers, as a scorer (start and stop belong to the pipeline). */
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

  /** Queue a request in its lane; when its turn comes, send it to a free worker with the pixels transferred. */
  private call(lane: Lane, img: RgbImage, request: (id: number, image: RgbImage) => InferenceRequest): Promise<InferenceReply & { ok: true }> {
    if (!this.running) return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => {
      this.lanes.submit(
        lane,
        () => {
          // The queue starts a job only while a worker is up and free.
          const slot = this.slots.find((s) => s.worker !== null && s.pending === null);
          const w = slot?.worker;
          if (!slot || !w) {
            reject(this.unavailable());
            this.lanes.done(lane);
            return;
          }
          const pixels = transferable(img.data);
          const id = this.nextId++;
          slot.pending = { resolve, reject, image: img, lane };
          try {
            w.postMessage(request(id, { data: pixels, width: img.width, height: img.height }), [pixels.buffer as ArrayBuffer]);
          } catch (err) {
            slot.pending = null;
            reject(err as Error);
            this.lanes.done(lane);
          }
        },
        reject,
      );
    });
  }

  private unavailable(): InferenceUnavailableError {
    if (this.stopped) return new InferenceUnavailableError('the face pipeline is stopped', 1);
    const restartInMs = Math.min(...this.slots.filter((s) => s.worker === null).map((s) => s.restartInMs));
    const what = this.slots.length === 1 ? 'the face inference worker is' : `all ${this.slots.length} face inference workers are`;
    return new InferenceUnavailableError(`${what} restarting after a crash (next start in about ${restartInMs} ms); nothing is decided until one is back`, Math.max(1, Math.ceil(restartInMs / 1000)));
  }

  private onReply(slot: Slot, m: InferenceReply): void {
    const p = slot.pending;
    if (!p) return;
    slot.pending = null;
    // The same bytes, back from the worker: the caller's image is whole again.
    p.image.data = m.pixels;
    slot.crashesInRow = 0;
    this.lanes.done(p.lane);
    if (m.ok) p.resolve(m);
    else p.reject(new Error(`face inference failed: ${m.message}`));
  }

  private failPending(slot: Slot, err: Error): void {
    const p = slot.pending;
    if (!p) return;
    slot.pending = null;
    p.reject(err);
    this.lanes.done(p.lane);
  }

  private ref(slot: Slot): WorkerRef {
    return { worker: slot.index, up: this.up, workers: this.slots.length };
  }

  /** A worker with its models loaded; rejects with the loading error. */
  private spawn(slot: Slot): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const w = new Worker(WORKER, { workerData: this.data, execArgv: [] });
      const onStartup = (m: WorkerStartup): void => {
        if (m.ready) {
          w.off('error', onEarlyError);
          w.off('exit', onEarlyExit);
          w.on('message', (r: InferenceReply) => this.onReply(slot, r));
          w.on('error', (err) => this.onCrash(slot, w, err));
          w.on('exit', (code) => this.onCrash(slot, w, new Error(`the inference worker exited (code ${code})`)));
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

  private onCrash(slot: Slot, w: Worker, err: Error): void {
    if (slot.worker !== w) return;
    slot.worker = null;
    void w.terminate();
    if (this.stopped) return;
    this.crashes++;
    slot.downSince = performance.now();
    this.backOff(slot);
    this.lanes.setCapacity(this.up);
    const failed = new InferenceUnavailableError(`the face inference worker crashed (${err.message}); the frame was not decided`, Math.max(1, Math.ceil(slot.restartInMs / 1000)));
    this.failPending(slot, failed);
    // The others keep taking the queue; with none up, nothing queued would ever start.
    if (!this.running) this.lanes.refuseAll(failed);
    this.emit('crash', err, { restartInMs: slot.restartInMs, ...this.ref(slot) });
    this.scheduleRestart(slot, slot.restartInMs);
  }

  /** The next restart delay: restartMinMs doubled per failure in a row, at most restartMaxMs. */
  private backOff(slot: Slot): void {
    slot.restartInMs = Math.min(this.opts.restartMaxMs, this.opts.restartMinMs * 2 ** slot.crashesInRow);
    slot.crashesInRow++;
  }

  private scheduleRestart(slot: Slot, ms: number): void {
    slot.restartTimer = setTimeout(() => {
      this.spawn(slot).then(
        (w) => {
          if (this.stopped) {
            void w.terminate();
            return;
          }
          slot.worker = w;
          const downMs = performance.now() - (slot.downSince ?? performance.now());
          slot.downSince = null;
          this.lanes.setCapacity(this.up);
          this.emit('restarted', { downMs, threadId: w.threadId, ...this.ref(slot) });
        },
        (err: Error) => {
          if (this.stopped) return;
          this.backOff(slot);
          this.emit('restart-failed', err, { retryInMs: slot.restartInMs, ...this.ref(slot) });
          this.scheduleRestart(slot, slot.restartInMs);
        },
      );
    }, ms);
  }
}
