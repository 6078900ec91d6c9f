// The capture contract: what the vision stage consumes and what the daemon watches.
// Every implementation (ffmpeg, image directory, webcam) sits behind FrameSource so the
// composition root and the contract tests never care which camera is attached.
import type { EventEmitter } from 'node:events';
import { monotonicClock, type Clock } from '../clock.js';

/** Size of a raw frame: packed RGB, 3 bytes a pixel, row-major. */
export interface RawFrameSize {
  readonly widthPx: number;
  readonly heightPx: number;
}

/** One picture from the camera: a JPEG (decoded by the vision stage, sharp) or raw RGB. */
export interface Frame {
  /** A complete JPEG, SOI (FFD8) to EOI (FFD9); packed RGB24 when raw is set. */
  readonly data: Buffer;
  /** Set for raw frames (capture frameFormat raw): data is widthPx x heightPx x 3 bytes of RGB. */
  readonly raw?: RawFrameSize;
  /** 1, 2, 3... per source, never reset by restarts, so gaps show dropped frames. */
  readonly seq: number;
  /** Monotonic arrival time (performance.now() unless a clock is injected). */
  readonly capturedAtMs: number;
  readonly sourceId: string;
}

/**
 * idle: built, not started. starting: first session opening. running: frames arrive.
 * lost: the camera went away; restarts are being attempted with backoff.
 * ended: a non-looping replay reached its end. stopped: stop() was called.
 */
export type SourceState = 'idle' | 'starting' | 'running' | 'lost' | 'ended' | 'stopped';

export interface FrameSourceStatus {
  readonly sourceId: string;
  readonly kind: string;
  readonly state: SourceState;
  readonly framesReceived: number;
  /** Frames overwritten in the slot before the consumer took them (newest wins). */
  readonly framesDropped: number;
  readonly framesTaken: number;
  /** Monotonic time of the last frame, null before the first one. */
  readonly lastFrameAtMs: number | null;
  readonly restarts: number;
  /** Why the source was last lost, for health output; never contains credentials. */
  readonly lastError: string | null;
  /** The capture process while one runs (ffmpeg), for diagnostics. */
  readonly pid: number | null;
}

export interface LostEvent {
  readonly reason: string;
  /** Milliseconds until the next restart attempt. */
  readonly retryInMs: number;
}

export interface RestoredEvent {
  /** How long no frames arrived, from the loss to the first new frame. */
  readonly downMs: number;
  readonly restarts: number;
}

export interface FrameSourceEvents {
  lost: [LostEvent];
  restored: [RestoredEvent];
  /** Only emitted when someone listens: an unhandled 'error' must not crash the daemon. */
  error: [Error];
  ended: [];
}

export interface FrameSource extends EventEmitter<FrameSourceEvents> {
  readonly id: string;
  /** Checks the configuration (throws CaptureConfigError) and begins capturing. */
  start(): Promise<void>;
  /** Ends capture and kills any child process; pending next() calls reject. Idempotent. */
  stop(): Promise<void>;
  /**
   * The newest frame not yet taken; waits when there is none. Rejects with
   * FrameSourceClosedError once the source is stopped or a replay has ended, and with the
   * signal's reason when aborted.
   */
  next(signal?: AbortSignal): Promise<Frame>;
  status(): FrameSourceStatus;
}


/** Capture times its stalls and backoff on the monotonic clock. */
export type { Clock };
export const systemClock: Clock = monotonicClock;

/** A configuration problem the operator must fix; the message says what and how. */
export class CaptureConfigError extends Error {
  override readonly name = 'CaptureConfigError';
}

export class FrameSourceClosedError extends Error {
  override readonly name = 'FrameSourceClosedError';
  constructor(
    readonly sourceId: string,
    readonly reason: 'stopped' | 'ended',
  ) {
    super(`frame source ${sourceId} ${reason}`);
  }
}
