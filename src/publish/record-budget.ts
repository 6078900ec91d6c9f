// How much a flood of API verifications can write. Every POST /identity that
// is not a match would otherwise write an audit record and an outbox message,
// so a client sending faceless images could fill the outbox (dropping real
// decisions at its cap) and grow the audit without bound. Within a budget
// per minute such results are recorded one by one; beyond it they are counted
// and written as one summary per minute. Matches and the camera's decisions
// never pass through here: they are always recorded.

export interface SuppressedSummary {
  /** Start and end of the minute the results were counted in (ISO 8601). */
  since: string;
  until: string;
  /** Results not recorded one by one. */
  count: number;
  /** Those results by reason (`identity_api_no_face`, …). */
  byReason: Record<string, number>;
}

export class RecordBudget {
  private windowStart: number | null = null;
  private used = 0;
  private suppressed = 0;
  private byReason: Record<string, number> = {};

  /** `perMinute`: results recorded one by one per minute (config api.unmatchedRecordsPerMinute). */
  constructor(
    private readonly perMinute: number,
    private readonly windowMs = 60_000,
  ) {}

  /**
   * Whether a result at `atMs` may be recorded on its own; when not, it is
   * counted. `summary` is the previous minute's count, to be written now, once.
   */
  take(reason: string, atMs: number): { record: boolean; summary: SuppressedSummary | null } {
    const summary = this.roll(atMs, false);
    if (this.used < this.perMinute) {
      this.used++;
      return { record: true, summary };
    }
    this.suppressed++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    return { record: false, summary };
  }

  /** The summary of a minute that has ended by `atMs` (or of the current one with `force`, on shutdown). */
  flush(atMs: number, force = false): SuppressedSummary | null {
    return this.roll(atMs, force);
  }

  private roll(atMs: number, force: boolean): SuppressedSummary | null {
    if (this.windowStart === null) {
      this.windowStart = atMs;
      return null;
    }
    // A clock stepped back starts a new window too, rather than stretching one.
    const ended = force || atMs - this.windowStart >= this.windowMs || atMs < this.windowStart;
    if (!ended) return null;
    const summary: SuppressedSummary | null =
      this.suppressed > 0
        ? { since: new Date(this.windowStart).toISOString(), until: new Date(Math.max(atMs, this.windowStart)).toISOString(), count: this.suppressed, byReason: this.byReason }
        : null;
    this.windowStart = atMs;
    this.used = 0;
    this.suppressed = 0;
    this.byReason = {};
    return summary;
  }
}
