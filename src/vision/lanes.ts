// The order in which the inference workers take their work: the door never waits for the
// API. One job runs per worker (`capacity`: the workers up; a worker runs one model at a
// time anyway); when one is free, a queued camera frame always goes first. API work (and,
// below it, background work: enrollment photos of a sync) starts only when no camera
// frame is queued, every frame the gate is processing (frameStarted .. frameEnded: its
// liveness and matching steps follow its detection) still has a worker of its own once
// the job starts (frames in progress + API and background jobs running < capacity; with
// one worker: no frame in progress), and no passage is under way (a camera frame had a face less than
// `passageHoldMs` ago: someone is walking up, and every frame of theirs counts). So between
// two frames of an empty entrance at most one API job runs. API work waits at most
// `apiMaxWaitMs`, then is refused with VisionBusyError (the API answers 503 with
// Retry-After). Background work is never refused, and never starved: once it has waited
// `backgroundMaxWaitMs` it runs in the next gap between frames even during a passage, one
// job per gap (a sync page's photos are embedded before its deletions are applied, so a
// busy entrance must not hold back a revocation). Pure logic; the clock and timers are
// injected.

export type Lane = 'camera' | 'api' | 'background';

export interface LaneOptions {
  /** After a camera frame with a face, API and background work wait this long (a passage). */
  passageHoldMs: number;
  /** Longest an API job waits for its turn before it is refused. */
  apiMaxWaitMs: number;
  /** After this long in the queue, a background job runs in a gap between frames even during a passage. */
  backgroundMaxWaitMs: number;
}

export interface LaneClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** API work waited its longest for the camera to leave it a turn; retry later. */
export class VisionBusyError extends Error {
  constructor(
    readonly waitedMs: number,
    /** When to try again, seconds (for Retry-After). */
    readonly retryAfterS: number,
  ) {
    super(`the gate's camera kept the face models busy for ${Math.round(waitedMs)} ms (someone is passing the gate: the door comes first); retry after ${retryAfterS} s`);
    this.name = 'VisionBusyError';
  }
}

interface Job {
  lane: Lane;
  start: () => void;
  refuse: (err: Error) => void;
  enqueuedAt: number;
  timer: unknown;
  /** A background job that waited backgroundMaxWaitMs: it may run during a passage. */
  overdue?: boolean;
}

export interface LaneStats {
  queued: Record<Lane, number>;
  /** Every worker up is running a job. */
  busy: boolean;
  /** Jobs running now, and the workers up to run them. */
  running: number;
  capacity: number;
  passage: boolean;
  framesInProgress: number;
  /** API jobs refused at their wait bound since start. */
  refusedBusy: number;
}

const realClock: LaneClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class LaneQueue {
  private readonly queues: Record<Lane, Job[]> = { camera: [], api: [], background: [] };
  /** The lane of each running job, oldest first. */
  private readonly running: Lane[] = [];
  private capacity = 1;
  private framesInProgress = 0;
  private passageUntil = -Infinity;
  private passageTimer: unknown = null;
  private refusedBusy = 0;

  constructor(
    private readonly opts: LaneOptions,
    private readonly clock: LaneClock = realClock,
  ) {}

  /**
   * Queue a job: `start` is called when it is its turn (the caller then runs it and calls
   * done()), or `refuse` with a VisionBusyError when an API job waited past its bound.
   */
  submit(lane: Lane, start: () => void, refuse: (err: Error) => void): void {
    const job: Job = { lane, start, refuse, enqueuedAt: this.clock.now(), timer: null };
    if (lane === 'api') job.timer = this.clock.setTimeout(() => this.expire(job), this.opts.apiMaxWaitMs);
    if (lane === 'background') {
      job.timer = this.clock.setTimeout(() => {
        job.timer = null;
        job.overdue = true;
        this.pump();
      }, this.opts.backgroundMaxWaitMs);
    }
    this.queues[lane].push(job);
    this.pump();
  }

  /** A running job finished (or failed): the oldest running one of `lane` (any lane when not given). */
  done(lane?: Lane): void {
    const i = lane === undefined ? 0 : this.running.indexOf(lane);
    if (i >= 0 && i < this.running.length) this.running.splice(i, 1);
    this.pump();
  }

  /** How many workers are up to run jobs (a crashed one is not); more work starts at once. */
  setCapacity(n: number): void {
    this.capacity = Math.max(0, n);
    this.pump();
  }

  /** The gate started processing a camera frame (its jobs follow one another). */
  frameStarted(): void {
    this.framesInProgress++;
  }

  /** The gate finished a frame: the gap where one API job may run before the next frame. */
  frameEnded(): void {
    this.framesInProgress = Math.max(0, this.framesInProgress - 1);
    this.pump();
  }

  /** A camera frame had a face: a passage is under way for the next passageHoldMs. */
  facesSeen(): void {
    this.passageUntil = this.clock.now() + this.opts.passageHoldMs;
    if (this.passageTimer !== null) this.clock.clearTimeout(this.passageTimer);
    this.passageTimer = this.clock.setTimeout(() => {
      this.passageTimer = null;
      // The hold is over when its timer fires: libuv may fire it a fraction of a ms before
      // the clock reads passageUntil, and a queued API job must not then wait for nothing.
      this.passageUntil = -Infinity;
      this.pump();
    }, this.opts.passageHoldMs);
  }

  /** Refuse every queued job with `err` (the worker is gone); the running one is the caller's. */
  refuseAll(err: Error): void {
    for (const lane of ['camera', 'api', 'background'] as const) {
      for (const job of this.queues[lane].splice(0)) {
        if (job.timer !== null) this.clock.clearTimeout(job.timer);
        job.refuse(err);
      }
    }
  }

  stats(): LaneStats {
    return {
      queued: { camera: this.queues.camera.length, api: this.queues.api.length, background: this.queues.background.length },
      busy: this.running.length >= this.capacity,
      running: this.running.length,
      capacity: this.capacity,
      passage: this.inPassage(),
      framesInProgress: this.framesInProgress,
      refusedBusy: this.refusedBusy,
    };
  }

  private inPassage(): boolean {
    return this.clock.now() < this.passageUntil;
  }

  private pump(): void {
    while (this.running.length < this.capacity) {
      const job = this.next();
      if (!job) return;
      if (job.timer !== null) this.clock.clearTimeout(job.timer);
      this.running.push(job.lane);
      job.start();
    }
  }

  /** The job a free worker takes now, if any. */
  private next(): Job | undefined {
    const camera = this.queues.camera.shift();
    if (camera) return camera;
    // Each frame in progress keeps a worker for its next step (liveness after detection).
    const others = this.running.filter((l) => l !== 'camera').length;
    if (this.framesInProgress + others >= this.capacity) return undefined;
    if (!this.inPassage()) return this.queues.api.shift() ?? this.queues.background.shift();
    if (this.queues.background[0]?.overdue) return this.queues.background.shift();
    return undefined;
  }

  private expire(job: Job): void {
    const q = this.queues[job.lane];
    const i = q.indexOf(job);
    if (i < 0) return;
    q.splice(i, 1);
    this.refusedBusy++;
    const waited = this.clock.now() - job.enqueuedAt;
    job.refuse(new VisionBusyError(waited, Math.max(1, Math.ceil(this.opts.passageHoldMs / 1000))));
  }
}
