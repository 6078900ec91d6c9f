// The door never waits for the API. The daemon marks each camera frame it processes;
// API recognition starts only between frames, so a frame that arrives finds at most one
// API recognition (a downscaled image, one face) ahead of it, never a queue of them.
// Decoding, the expensive and hostile part, happens in niced child processes
// (decode-pool.ts) and does not share the gate's thread pool or CPU priority.

export class CameraPriority {
  private framesInProgress = 0;
  private waiters: (() => void)[] = [];

  /** The camera loop starts processing a frame. */
  frameStarted(): void {
    this.framesInProgress++;
  }

  /** The camera loop finished a frame (call once per frameStarted, in finally). */
  frameEnded(): void {
    this.framesInProgress = Math.max(0, this.framesInProgress - 1);
    if (this.framesInProgress > 0) return;
    // One API recognition per gap between frames; the rest go only if the camera stays idle.
    this.waiters.shift()?.();
    setImmediate(() => {
      if (this.framesInProgress === 0) for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves when no camera frame is being processed (at once when none is). */
  waitTurn(): Promise<void> {
    if (this.framesInProgress === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
