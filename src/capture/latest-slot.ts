// A slot of one: the producer overwrites, the consumer takes the newest frame when it is
// ready. When vision is slower than the camera nothing queues up and latency stays one
// frame; overwritten frames are counted so the drop rate is visible in status.
import type { Frame } from './types.js';

interface Waiter {
  resolve(frame: Frame): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export class LatestFrameSlot {
  private frame: Frame | null = null;
  private readonly waiters: Waiter[] = [];
  private closedWith: Error | null = null;
  dropped = 0;
  taken = 0;

  get hasFrame(): boolean {
    return this.frame !== null;
  }

  put(frame: Frame): void {
    if (this.closedWith) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.cleanup();
      this.taken++;
      waiter.resolve(frame);
      return;
    }
    if (this.frame) this.dropped++;
    this.frame = frame;
  }

  take(signal?: AbortSignal): Promise<Frame> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.frame) {
      const f = this.frame;
      this.frame = null;
      this.taken++;
      return Promise.resolve(f);
    }
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<Frame>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(signal?.reason as Error);
      };
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * Rejects waiting and future takes with `err`. keepFrame leaves a frame still in the
   * slot takeable, so the last frame of a finished replay is not lost; on stop it is
   * dropped, since no picture of a person should outlive the capture.
   */
  close(err: Error, keepFrame = false): void {
    this.closedWith = err;
    if (!keepFrame) this.frame = null;
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.reject(err);
    }
  }

  /** Opens the slot again (a stopped source started anew); drops any stale frame. */
  reopen(): void {
    this.closedWith = null;
    this.frame = null;
  }
}
