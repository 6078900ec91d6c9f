// Token buckets keyed by API key name or client IP. Hand-written rather than
// @fastify/rate-limit: that plugin is not a dependency here, and a bucket is
// twenty lines with an injected clock that tests can drive without sleeping.

export interface BucketConfig {
  /** Sustained rate, tokens added per second. */
  perSec: number;
  /** Bucket size: how many requests may arrive back to back. */
  burst: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly config: BucketConfig;
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(config: BucketConfig, now: () => number = Date.now, maxEntries = 10_000) {
    this.config = config;
    this.now = now;
    this.maxEntries = maxEntries;
  }

  /** Take one token for `id`: 0 when allowed, else the seconds until one is available. */
  take(id: string): number {
    const now = this.now();
    const { perSec, burst } = this.config;
    const b = this.buckets.get(id) ?? { tokens: burst, atMs: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.atMs) / 1000) * perSec);
    b.atMs = now;
    if (!this.buckets.has(id)) {
      if (this.buckets.size >= this.maxEntries) this.sweep(now);
      this.buckets.set(id, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return perSec > 0 ? (1 - b.tokens) / perSec : Infinity;
  }

  /**
   * Drop buckets that have refilled completely (they carry no state); keeps
   * memory bounded when many client addresses come and go.
   */
  private sweep(now: number): void {
    const { perSec, burst } = this.config;
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.atMs) / 1000) * perSec >= burst) this.buckets.delete(id);
    }
    // Everyone is mid-burst: forget the oldest rather than grow without bound.
    if (this.buckets.size >= this.maxEntries) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
