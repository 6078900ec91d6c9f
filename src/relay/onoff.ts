// Relay on the Linux sysfs GPIO interface through the onoff package.
// Fail-secure pieces: pulse ends are written by a worker thread (see
// pulse-watchdog.ts), safe() and the exit hook write synchronously, and the
// pin is left exported and driven inactive on stop (unexporting hands it back
// to the pin controller, which on a Pi makes it a floating input).
import { Worker } from 'node:worker_threads';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gpio } from 'onoff';
import { BaseRelay } from './base.js';
import type { Timers } from './door.js';
import type { RelayOptions } from './types.js';
import type { WatchdogReply, WatchdogRequest } from './pulse-watchdog.js';

export const SYSFS_GPIO = '/sys/class/gpio';
/** How long the kernel (and udev, for permissions) may take to create gpioN/. */
const EXPORT_TIMEOUT_MS = 2000;

/**
 * Exports a sysfs GPIO and waits until its value file opens read-write.
 * onoff does this itself with a synchronous spin of 10000 open() attempts,
 * which is too short when udev is slow (raspberrypi/linux#553) and blocks the
 * event loop meanwhile; waiting here first makes onoff find it exported.
 */
export async function exportSysfsGpio(gpio: number, timeoutMs = EXPORT_TIMEOUT_MS): Promise<void> {
  const dir = `${SYSFS_GPIO}/gpio${gpio}`;
  if (!existsSync(dir)) writeFileSync(`${SYSFS_GPIO}/export`, String(gpio));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      closeSync(openSync(`${dir}/value`, 'r+'));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`relay: ${dir}/value did not become writable within ${timeoutMs} ms`, { cause: err });
    }
    await sleep(10);
  }
}

export class OnoffRelay extends BaseRelay {
  readonly driver = 'onoff' as const;
  private out: Gpio | null = null;
  private inputs: Gpio[] = [];
  private worker: Worker | null = null;
  private readonly generation = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private readonly waiting = new Map<number, (energised: boolean) => void>();

  constructor(options: Partial<RelayOptions> = {}, timers?: Timers) {
    super(options, timers);
  }

  protected async openOutput(): Promise<void> {
    // Loaded here so machines without the epoll build can still use sim.
    const { Gpio } = await import('onoff');
    const gpio = this.opts.sysfsBase + this.opts.pin;
    await exportSysfsGpio(gpio);
    // 'high'/'low' set the raw level together with the direction; plain 'out'
    // would drive raw low, which energises an active-low board for a moment.
    const out = new Gpio(gpio, this.opts.activeLow ? 'high' : 'low', undefined, { activeLow: this.opts.activeLow });
    this.out = out;
    // onoff ignores configuration errors on an already exported pin; a wrong
    // polarity here would invert the whole fail-secure logic, so check it.
    if (out.activeLow() !== this.opts.activeLow) throw new Error(`relay: could not set active_low on gpio${gpio}`);
    out.writeSync(0);

    const worker = new Worker(new URL('./pulse-watchdog.js', import.meta.url), {
      workerData: { valuePath: `${SYSFS_GPIO}/gpio${gpio}/value`, generation: this.generation.buffer },
    });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: WatchdogReply) => (m.type === 'ready' ? resolve() : reject(new Error('relay: watchdog did not start'))));
    });
    worker.on('message', (m: WatchdogReply) => {
      if (m.type === 'on') {
        this.waiting.get(m.id)?.(m.energised);
        this.waiting.delete(m.id);
      } else if (m.type === 'ended' && !this.isGranting()) {
        worker.unref();
      }
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', () => {
      if (this.worker === worker) this.fail(new Error('relay: pulse watchdog thread exited'));
    });
    // Idle, the watchdog does not keep the process alive (the daemon's
    // lifetime is decided elsewhere); during a pulse it does, so a script that
    // pulses and returns still sees the pulse through.
    worker.unref();
  }

  protected async openInputs(): Promise<void> {
    const { Gpio } = await import('onoff');
    const watch = (pin: number, activeLow: boolean, feed: (active: boolean) => void): void => {
      const gpio = this.opts.sysfsBase + pin;
      const input = new Gpio(gpio, 'in', 'both', { activeLow, debounceTimeout: this.opts.debounceMs });
      this.inputs.push(input);
      feed(input.readSync() === 1);
      input.watch((err, value) => (err ? this.fail(err) : feed(value === 1)));
    };
    if (this.opts.doorPin !== null) watch(this.opts.doorPin, this.opts.doorActiveLow, (a) => this.door?.contact(a));
    if (this.opts.exitButtonPin !== null) watch(this.opts.exitButtonPin, this.opts.exitButtonActiveLow, (a) => this.door?.button(a));
  }

  protected async energise(_ms: number, until: number): Promise<void> {
    const worker = this.worker;
    if (!worker) throw new Error('relay: not started');
    worker.ref();
    const id = this.nextId++;
    const energised = new Promise<boolean>((resolve) => this.waiting.set(id, resolve));
    const req: WatchdogRequest = { type: 'on', id, until, generation: Atomics.load(this.generation, 0) };
    worker.postMessage(req);
    await energised;
  }

  protected deEnergise(): void {
    Atomics.add(this.generation, 0, 1);
    this.out?.writeSync(0);
    this.worker?.postMessage({ type: 'off' } satisfies WatchdogRequest);
    this.worker?.unref();
  }

  protected async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    for (const resolve of this.waiting.values()) resolve(false);
    this.waiting.clear();
    if (worker) await worker.terminate();
    for (const input of this.inputs) input.unexport();
    this.inputs = [];
    if (this.out) {
      this.out.writeSync(0);
      // onoff has no way to close the value fd without unexporting (see the
      // header for why the pin stays exported), so its private fd is closed.
      const fd = (this.out as unknown as { _valueFd?: unknown })._valueFd;
      if (typeof fd === 'number') closeSync(fd);
      this.out = null;
    }
  }
}
