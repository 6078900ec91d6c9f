// Child processes owned by a test (killed when it ends) and a poll with a deadline: shared
// with the benchmarks, so they live in scripts/proc.ts.
export * from '../scripts/proc.js';
