// The gate's account of itself: one state per part (camera, relay, store, broker, event,
// api, fleet, vision), set by the component that saw it work or fail. Every channel reads from here, so
// they agree: /healthz, the MQTT status payload, sd_notify STATUS=, the log.
import { EventEmitter } from 'node:events';

export type HealthPart = 'camera' | 'relay' | 'store' | 'broker' | 'event' | 'api' | 'fleet' | 'vision';

export interface PartHealth {
  ok: boolean;
  detail: string;
  /** Wall-clock ms when this state began (for records; durations use the monotonic clock). */
  sinceMs: number;
}

export interface HealthReport {
  /** No part is failing. */
  ok: boolean;
  parts: Partial<Record<HealthPart, PartHealth>>;
  /** The failing parts, with why: what a person reads first. */
  faults: { part: HealthPart; detail: string; sinceMs: number }[];
  /** One line for sd_notify STATUS= and the log. */
  summary: string;
}

/** Parts whose failure stops the gate from doing its job (the door, or recording decisions). */
const CRITICAL: ReadonlySet<HealthPart> = new Set(['camera', 'relay', 'store', 'event', 'vision']);

export class GateHealth extends EventEmitter<{ change: [HealthReport, { part: HealthPart; was: PartHealth | undefined; now: PartHealth }] }> {
  private readonly parts = new Map<HealthPart, PartHealth>();

  constructor(
    private readonly gateId: string,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /** Records what `part` was seen doing; emits 'change' only when ok or detail changed. */
  set(part: HealthPart, ok: boolean, detail: string): void {
    const was = this.parts.get(part);
    if (was && was.ok === ok && was.detail === detail) return;
    const now = { ok, detail, sinceMs: was && was.ok === ok ? was.sinceMs : this.now() };
    this.parts.set(part, now);
    this.emit('change', this.report(), { part, was, now });
  }

  get(part: HealthPart): PartHealth | undefined {
    return this.parts.get(part);
  }

  report(): HealthReport {
    const faults = [...this.parts].filter(([, h]) => !h.ok).map(([part, h]) => ({ part, detail: h.detail, sinceMs: h.sinceMs }));
    const critical = faults.filter((f) => CRITICAL.has(f.part));
    const summary =
      faults.length === 0
        ? `gate ${this.gateId}: ok (${[...this.parts].map(([p, h]) => `${p}: ${h.detail}`).join('; ')})`
        : `gate ${this.gateId}: ${critical.length ? 'FAULT' : 'degraded'}: ${faults.map((f) => `${f.part}: ${f.detail}`).join('; ')}`;
    return { ok: faults.length === 0, parts: Object.fromEntries(this.parts), faults, summary };
  }
}
