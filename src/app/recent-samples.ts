// The last N samples of a measure (grant latency, liveness time) in a fixed-size ring: a
// daemon that runs for months keeps a constant amount, and adding one is O(1).
export class RecentSamples {
  private readonly buf: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`RecentSamples: capacity ${capacity} must be a whole number above 0`);
    this.buf = new Float64Array(capacity);
  }

  push(v: number): void {
    this.buf[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  get length(): number {
    return this.count;
  }

  /** Oldest first. */
  values(): number[] {
    const out: number[] = [];
    const start = this.count < this.capacity ? 0 : this.next;
    for (let i = 0; i < this.count; i++) out.push(this.buf[(start + i) % this.capacity]!);
    return out;
  }

  clear(): void {
    this.next = 0;
    this.count = 0;
  }
}
