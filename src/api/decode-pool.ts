// Decodes API images in child processes (decode-child.ts), each niced to the lowest CPU
// priority and killed when a decode passes its deadline: a progressive JPEG with
// thousands of scans costs seconds of CPU per decode, and libvips offers no way to stop
// one from inside. The gate's own frames are decoded in the daemon's process at normal
// priority, on a thread pool these children do not share. Images come back downscaled to
// `maxSidePx`, so what crosses into the gate's process is bounded too.
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { logger } from '../log.js';
import { ImageError, type ImageErrorCode } from '../vision/image.js';
import type { RgbImage } from '../vision/types.js';
import type { DecodeReply, DecodeRequest } from './decode-child.js';

const log = logger('api');
const CHILD = new URL('./decode-child.js', import.meta.url);
/** Lowest CPU priority: decodes run on what the gate leaves over. */
const NICE = 19;

export interface DecodePoolOptions {
  /** Children, each decoding one image at a time. */
  workers: number;
  /** Wall-clock deadline of one decode, ms; past it the child is killed. */
  timeoutMs: number;
  maxPixels: number;
  maxSidePx: number;
}

/** Something that turns image bytes into pixels (the pool, or a test double). */
export interface ImageDecoder {
  decode(bytes: Buffer): Promise<RgbImage>;
}

/** The decode took longer than its deadline; the work was stopped. */
export class DecodeTimeoutError extends ImageError {
  constructor(readonly timeoutMs: number) {
    super('too_slow', `decoding took longer than ${timeoutMs} ms and was stopped (a progressive JPEG with very many scans does this); send a baseline JPEG, a PNG or a WebP`);
  }
}

interface Slot {
  child: ChildProcess | null;
  busy: boolean;
}

export class DecodePool implements ImageDecoder {
  private readonly slots: Slot[];
  private readonly idle: (() => void)[] = [];
  private nextId = 1;
  private stopped = false;
  /** Decodes stopped at their deadline (metrics). */
  killed = 0;

  constructor(private readonly opts: DecodePoolOptions) {
    this.slots = Array.from({ length: opts.workers }, () => ({ child: null, busy: false }));
  }

  start(): void {
    for (const s of this.slots) this.spawn(s);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.slots.map((s) => this.kill(s)));
  }

  /** The process ids of the children now running (tests check that a stopped decode is gone). */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.child?.pid !== undefined && s.child.exitCode === null ? [s.child.pid] : []));
  }

  async decode(bytes: Buffer): Promise<RgbImage> {
    if (this.stopped) throw new Error('the decode pool is stopped');
    const slot = await this.freeSlot();
    if (this.stopped) throw new Error('the decode pool is stopped');
    slot.busy = true;
    try {
      return await this.run(slot, bytes);
    } finally {
      slot.busy = false;
      this.idle.shift()?.();
    }
  }

  private async freeSlot(): Promise<Slot> {
    for (;;) {
      const s = this.slots.find((x) => !x.busy);
      if (s) return s;
      // Admission control keeps requests to the number of workers; this is a safety net.
      await new Promise<void>((r) => this.idle.push(r));
    }
  }

  private spawn(slot: Slot): ChildProcess {
    // A slot owns one worker: one still running would be orphaned by the assignment below.
    if (slot.child && slot.child.exitCode === null && slot.child.signalCode === null) slot.child.kill('SIGKILL');
    const child = fork(CHILD, [], {
      // Not the parent's flags (a test runner's, an inspector's): the worker only decodes.
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    });
    try {
      if (child.pid !== undefined) setPriority(child.pid, NICE);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not lower the decode worker\'s CPU priority');
    }
    child.on('exit', () => {
      if (slot.child === child) slot.child = null;
    });
    slot.child = child;
    return child;
  }

  private run(slot: Slot, bytes: Buffer): Promise<RgbImage> {
    const child = slot.child && slot.child.exitCode === null && slot.child.connected ? slot.child : this.spawn(slot);
    const id = this.nextId++;
    return new Promise<RgbImage>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const timer = setTimeout(() => {
        done();
        this.killed++;
        log.warn({ timeoutMs: this.opts.timeoutMs, bytes: bytes.length }, 'image decode passed its deadline; worker killed');
        void this.kill(slot).then(() => {
          // A request may have started a new worker in this slot meanwhile: never two.
          if (!this.stopped && slot.child === null) this.spawn(slot);
        });
        reject(new DecodeTimeoutError(this.opts.timeoutMs));
      }, this.opts.timeoutMs);
      const onMessage = (m: DecodeReply): void => {
        if (m.id !== id) return;
        done();
        if (m.ok) resolve({ data: m.data, width: m.width, height: m.height });
        else if (m.imageError) reject(new ImageError(m.code as ImageErrorCode, m.message));
        else reject(new Error(`decode worker failed: ${m.message}`));
      };
      const onExit = (code: number | null, signal: string | null): void => {
        done();
        reject(new Error(`decode worker exited (${signal ?? code}) while decoding`));
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ id, bytes, maxPixels: this.opts.maxPixels, maxSidePx: this.opts.maxSidePx } satisfies DecodeRequest);
    });
  }

  private kill(slot: Slot): Promise<void> {
    const child = slot.child;
    slot.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
