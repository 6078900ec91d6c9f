// Deterministic random unit vectors for gallery and store tests and benchmarks.
/** Deterministic pseudo-random unit vectors (mulberry32). */
export function unitVectors(n: number, dim: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dim);
    let norm = 0;
    for (let i = 0; i < dim; i++) { v[i] = rnd(); norm += v[i]! * v[i]!; }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dim; i++) v[i] = v[i]! / norm;
    return v;
  });
}

