// Deterministic random unit vectors, shared with the benchmarks.
export { unitVectors } from '../scripts/vectors.js';
