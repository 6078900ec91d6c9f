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
