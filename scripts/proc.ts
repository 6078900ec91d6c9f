// Child processes a test owns: killed when the test ends, whatever its outcome, and when
// the test process exits (a timed-out test, a failed assertion, --test-force-exit).
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Ender {
  after(fn: () => unknown): void;
}

const owned = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of owned) kill(c);
});

const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

function kill(c: ChildProcess): void {
  if (!running(c)) return;
  try {
    c.kill('SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Own `child`: with `t`, it is killed when that test (or suite) ends if it still runs. */
export function own<C extends ChildProcess>(child: C, t?: Ender): C {
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  t?.after(() => kill(child));
  return child;
}

/** True while process `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Poll `fn` until it returns something other than undefined, or fail after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
