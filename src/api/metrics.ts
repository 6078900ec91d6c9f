// The metrics GET /metrics serves, in the Prometheus text format (0.0.4), kept by
// prom-client: latencies are histograms (buckets add up across gates and over time,
// where per-gate quantiles cannot), and prom-client's default process and Node.js
// metrics (CPU, memory, file descriptors, event-loop lag, GC) come with every registry.
// This module is a thin layer over it: metrics are registered by name once (a second
// registration returns the same metric, so modules need not coordinate), label values
// are passed as objects, and a gauge can be read at scrape time. Other modules get the
// registry from the composition root; registerGateMetrics() names the ones the gate shares.
import * as prom from 'prom-client';

export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Bucket bounds, in seconds, of the stage histograms: from a sub-millisecond gallery
 * match through detection and embedding (tens of ms on a Pi) to an image fetch or a
 * queue wait of seconds. Changing them changes the series a dashboard reads, so they are
 * fixed here rather than per gate.
 */
export const STAGE_SECONDS_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Kind = 'counter' | 'gauge' | 'histogram';

export class Counter {
  readonly type = 'counter';
  constructor(
    readonly name: string,
    private readonly m: prom.Counter,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`metrics: counter ${this.name} can only go up`);
    this.m.inc(labels, by);
  }
}

export class Gauge {
  readonly type = 'gauge';
  /** Set by collect(); read at every scrape. */
  collector: (() => number) | null = null;
  constructor(private readonly m: prom.Gauge) {}

  set(value: number, labels: Labels = {}): void {
    this.m.set(labels, value);
  }

  inc(labels: Labels = {}, by = 1): void {
    this.m.inc(labels, by);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.m.dec(labels, by);
  }

  /** Read the value at scrape time instead (e.g. outbox depth from SQLite, sync age from a timestamp). */
  collect(fn: () => number): void {
    this.collector = fn;
  }
}

export class Histogram {
  readonly type = 'histogram';
  constructor(private readonly m: prom.Histogram) {}

  observe(value: number, labels: Labels = {}): void {
    this.m.observe(labels, value);
  }

  /** Time `fn` in seconds. */
  async time<T>(labels: Labels, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.observe((performance.now() - t0) / 1000, labels);
    }
  }
}

type Metric = Counter | Gauge | Histogram;

export interface MetricsRegistryOptions {
  /** prom-client's process and Node.js metrics (process_*, nodejs_*); default on. */
  defaultMetrics?: boolean;
}

export class MetricsRegistry {
  /** The prom-client registry underneath. */
  readonly prom = new prom.Registry();
  private readonly metrics = new Map<string, Metric>();

  constructor(opts: MetricsRegistryOptions = {}) {
    if (opts.defaultMetrics ?? true) prom.collectDefaultMetrics({ register: this.prom });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(name, 'counter', () => new Counter(name, new prom.Counter({ name, help, labelNames, registers: [this.prom] })));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(name, 'gauge', () => {
      let wrapper: Gauge | null = null;
      const m = new prom.Gauge({
        name,
        help,
        labelNames,
        registers: [this.prom],
        collect() {
          const fn = wrapper?.collector;
          if (!fn) return;
          let v: number;
          try {
            v = fn();
          } catch {
            v = NaN; // a failing collector must not take /metrics down with it
          }
          this.set(v);
        },
      });
      return (wrapper = new Gauge(m));
    });
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = STAGE_SECONDS_BUCKETS): Histogram {
    return this.register(name, 'histogram', () => new Histogram(new prom.Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.prom] })));
  }

  /** The Content-Type of render()'s text. */
  get contentType(): string {
    return this.prom.contentType;
  }

  async render(): Promise<string> {
    // prom-client 15.1 (lib/util.js getValueAsString) writes NaN as `Nan`; the exposition
    // format spells it `NaN`, and stricter parsers than Prometheus's take only that.
    return (await this.prom.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  private register<M extends Metric>(name: string, type: Kind, make: () => M): M {
    if (!NAME_RE.test(name)) throw new Error(`metrics: bad metric name ${JSON.stringify(name)}`);
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.type !== type) throw new Error(`metrics: ${name} is already a ${existing.type}`);
      return existing as M;
    }
    const m = make();
    this.metrics.set(name, m);
    return m;
  }
}

export interface GateMetrics {
  /** Gate decisions, label `reason` (e.g. match, unknown, no_face, liveness_failed). */
  decisions: Counter;
  /** Seconds per pipeline stage, label `stage` (detect, align, embed, match, decide, ...). */
  stageSeconds: Histogram;
  /** Verifications recorded but not yet published. */
  outboxDepth: Gauge;
  /** Seconds since the attendee cache last synced with the central server. */
  syncAgeSeconds: Gauge;
}

/** The metrics the pipeline, outbox and sync share; call once per registry. */
export function registerGateMetrics(r: MetricsRegistry): GateMetrics {
  return {
    decisions: r.counter('gate_decisions_total', 'Gate decisions by reason.', ['reason']),
    stageSeconds: r.histogram('gate_stage_seconds', 'Latency of each pipeline stage in seconds.', ['stage']),
    outboxDepth: r.gauge('gate_outbox_depth', 'Verification records waiting in the outbox to be published.'),
    syncAgeSeconds: r.gauge('gate_sync_age_seconds', 'Seconds since the last successful attendee sync.'),
  };
}
