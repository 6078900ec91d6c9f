// Camera frames in flight, decided in capture order. Up to `maxInFlight` frames are in the
// first stage at once (decode and the face models, one frame per inference worker), so a
// frame taken from the newest-frame slot never waits there for the previous frame's
// models; each frame's second stage (match, policy, act) starts only after the previous
// frame's has ended, whichever frame's models finished first: tracks, votes and the
// anti-passback see frames in the order the camera took them. A frame whose first stage
// failed is skipped in its turn; the frames after it are decided as usual.
export interface FrameStages<F, T> {
  analyze(frame: F): Promise<T>;
  /** `waitedMs`: how long the analysed frame waited for the frame before it to be decided. */
  decide(analyzed: T, frame: F, waitedMs: number): Promise<unknown>;
}

export class OrderedFrames<F, T> {
  private inFlight = 0;
  /** Ends when the newest frame's decision has ended (it never rejects). */
  private tail: Promise<void> = Promise.resolve();
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly maxInFlight: number,
    private readonly stages: FrameStages<F, T>,
    /** A frame failed in either stage (a bad frame must never stop the gate). */
    private readonly onError: (err: unknown, frame: F) => void,
  ) {}

  /** Frames taken and not yet decided. */
  get size(): number {
    return this.inFlight;
  }

  /** Resolves once fewer than maxInFlight frames are in flight: the loop may take the next. */
  free(): Promise<void> {
    if (this.inFlight < this.maxInFlight) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Starts `frame`'s first stage now and queues its decision behind the frames before it; `ended` runs when it is decided. */
  run(frame: F, ended: () => void = () => {}): void {
    this.inFlight++;
    const analyzed = this.stages.analyze(frame).then(
      (value) => ({ ok: true as const, value }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    const before = this.tail;
    this.tail = (async () => {
      const a = await analyzed;
      const readyAt = performance.now();
      await before;
      try {
        if (!a.ok) throw a.err;
        await this.stages.decide(a.value, frame, performance.now() - readyAt);
      } catch (err) {
        this.onError(err, frame);
      } finally {
        this.inFlight--;
        ended();
        this.waiters.shift()?.();
      }
    })();
  }

  /** Resolves when every frame in flight has been decided. */
  drain(): Promise<void> {
    return this.tail;
  }
}
