// The gate-wide rate limit, shared fairly between API keys. One token bucket bounds the
// whole gate (`perSec`, `burst`); every key that sent a request within `windowMs` is
// active and owns a share of it (perSec/n, burst/n). A key within its share always gets
// a token while the gate has one. A key past its share may borrow only what no other
// active key could claim right now (the bucket keeps the others' unused share tokens in
// reserve), so one key flooding takes the spare capacity but never a quiet key's turn.
// With one key active this is exactly one token bucket. A key within its share may run
// the bucket into debt (at most one burst), so a quiet key's first request after another
// key emptied it still goes through: over any time t at most perSec*t + 2*burst pass.
// Pure logic; the clock is injected.

export interface FairShareConfig {
  /** Sustained rate of the whole gate, tokens per second. */
  perSec: number;
  /** Size of the gate-wide bucket. */
  burst: number;
  /** A client that sent a request within this many ms counts as active. */
  windowMs: number;
}

interface Share {
  tokens: number;
  atMs: number;
  lastSeenMs: number;
}

export interface FairShareRefusal {
  /** Seconds until this client may expect a token. */
  waitSec: number;
  /** Active clients the rate was shared between. */
  active: number;
}

export class FairShareBucket {
  private tokens: number;
  private atMs: number;
  private readonly shares = new Map<string, Share>();

  constructor(
    private readonly config: FairShareConfig,
    private readonly now: () => number = Date.now,
    /** Clients tracked at most (keys are few; this bounds memory if ids ever come from the network). */
    private readonly maxClients = 10_000,
  ) {
    this.tokens = config.burst;
    this.atMs = now();
  }

  /** Take one token for `client`: null when allowed, else how long to wait. */
  take(client: string): FairShareRefusal | null {
    const now = this.now();
    const { perSec, burst } = this.config;
    this.tokens = Math.min(burst, this.tokens + ((now - this.atMs) / 1000) * perSec);
    this.atMs = now;
    this.forgetIdle(now, client);
    let own = this.shares.get(client);
    const n = this.shares.size + (own ? 0 : 1);
    const rate = perSec / n;
    const cap = Math.max(1, burst / n);
    if (!own) {
      if (this.shares.size >= this.maxClients) this.forgetOldest();
      // A newcomer starts with a full share: a quiet client's first request is never late.
      own = { tokens: cap, atMs: now, lastSeenMs: now };
      this.shares.set(client, own);
    }
    own.lastSeenMs = now;
    // The others' share tokens are what they may claim back to back: held in reserve.
    let reserve = 0;
    for (const [id, s] of this.shares) {
      s.tokens = Math.min(cap, s.tokens + ((now - s.atMs) / 1000) * rate);
      s.atMs = now;
      if (id !== client) reserve += Math.floor(s.tokens);
    }
    // Within its share a key gets through even when others emptied the bucket before it
    // came (it may run the bucket into debt, at most one burst deep); nobody borrows
    // until the debt is repaid.
    if (own.tokens >= 1 && this.tokens - 1 >= -burst) {
      own.tokens -= 1;
      this.tokens -= 1;
      return null;
    }
    if (this.tokens - 1 >= reserve) {
      // Borrowed from capacity nobody else is entitled to now; the share is left as it is.
      this.tokens -= 1;
      return null;
    }
    const gateWait = (1 + reserve - this.tokens) / perSec;
    const shareWait = own.tokens >= 1 ? (1 - burst - this.tokens) / perSec : (1 - own.tokens) / rate;
    const waitSec = Math.min(shareWait, gateWait);
    return { waitSec: Number.isFinite(waitSec) && waitSec > 0 ? waitSec : 1 / perSec, active: n };
  }

  /** Active clients now (metrics, tests). */
  active(): number {
    this.forgetIdle(this.now(), '');
    return this.shares.size;
  }

  private forgetIdle(now: number, keep: string): void {
    for (const [id, s] of this.shares) {
      if (id !== keep && now - s.lastSeenMs > this.config.windowMs) this.shares.delete(id);
    }
  }

  private forgetOldest(): void {
    const oldest = this.shares.keys().next();
    if (!oldest.done) this.shares.delete(oldest.value);
  }
}
