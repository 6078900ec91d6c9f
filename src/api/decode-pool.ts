// Decodes API images in child processes (decode-child.ts), each niced to the lowest CPU
// priority and killed when a decode passes its deadline: a progressive JPEG with
// thousands of scans costs seconds of CPU per decode, and libvips offers no way to stop
// one from inside. The gate's own frames are decoded in the daemon's process at normal
// priority, on a thread pool these children do not share. Images come back downscaled to
// `maxSidePx`, so what crosses into the gate's process is bounded too.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { logger } from '../log.js';
import { ImageError, type ImageErrorCode } from '../vision/image.js';
import type { RgbImage } from '../vision/types.js';
import type { DecodeReply, DecodeRequest } from './decode-child.js';
import { errorText } from '../errors.js';

const log = logger('api');
const CHILD = new URL('./decode-child.js', import.meta.url);
/** Lowest CPU priority: decodes run on what the gate leaves over. */
const NICE = 19;

export interface DecodePoolOptions {
  /** Children, each decoding one image at a time. */
  workers: number;
  /** CPU time one decode may use, ms; past it the child is killed (the image's fault: 415). */
  timeoutMs: number;
  /**
   * Wall-clock bound of one decode, ms: a niced decode starved of CPU by the gate's own
   * work holds its slot at most this long (not the image's fault: 503, retry).
   */
  wallTimeoutMs: number;
  maxPixels: number;
  maxSidePx: number;
}

/** Something that turns image bytes into pixels (the pool, or a test double). */
export interface ImageDecoder {
  decode(bytes: Buffer): Promise<RgbImage>;
}

/** The decode used more CPU time than it may; the work was stopped. */
export class DecodeTimeoutError extends ImageError {
  constructor(readonly timeoutMs: number) {
    super('too_slow', `decoding took longer than ${timeoutMs} ms of CPU time and was stopped (a progressive JPEG with very many scans does this); send a baseline JPEG, a PNG or a WebP`);
  }
}

/** The decode got too little CPU to finish in time (the gate's own work comes first); it was stopped. */
export class DecodeStarvedError extends Error {
  constructor(readonly wallTimeoutMs: number) {
    super(`the image decode did not finish within ${wallTimeoutMs} ms: the gate's own work comes first and left it too little CPU`);
  }
}

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ, the same on every architecture). */
const TICK_MS = 10;

/** CPU time (user + system) of process `pid` in ms, from /proc; null where it cannot be read. */
export function cpuTimeMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return null;
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
      // One decode at a time on one libvips thread: one malloc arena is enough, and glibc's
      // default of one per thread keeps the pages of a large decode (a PNG bomb) long after.
      env: { ...process.env, UV_THREADPOOL_SIZE: '1', MALLOC_ARENA_MAX: '1' },
    });
    try {
      if (child.pid !== undefined) setPriority(child.pid, NICE);
    } catch (err) {
      log.warn({ err: errorText(err) }, 'could not lower the decode worker\'s CPU priority');
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
        clearInterval(watch);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const stop = (err: Error, why: string): void => {
        done();
        this.killed++;
        log.warn({ cpuTimeoutMs: this.opts.timeoutMs, wallTimeoutMs: this.opts.wallTimeoutMs, bytes: bytes.length }, `image decode ${why}; worker killed`);
        void this.kill(slot).then(() => {
          // A request may have started a new worker in this slot meanwhile: never two.
          if (!this.stopped && slot.child === null) this.spawn(slot);
        });
        reject(err);
      };
      // CPU time, not wall time, is the image's cost: a decode the gate's own work leaves
      // waiting for CPU is not a bomb. Where /proc cannot be read, wall time stands in.
      const pid = child.pid;
      const cpu0 = pid === undefined ? null : cpuTimeMs(pid);
      const t0 = performance.now();
      const every = Math.max(10, Math.min(100, this.opts.timeoutMs / 10));
      const watch = setInterval(() => {
        const wall = performance.now() - t0;
        const cpu = cpu0 === null || pid === undefined ? null : cpuTimeMs(pid);
        const used = cpu === null || cpu0 === null ? wall : cpu - cpu0;
        if (used > this.opts.timeoutMs) stop(new DecodeTimeoutError(this.opts.timeoutMs), 'passed its CPU deadline');
        else if (wall > this.opts.wallTimeoutMs) stop(new DecodeStarvedError(this.opts.wallTimeoutMs), 'got too little CPU to finish in time');
      }, every);
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
