// A small metrics registry rendered in the Prometheus text format (0.0.4) by
// GET /metrics. prom-client is not a dependency and the agent needs only
// counters, gauges and summaries, so this is the whole of it. Other modules
// get the registry from the composition root and increment their metrics;
// registerGateMetrics() names the ones the gate shares.

export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function labelKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  for (const n of names) if (!LABEL_RE.test(n) || n === 'quantile') throw new Error(`metrics: bad label name ${JSON.stringify(n)}`);
  return names.map((n) => `${n}="${escapeLabel(labels[n] ?? '')}"`).join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function series(name: string, key: string, value: number): string {
  return `${name}${key === '' ? '' : `{${key}}`} ${fmt(value)}\n`;
}

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'summary';
  render(): string;
}

export class Counter implements Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`metrics: counter ${this.name} can only go up`);
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    let out = '';
    for (const [k, v] of this.values) out += series(this.name, k, v);
    return out;
  }
}

export class Gauge implements Metric {
  readonly type = 'gauge';
  private readonly values = new Map<string, number>();
  private collector: (() => number) | null = null;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }

  /** Read the value at scrape time instead (e.g. outbox depth from SQLite, sync age from a timestamp). */
  collect(fn: () => number): void {
    this.collector = fn;
  }

  render(): string {
    if (this.collector) {
      let v: number;
      try {
        v = this.collector();
      } catch {
        v = NaN; // a failing collector must not take /metrics down with it
      }
      return series(this.name, '', v);
    }
    let out = '';
    for (const [k, v] of this.values) out += series(this.name, k, v);
    return out;
  }
}

/**
 * Quantiles over the most recent `window` observations per label set, plus
 * all-time _sum and _count (so rates can still be derived from them).
 */
export class Summary implements Metric {
  readonly type = 'summary';
  private readonly data = new Map<string, { samples: number[]; next: number; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly quantiles: readonly number[] = [0.5, 0.9, 0.99],
    private readonly window = 1024,
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let d = this.data.get(k);
    if (!d) this.data.set(k, (d = { samples: [], next: 0, sum: 0, count: 0 }));
    if (d.samples.length < this.window) d.samples.push(value);
    else d.samples[d.next] = value;
    d.next = (d.next + 1) % this.window;
    d.sum += value;
    d.count += 1;
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

  render(): string {
    let out = '';
    for (const [k, d] of this.data) {
      const sorted = [...d.samples].sort((a, b) => a - b);
      for (const q of this.quantiles) {
        const v = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
        out += series(this.name, k === '' ? `quantile="${q}"` : `${k},quantile="${q}"`, v);
      }
      out += series(`${this.name}_sum`, k, d.sum);
      out += series(`${this.name}_count`, k, d.count);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.register(name, 'counter', () => new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.register(name, 'gauge', () => new Gauge(name, help));
  }

  summary(name: string, help: string, quantiles?: readonly number[], window?: number): Summary {
    return this.register(name, 'summary', () => new Summary(name, help, quantiles, window));
  }

  /** Registering a name twice returns the same metric, so modules need not coordinate. */
  private register<M extends Metric>(name: string, type: Metric['type'], make: () => M): M {
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

  render(): string {
    let out = '';
    for (const m of this.metrics.values()) {
      out += `# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${m.name} ${m.type}\n${m.render()}`;
    }
    return out;
  }
}

export interface GateMetrics {
  /** Gate decisions, label `reason` (e.g. match, unknown, no_face, liveness_failed). */
  decisions: Counter;
  /** Seconds per pipeline stage, label `stage` (detect, align, embed, match, decide, ...). */
  stageSeconds: Summary;
  /** Verifications recorded but not yet published. */
  outboxDepth: Gauge;
  /** Seconds since the attendee cache last synced with the central server. */
  syncAgeSeconds: Gauge;
}

/** The metrics the pipeline, outbox and sync share; call once per registry. */
export function registerGateMetrics(r: MetricsRegistry): GateMetrics {
  return {
    decisions: r.counter('gate_decisions_total', 'Gate decisions by reason.'),
    stageSeconds: r.summary('gate_stage_seconds', 'Latency of each pipeline stage in seconds.'),
    outboxDepth: r.gauge('gate_outbox_depth', 'Verification records waiting in the outbox to be published.'),
    syncAgeSeconds: r.gauge('gate_sync_age_seconds', 'Seconds since the last successful attendee sync.'),
  };
}
