// The part every source shares: the slot, status, and the watchdog that notices a camera
// that died (session ended) or went quiet (no frame for stallTimeoutMs), then restarts it
// with exponential backoff. Subclasses only say how to check their config and how to open
// one capture session; nothing a camera does throws out of here to the daemon.
import { EventEmitter } from 'node:events';
import { logger, type Logger } from '../log.js';
import { LatestFrameSlot } from './latest-slot.js';
import { defaults, validateSourceOptions, type CommonSourceOptions, type FrameSourceOptions } from './options.js';
import {
  CaptureConfigError,
  FrameSourceClosedError,
  systemClock,
  type Clock,
  type Frame,
  type FrameSource,
  type FrameSourceEvents,
  type FrameSourceStatus,
  type RawFrameSize,
  type SourceState,
} from './types.js';
import { errorText } from '../errors.js';

/** How a session finished on its own: 'ended' is a replay's natural end, not a fault. */
export type SessionEnd = { kind: 'ended' } | { kind: 'failed'; reason: string };

/** One run of the capture process (or loop); a restart opens a new one. */
export interface CaptureSession {
  /** Settles once, when the session finishes by itself; never rejects. */
  readonly done: Promise<SessionEnd>;
  /** Ends the session and its processes; resolves when they are gone. */
  close(): Promise<void>;
  readonly pid: number | null;
}

export interface SessionSink {
  /** A complete JPEG arrived, or a raw RGB frame of this size. */
  frame(data: Buffer, raw?: RawFrameSize): void;
}

/** 500, 1000, 2000 ... capped: a camera being replugged is retried quickly at first. */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

