// Worker thread that owns the end of every sysfs pulse. The main thread can
// stall (a long synchronous model load, GC, a busy CPU); this thread has its
// own event loop, so the inactive value is written on time regardless.
import { parentPort, workerData } from 'node:worker_threads';
import { closeSync, openSync, writeSync } from 'node:fs';

export interface WatchdogData {
  valuePath: string;
  /** Int32 generation counter shared with the main thread; bumped by safe(). */
  generation: SharedArrayBuffer;
}

export type WatchdogRequest =
  | { type: 'on'; id: number; until: number; generation: number }
  | { type: 'off' };

export type WatchdogReply =
  | { type: 'ready' }
  | { type: 'on'; id: number; energised: boolean }
  | { type: 'ended'; until: number };

const ON = Buffer.from('1');
const OFF = Buffer.from('0');

if (parentPort) {
  const port = parentPort;
  const data = workerData as WatchdogData;
  const generation = new Int32Array(data.generation);
  const fd = openSync(data.valuePath, 'r+');
  let timer: NodeJS.Timeout | undefined;
  const write = (b: Buffer): void => {
    writeSync(fd, b, 0, 1, 0);
  };
  const off = (): void => {
    clearTimeout(timer);
    timer = undefined;
    write(OFF);
  };

  port.on('message', (m: WatchdogRequest) => {
    if (m.type === 'off') {
      off();
      return;
    }
    const left = m.until - Date.now();
    // A safe() after this request was posted wins: never energise past it.
    if (Atomics.load(generation, 0) !== m.generation || left <= 0) {
      port.postMessage({ type: 'on', id: m.id, energised: false } satisfies WatchdogReply);
      return;
    }
    clearTimeout(timer);
    write(ON);
    // safe() may have bumped the generation (and written OFF itself) between the check
    // above and this write, e.g. from an exit hook: then the OFF must win again.
    if (Atomics.load(generation, 0) !== m.generation) {
      write(OFF);
      port.postMessage({ type: 'on', id: m.id, energised: false } satisfies WatchdogReply);
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      write(OFF);
      port.postMessage({ type: 'ended', until: m.until } satisfies WatchdogReply);
    }, left);
    port.postMessage({ type: 'on', id: m.id, energised: true } satisfies WatchdogReply);
  });
  port.once('close', () => {
    off();
    closeSync(fd);
  });
  port.postMessage({ type: 'ready' } satisfies WatchdogReply);
}
