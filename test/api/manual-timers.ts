import type { AdmissionTimers } from '../../src/api/admission.js';

/** Timers the test fires by hand: no sleeping on deadlines. */
export function manualTimers(): AdmissionTimers & { fire(): void; pending(): number } {
  const fns = new Map<number, () => void>();
  let n = 0;
  return {
    setTimeout: (fn) => (fns.set(++n, fn), n),
    clearTimeout: (h) => fns.delete(h as number),
    fire: () => {
      for (const [k, fn] of [...fns]) {
        fns.delete(k);
        fn();
      }
    },
    pending: () => fns.size,
  };
}