export abstract class SupervisedSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  readonly id: string;
  protected readonly log: Logger;
  protected readonly clock: Clock;
  private readonly slot = new LatestFrameSlot();
  private state: SourceState = 'idle';
  private received = 0;
  private restarts = 0;
  private attempt = 0;
  private lastFrameAtMs: number | null = null;
  private lastError: string | null = null;
  private lostAtMs = 0;
  private session: CaptureSession | null = null;
  private sessionStartedAtMs = 0;
  /** Bumped by stop(): callbacks from an older generation are ignored. */
  private generation = 0;
  /** Which launch may deliver frames; 0 once its session is detached (stall, end, stop). */
  private activeLaunch = 0;
  private launchSeq = 0;
  private restartTimer: unknown = null;
  private stallTimer: unknown = null;
  private launching: Promise<void> | null = null;

  constructor(
    readonly kind: FrameSourceOptions['kind'],
    protected readonly common: CommonSourceOptions,
    defaultId: string,
  ) {
    super();
    this.id = common.id ?? defaultId;
    this.clock = common.clock ?? systemClock;
    this.log = logger('capture').child({ source: this.id });
  }

  /** Options problems seen without I/O plus those found on disk; all reported at once. */
  protected abstract check(): Promise<string[]>;
  /** Starts one capture session; a throw counts as a failed attempt, like a crash. */
  protected abstract open(sink: SessionSink): Promise<CaptureSession>;
  protected abstract options(): FrameSourceOptions;

  async start(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    const problems = [...validateSourceOptions(this.options()), ...(await this.check())];
    if (problems.length > 0) throw new CaptureConfigError(`capture source ${this.id} is misconfigured:\n  ${problems.join('\n  ')}`);
    this.state = 'starting';
    this.attempt = 0;
    this.slot.reopen();
    this.log.info({ kind: this.kind }, 'capture starting');
    this.launch();
  }

  async stop(): Promise<void> {
    if (this.state === 'idle' || this.state === 'stopped') return;
    this.state = 'stopped';
    this.generation++;
    this.activeLaunch = 0;
    this.clearTimers();
    this.slot.close(new FrameSourceClosedError(this.id, 'stopped'));
    const session = this.session;
    this.session = null;
    try {
      await this.launching; // an open() in flight finishes and closes its own session
    } finally {
      if (session) await session.close();
      this.log.info({ framesReceived: this.received, restarts: this.restarts }, 'capture stopped');
    }
  }

  next(signal?: AbortSignal): Promise<Frame> {
    return this.slot.take(signal);
  }

  status(): FrameSourceStatus {
    return {
      sourceId: this.id,
      kind: this.kind,
      state: this.state,
      framesReceived: this.received,
      framesDropped: this.slot.dropped,
      framesTaken: this.slot.taken,
      lastFrameAtMs: this.lastFrameAtMs,
      restarts: this.restarts,
      lastError: this.lastError,
      pid: this.session?.pid ?? null,
    };
  }

  private stallTimeoutMs(): number {
    return this.common.stallTimeoutMs ?? defaults.stallTimeoutMs;
  }

  private launch(): void {
    const gen = this.generation;
    const token = ++this.launchSeq;
    this.activeLaunch = token;
    const sink: SessionSink = { frame: (data, raw) => this.onFrame(token, data, raw) };
    this.launching = (async () => {
      let session: CaptureSession;
      try {
        session = await this.open(sink);
      } catch (err) {
        if (gen === this.generation) this.onSessionEnd(null, { kind: 'failed', reason: errorText(err) });
        return;
      }
      if (gen !== this.generation) {
        await session.close();
        return;
      }
      this.session = session;
      this.sessionStartedAtMs = this.clock.now();
      this.armStall(this.stallTimeoutMs());
      session.done.then(
        (end) => this.closeEnded(session, end),
        (err: unknown) => this.closeEnded(session, { kind: 'failed', reason: errorText(err) }),
      );
    })().finally(() => {
      this.launching = null;
    });
  }

  private onFrame(token: number, data: Buffer, raw?: RawFrameSize): void {
    if (token !== this.activeLaunch || this.state === 'stopped') return;
    const now = this.clock.now();
    this.received++;
    this.lastFrameAtMs = now;
    if (this.state === 'lost') {
      const downMs = now - this.lostAtMs;
      this.log.info({ downMs: Math.round(downMs), restarts: this.restarts }, 'capture restored');
      this.state = 'running';
      this.emit('restored', { downMs, restarts: this.restarts });
    } else if (this.state === 'starting') {
      this.state = 'running';
      this.log.info('capture running: first frame received');
    }
    // A frame proves the camera works again: the next outage retries quickly.
    this.attempt = 0;
    this.slot.put({ data, seq: this.received, capturedAtMs: now, sourceId: this.id, ...(raw && { raw }) });
  }

  /** One timer per stall window instead of one per frame; re-armed for the remainder. */
  private armStall(ms: number): void {
    this.stallTimer = this.clock.setTimeout(() => {
      this.stallTimer = null;
      const session = this.session;
      if (!session) return;
      const since = Math.max(this.sessionStartedAtMs, this.lastFrameAtMs ?? 0);
      const quietMs = this.clock.now() - since;
      if (quietMs < this.stallTimeoutMs()) {
        this.armStall(this.stallTimeoutMs() - quietMs);
        return;
      }
      this.session = null;
      this.activeLaunch = 0; // frames still in the pipe of a stalled session are stale
      const gen = this.generation;
      void session
        .close()
        .catch((err: unknown) => this.log.error({ err: errorText(err) }, 'closing a stalled session failed'))
        .then(() => {
          if (gen === this.generation) this.onSessionEnd(null, { kind: 'failed', reason: `no frame for ${Math.round(quietMs)} ms` });
        });
    }, ms);
  }

  /**
   * A session that ended by itself still holds resources (the webcam's scratch directory,
   * a process being reaped): every opened session is closed before the source moves on.
   */
  private closeEnded(session: CaptureSession, end: SessionEnd): void {
    void session
      .close()
      .catch((err: unknown) => this.log.error({ err: errorText(err) }, 'closing an ended session failed'))
      .then(() => this.onSessionEnd(session, end));
  }

  /** `session` null: the caller already detached it (stall, failed open). */
  private onSessionEnd(session: CaptureSession | null, end: SessionEnd): void {
    if (session !== null) {
      if (session !== this.session) return; // a stalled session closing late, or stopped
      this.session = null;
    }
    if (this.state === 'stopped') return;
    this.activeLaunch = 0;
    if (this.stallTimer !== null) this.clock.clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (end.kind === 'ended') {
      this.state = 'ended';
      this.log.info({ framesReceived: this.received }, 'capture ended (end of replay)');
      this.slot.close(new FrameSourceClosedError(this.id, 'ended'), true);
      this.emit('ended');
      return;
    }
    this.lastError = end.reason;
    const retryInMs = backoffDelayMs(this.attempt++, this.common.restartBackoffMinMs ?? defaults.restartBackoffMinMs, this.common.restartBackoffMaxMs ?? defaults.restartBackoffMaxMs);
    if (this.state !== 'lost') {
      this.state = 'lost';
      this.lostAtMs = this.clock.now();
      this.log.warn({ reason: end.reason, retryInMs }, 'camera lost; restarting');
      this.emit('lost', { reason: end.reason, retryInMs });
    } else {
      this.log.warn({ reason: end.reason, retryInMs, attempt: this.attempt }, 'camera still lost; retrying');
    }
    // Only when someone listens: EventEmitter throws an unhandled 'error', and a camera
    // fault must never take the daemon down.
    if (this.listenerCount('error') > 0) this.emit('error', new Error(`capture ${this.id}: ${end.reason}`));
    if (this.state !== 'lost') return; // a listener stopped the source
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = null;
      if (this.state !== 'lost') return;
      this.restarts++;
      this.launch();
    }, retryInMs);
  }

  private clearTimers(): void {
    if (this.restartTimer !== null) this.clock.clearTimeout(this.restartTimer);
    if (this.stallTimer !== null) this.clock.clearTimeout(this.stallTimer);
    this.restartTimer = null;
    this.stallTimer = null;
  }
}
