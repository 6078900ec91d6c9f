// Time and timers, injectable so tests advance time instead of sleeping.
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const timers = {
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as NodeJS.Timeout),
};

/** Monotonic time (performance.now): for durations, stalls and backoff. */
export const monotonicClock: Clock = { now: () => performance.now(), ...timers };

/** Wall-clock time (Date.now): for times that are compared with the calendar. */
export const wallClock: Clock = { now: () => Date.now(), ...timers };

/** Local time with its UTC offset, as people read it on the gate: 2026-03-01T18:04:05.123+01:00. */
export function isoWithOffset(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2): string => String(Math.trunc(Math.abs(n))).padStart(w, '0');
  const zone = `${off >= 0 ? '+' : '-'}${p(off / 60)}:${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}${zone}`;
}
