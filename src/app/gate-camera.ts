// The gate's camera and its frame loop. A camera that is missing or cannot start (no
// device yet, a replay path that does not exist) is a camera fault looked for again
// with backoff, like a camera lost later: the daemon, its API and its outbox keep
// running. The newest frame wins: the loop takes the latest one as soon as a frame may
// go in flight (one per inference worker), and the frames are decided in capture order
// (frame-order.ts).
import { backoffDelayMs, createFrameSource, FrameSourceClosedError, type Frame, type FrameSource } from '../capture/index.js';
import type { Config } from '../config/types.js';
import { logger } from '../log.js';
import type { RecordEvent } from './gate-act.js';
import type { DaemonStats } from './gate-stats.js';
import { chooseCamera } from './camera.js';
import type { GateHealth } from './health.js';
import { errorText } from '../errors.js';
import { OrderedFrames } from './frame-order.js';

const log = logger('daemon');
const round = (ms: number): number => Math.round(ms * 10) / 10;

/** T: what a frame's first stage hands to its second. */
export interface GateCameraDeps<T> {
  config: Config;
  health: GateHealth;
  stats: DaemonStats;
  recordEvent: RecordEvent;
  /** Aborted when shutdown begins. */
  signal: AbortSignal;
  /** A --once replay: one that cannot start fails the start, and its end finishes the daemon. */
  once: boolean;
  finish: () => void;
  /** A frame's first stage, several at once (gate-frame.ts analyze); takenAtMs: when it left the slot. */
  analyze: (frame: Frame, takenAtMs: number) => Promise<T>;
  /** Its second stage, in capture order (gate-frame.ts decide). */
  decide: (analyzed: T) => Promise<unknown>;
  /** Frames in flight at once: vision.inferenceWorkers with the models in workers, else 1. */
  maxInFlight: number;
  /** The identity endpoint's camera priority, when it is served. */
  priority: () => { frameStarted(): void; frameEnded(): void } | undefined;
}

export class GateCamera<T> {
  /** null while no camera delivers (none configured, or looked for again). */
  source: FrameSource | null = null;
  description = '';
  private lastFrameAt = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly deps: GateCameraDeps<T>) {}

  /** Healthy for the systemd watchdog: frames arrive, or no camera is expected. */
  healthy(): boolean {
    if (!this.source) return true;
    return performance.now() - this.lastFrameAt < Math.max(30_000, this.deps.config.camera.stallTimeoutMs * 6);
  }

  async start(attempt = 0): Promise<void> {
    this.retry = undefined;
    if (this.deps.signal.aborted) return;
    const c = this.deps.config.camera;
    const { health } = this.deps;
    const cam = chooseCamera(c);
    if (attempt === 0) log.info({ camera: cam.description }, `camera: ${cam.description}`);
    let problem: string | null = cam.options ? null : cam.description;
    let source: FrameSource | null = null;
    if (cam.options) {
      source = createFrameSource({ ...cam.options, id: 'camera' });
      try {
        await source.start();
      } catch (err) {
        problem = errorText(err).replace(/\n\s*/g, ' ');
        source = null;
      }
    }
    if (!source || problem !== null) {
      if (this.deps.once) throw new Error(problem ?? 'no camera');
      const retryInMs = backoffDelayMs(attempt, c.restartBackoffMinMs, c.restartBackoffMaxMs);
      health.set('camera', false, `${problem}; looking again every ${Math.round(retryInMs / 1000)} s or less`);
      this.retry = setTimeout(() => void this.start(attempt + 1).catch((err: Error) => log.error({ err: err.message }, 'camera start failed')), retryInMs);
      return;
    }
    const src = source;
    src.on('lost', (e) => {
      log.warn({ reason: e.reason, retryInMs: e.retryInMs }, 'camera lost; restarting it');
      health.set('camera', false, `lost: ${e.reason}; restarting it`);
      this.deps.recordEvent('camera_lost', { source: src.id, error: e.reason });
    });
    src.on('restored', (e) => {
      log.info({ downMs: e.downMs }, 'camera restored');
      this.deps.recordEvent('camera_restored', { source: src.id, downMs: e.downMs });
    });
    src.on('error', (err) => log.warn({ err: err.message }, 'camera error'));
    this.source = src;
    this.description = cam.description;
    this.lastFrameAt = performance.now();
    this.loopDone = this.frameLoop(src);
  }

  /** Stops looking for the camera, stops it, and waits for the loop to end. */
  async stop(): Promise<void> {
    clearTimeout(this.retry);
    await this.source?.stop();
    await this.loopDone;
  }

  private async frameLoop(source: FrameSource): Promise<void> {
    const { signal, health, stats } = this.deps;
    const order = new OrderedFrames<{ frame: Frame; takenAtMs: number }, T>(
      this.deps.maxInFlight,
      {
        analyze: async (t) => {
          const analyzed = await this.deps.analyze(t.frame, t.takenAtMs);
          log.debug({ seq: t.frame.seq, slotWaitMs: round(t.takenAtMs - t.frame.capturedAtMs), analyzeMs: round(performance.now() - t.takenAtMs) }, 'frame analyzed');
          return analyzed;
        },
        decide: async (a, t, waitedMs) => {
          await this.deps.decide(a);
          log.debug({ seq: t.frame.seq, orderWaitMs: round(waitedMs) }, 'frame decided');
        },
      },
      (err, t) => {
        // A bad frame must never stop the gate.
        stats.framesFailed++;
        log.warn({ err: errorText(err), seq: t.frame.seq }, 'frame skipped');
      },
    );
    try {
      for (;;) {
        await order.free();
        let frame: Frame;
        try {
          frame = await source.next(signal);
        } catch (err) {
          if (err instanceof FrameSourceClosedError || signal.aborted) {
            if (err instanceof FrameSourceClosedError && err.reason === 'ended') {
              log.info('camera source ended');
              await order.drain();
              if (this.deps.once) this.deps.finish();
            }
            return;
          }
          log.error({ err: errorText(err) }, 'frame source failed');
          continue;
        }
        const takenAtMs = performance.now();
        this.lastFrameAt = takenAtMs;
        if (!health.get('camera')?.ok) health.set('camera', true, `${this.description}: frames arriving`);
        // API recognitions wait while a frame is in progress: the door never waits for the API.
        const priority = this.deps.priority();
        priority?.frameStarted();
        order.run({ frame, takenAtMs }, () => priority?.frameEnded());
      }
    } finally {
      await order.drain();
    }
  }
}
