// Admission control for the expensive part of POST /identity (decode + face pipeline):
// at most `maxInFlight` requests run at once, and the pixels they declared in their
// headers together stay under `maxInFlightPixels`, which is what bounds decode memory
// (a 38 KB PNG can decode to 120 MB; the count of requests alone bounds nothing). The
// rest wait in a bounded queue with a deadline; a full queue or a passed deadline is a
// 503 with Retry-After, never an unbounded wait. Pure logic; the timer is injected.
import { ApiError } from './errors.js';

export interface AdmissionConfig {
  maxInFlight: number;
  maxInFlightPixels: number;
  maxQueued: number;
  queueTimeoutMs: number;
}

export interface AdmissionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Waiter {
  pixels: number;
  admit: (release: () => void) => void;
  timer: unknown;
}

export interface AdmissionStats {
  inFlight: number;
  inFlightPixels: number;
  queued: number;
}

const realTimers: AdmissionTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class Admission {
  private inFlight = 0;
  private inFlightPixels = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly config: AdmissionConfig,
    private readonly timers: AdmissionTimers = realTimers,
    /** Called with the reason each time a request is turned away (metrics). */
    private readonly onReject: (reason: 'queue_full' | 'queue_timeout' | 'too_many_pixels') => void = () => {},
  ) {}

  stats(): AdmissionStats {
    return { inFlight: this.inFlight, inFlightPixels: this.inFlightPixels, queued: this.queue.length };
  }

  /**
   * Wait for a slot and `pixels` of the budget; resolves with the release function
   * (call it exactly once, when the work is over). Rejects with an ApiError 503.
   */
  acquire(pixels: number): Promise<() => void> {
    const { maxInFlightPixels, maxQueued, queueTimeoutMs } = this.config;
    if (pixels > maxInFlightPixels) {
      this.onReject('too_many_pixels');
      return Promise.reject(
        new ApiError(413, `the image has ${pixels} pixels, more than this gate decodes at once (${maxInFlightPixels}); send a smaller image (a face crop or a downscaled frame)`),
      );
    }
    if (this.queue.length === 0 && this.fits(pixels)) return Promise.resolve(this.take(pixels));
    if (this.queue.length >= maxQueued) {
      this.onReject('queue_full');
      return Promise.reject(this.busy(`${maxQueued} verifications are already waiting`));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { pixels, admit: resolve, timer: undefined };
      w.timer = this.timers.setTimeout(() => {
        const i = this.queue.indexOf(w);
        if (i >= 0) this.queue.splice(i, 1);
        this.onReject('queue_timeout');
        reject(this.busy(`the verification waited ${queueTimeoutMs} ms for a free slot`));
        // A large waiter that gave up may have been blocking smaller ones behind it.
        this.drain();
      }, queueTimeoutMs);
      this.queue.push(w);
    });
  }

  private busy(why: string): ApiError {
    const retry = Math.max(1, Math.ceil(this.config.queueTimeoutMs / 1000));
    return new ApiError(503, `the gate is busy (${why}); retry after ${retry} s`, { 'retry-after': String(retry) });
  }

  private fits(pixels: number): boolean {
    return this.inFlight < this.config.maxInFlight && this.inFlightPixels + pixels <= this.config.maxInFlightPixels;
  }

  private take(pixels: number): () => void {
    this.inFlight++;
    this.inFlightPixels += pixels;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.inFlightPixels -= pixels;
      this.drain();
    };
  }

  /** Admit waiters in arrival order while the head fits (no overtaking: a large image is not starved). */
  private drain(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.pixels)) {
      const w = this.queue.shift()!;
      this.timers.clearTimeout(w.timer);
      w.admit(this.take(w.pixels));
    }
  }
}
