// Admission control for the expensive part of POST /identity (decode + face pipeline):
// at most `maxInFlight` requests run at once, and the pixels they declared in their
// headers together stay under `maxInFlightPixels`, which is what bounds decode memory
// (a 38 KB PNG can decode to 120 MB; the count of requests alone bounds nothing). The
// rest wait in a bounded queue with a deadline; a full queue or a passed deadline is a
// 503 with Retry-After, never an unbounded wait. Small images (an ordinary photo) may
// go `smallImagePixels` over the budget, so one bomb-sized image in flight does not
// hold every verification up; decode memory stays bounded by the two together.
//
// Fair between clients (API keys): each client runs at most `maxInFlightPerClient` at
// once, waits in its own line, and the lines are served round robin, so a client with
// a hundred requests waiting does not stand between a quiet client and the next free
// slot. When the queue is full, a newcomer from a client with a shorter line takes the
// place of the newest waiter of the longest line. Pure logic; the timer is injected.
import { ApiError } from './errors.js';

export interface AdmissionConfig {
  maxInFlight: number;
  maxInFlightPixels: number;
  /** Verifications one client runs at once at most. */
  maxInFlightPerClient: number;
  /**
   * Images of at most this many pixels may also use this much room above
   * maxInFlightPixels: a large image in flight never blocks an ordinary photo.
   */
  smallImagePixels: number;
  maxQueued: number;
  queueTimeoutMs: number;
}

export interface AdmissionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type AdmissionRejection = 'queue_full' | 'queue_timeout' | 'too_many_pixels';

interface Waiter {
  client: string;
  pixels: number;
  admit: (release: () => void) => void;
  refuse: (err: ApiError) => void;
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
  private queued = 0;
  /** Per client: its waiters in arrival order. */
  private readonly lines = new Map<string, Waiter[]>();
  private readonly running = new Map<string, number>();
  /** Per client: when it was last admitted (a counter), for the round robin. */
  private readonly served = new Map<string, number>();
  private admissions = 0;

  constructor(
    private readonly config: AdmissionConfig,
    private readonly timers: AdmissionTimers = realTimers,
    /** Called with the reason each time a request is turned away (metrics). */
    private readonly onReject: (reason: AdmissionRejection) => void = () => {},
  ) {}

  stats(): AdmissionStats {
    return { inFlight: this.inFlight, inFlightPixels: this.inFlightPixels, queued: this.queued };
  }

  /**
   * Wait for a slot and `pixels` of the budget for `client`; resolves with the release
   * function (call it exactly once, when the work is over). Rejects with an ApiError 503
   * (busy) or 413 (more pixels than the whole budget).
   */
  acquire(pixels: number, client = ''): Promise<() => void> {
    const { maxInFlightPixels, maxQueued, queueTimeoutMs } = this.config;
    if (pixels > maxInFlightPixels) {
      this.onReject('too_many_pixels');
      return Promise.reject(
        new ApiError(413, `the image has ${pixels} pixels, more than this gate decodes at once (${maxInFlightPixels}); send a smaller image (a face crop or a downscaled frame)`),
      );
    }
    if (this.queued === 0 && this.fits(pixels) && this.underClientCap(client)) return Promise.resolve(this.take(client, pixels));
    if (this.queued >= maxQueued && !this.makeRoomFor(client)) {
      this.onReject('queue_full');
      return Promise.reject(this.busy(`${maxQueued} verifications are already waiting`));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { client, pixels, admit: resolve, refuse: reject, timer: undefined };
      w.timer = this.timers.setTimeout(() => {
        this.remove(w);
        this.onReject('queue_timeout');
        reject(this.busy(`the verification waited ${queueTimeoutMs} ms for a free slot`));
        // A large waiter that gave up may have been blocking smaller ones behind it.
        this.drain();
      }, queueTimeoutMs);
      const line = this.lines.get(client);
      if (line) line.push(w);
      else this.lines.set(client, [w]);
      this.queued++;
      // The newcomer may be the only one that fits (its client is under its cap).
      this.drain();
    });
  }

  private busy(why: string): ApiError {
    const retry = Math.max(1, Math.ceil(this.config.queueTimeoutMs / 1000));
    return new ApiError(503, `the gate is busy (${why}); retry after ${retry} s`, { 'retry-after': String(retry) });
  }

  private fits(pixels: number): boolean {
    const { maxInFlight, maxInFlightPixels, smallImagePixels } = this.config;
    const budget = pixels <= smallImagePixels ? maxInFlightPixels + smallImagePixels : maxInFlightPixels;
    return this.inFlight < maxInFlight && this.inFlightPixels + pixels <= budget;
  }

  private underClientCap(client: string): boolean {
    return (this.running.get(client) ?? 0) < this.config.maxInFlightPerClient;
  }

  /**
   * The queue is full: when `client` has fewer waiters than the longest line, that
   * line's newest waiter is turned away to make room (longest line drops first).
   */
  private makeRoomFor(client: string): boolean {
    const mine = this.lines.get(client)?.length ?? 0;
    let longest: Waiter[] | undefined;
    for (const line of this.lines.values()) if (!longest || line.length > longest.length) longest = line;
    if (!longest || longest.length <= mine + 1) return false;
    const victim = longest[longest.length - 1]!;
    this.remove(victim);
    this.timers.clearTimeout(victim.timer);
    this.onReject('queue_full');
    victim.refuse(this.busy(`${this.config.maxQueued} verifications are already waiting, most of them from this client`));
    return true;
  }

  private remove(w: Waiter): void {
    const line = this.lines.get(w.client);
    const i = line?.indexOf(w) ?? -1;
    if (!line || i < 0) return;
    line.splice(i, 1);
    this.queued--;
    if (line.length === 0) {
      this.lines.delete(w.client);
      this.forgetIfIdle(w.client);
    }
  }

  private take(client: string, pixels: number): () => void {
    this.inFlight++;
    this.inFlightPixels += pixels;
    this.running.set(client, (this.running.get(client) ?? 0) + 1);
    this.served.set(client, ++this.admissions);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.inFlightPixels -= pixels;
      const left = (this.running.get(client) ?? 1) - 1;
      if (left > 0) this.running.set(client, left);
      else {
        this.running.delete(client);
        this.forgetIfIdle(client);
      }
      this.drain();
    };
  }

  /**
   * Round robin over the clients' lines, each client's waiters in arrival order: the
   * next admitted is the head of the line of the client served least recently (never
   * served first), passing over clients at their in-flight cap. When that head does not
   * fit, nobody overtakes it (a large image is not starved by small ones).
   */
  private drain(): void {
    for (;;) {
      let next: Waiter | undefined;
      let nextSeq = Infinity;
      for (const [client, line] of this.lines) {
        if (!this.underClientCap(client)) continue;
        const seq = this.served.get(client) ?? -1;
        if (seq < nextSeq) {
          next = line[0];
          nextSeq = seq;
        }
      }
      if (!next || !this.fits(next.pixels)) return;
      this.remove(next);
      this.timers.clearTimeout(next.timer);
      next.admit(this.take(next.client, next.pixels));
    }
  }

  /** A client with nothing waiting and nothing running is forgotten (memory stays bounded). */
  private forgetIfIdle(client: string): void {
    if (!this.lines.has(client) && !this.running.has(client)) this.served.delete(client);
  }
}
