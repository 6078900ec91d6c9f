// The door never waits for the API. The daemon marks each camera frame it processes.
// With the face models in the inference worker (the default), the marks go to the
// worker's lane queue (vision/lanes.ts): camera frames go first, API work runs only in a
// gap between frames and not during a passage, and waits at most vision.apiMaxWaitMs
// (then 503 with Retry-After); waitTurn() then resolves at once, as the queue does the
// ordering. With the models on the event loop (vision.inferenceWorker off), API
// recognition starts only between frames, so a frame that arrives finds at most one API
// recognition ahead of it. Decoding, the expensive and hostile part, happens in niced
// child processes (decode-pool.ts) either way.
import type { LaneQueue } from '../vision/lanes.js';

export class CameraPriority {
  private framesInProgress = 0;
  private waiters: (() => void)[] = [];

  /** `lanes`: the inference worker's queue, when the models run there. */
  constructor(private readonly lanes: Pick<LaneQueue, 'frameStarted' | 'frameEnded'> | null = null) {}

  /** The camera loop starts processing a frame. */
  frameStarted(): void {
    this.lanes?.frameStarted();
    this.framesInProgress++;
  }

  /** The camera loop finished a frame (call once per frameStarted, in finally). */
  frameEnded(): void {
    this.lanes?.frameEnded();
    this.framesInProgress = Math.max(0, this.framesInProgress - 1);
    if (this.framesInProgress > 0) return;
    // One API recognition per gap between frames; the rest go only if the camera stays idle.
    this.waiters.shift()?.();
    setImmediate(() => {
      if (this.framesInProgress === 0) for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves when the API may start a recognition (at once when the worker's queue orders the work). */
  waitTurn(): Promise<void> {
    if (this.lanes || this.framesInProgress === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
