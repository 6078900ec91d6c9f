// The act stage: a decision is recorded (outbox, audit, anti-passback entry) in one
// transaction first, and only then may the relay pulse; pulses are counted once the
// relay driver reports their outcome.
import type { GateMetrics } from '../api/metrics.js';
import type { GateDecision } from '../gate/types.js';
import { logger } from '../log.js';
import type { Outbox } from '../publish/outbox.js';
import type { Decision } from '../publish/topics.js';
import type { Relay } from '../relay/index.js';
import type { AttendeeStore } from '../store/attendees.js';
import type { FleetLink } from './fleet-link.js';
import type { DaemonStats } from './gate-stats.js';
import type { GateHealth } from './health.js';
import type { GateStatus } from './status.js';
import { errorText } from '../errors.js';

const log = logger('daemon');

const publishedDecision = (d: GateDecision): Decision => (d.kind === 'grant' ? 'granted' : d.reason === 'unknown_face' ? 'unknown' : 'denied');

export type RecordEvent = (type: Parameters<Outbox['recordEvent']>[0], detail: Parameters<Outbox['recordEvent']>[1]) => void;

export interface ActorDeps {
  store: AttendeeStore;
  outbox: Outbox;
  relay: Relay;
  fleet: FleetLink;
  health: GateHealth;
  status: GateStatus;
  stats: DaemonStats;
  metrics: GateMetrics;
  /** Aborted when shutdown begins: no grant energises the relay after that. */
  signal: AbortSignal;
  /** The event decisions are recorded for (null: none). */
  eventId: () => string | null;
  /** An event to the outbox that never throws. */
  recordEvent: RecordEvent;
  /** relay.pulseMs, read live. */
  pulseMs: () => number;
}

export class DecisionActor {
  /** The threshold of the latest matched frame, for the decision records and the log. */
  private threshold: number | undefined;
  /** pulse() calls whose outcome the relay has not reported yet (a newer pulse merges with them). */
  private unsettledPulses = 0;
  private pulsesSettledWaiters: (() => void)[] = [];

  constructor(private readonly deps: ActorDeps) {}

  /** The relay's events: door alarms and faults become records, a pulse's outcome settles the count. */
  watchRelay(): void {
    const { relay, outbox, status, health } = this.deps;
    relay.on('door-held-open', ({ openForMs }) => outbox.recordEvent('door_held', { openMs: openForMs }));
    relay.on('door-forced', () => outbox.recordEvent('door_forced', {}));
    relay.on('error', (err) => {
      status.relayFault(err.message);
      health.set('relay', false, err.message);
      this.deps.recordEvent('relay_fault', { error: err.message });
    });
    relay.on('pulse-ended', ({ ok, error }) => {
      status.pulseEnded(ok, error);
      this.settlePulses(ok);
      health.set('relay', ok, ok ? `${relay.driver}: last pulse confirmed` : (error ?? 'pulse failed'));
    });
  }

  /** Logs the effective threshold when it changes (the attendee count moved it). */
  noteThreshold(threshold: number, attendees: number): void {
    if (threshold !== this.threshold) log.info({ threshold, attendees, event: this.deps.eventId() ?? undefined }, `matching at threshold ${threshold} for ${attendees} attendees`);
    this.threshold = threshold;
  }

  /** The MQTT `open` command: the answer says what the line did, refused while stopping, or the driver's outcome. */
  async remoteOpen(pulseMs: number | undefined): Promise<{ opened: true } | { opened: false; reason: string }> {
    if (this.deps.signal.aborted) return { opened: false, reason: 'the gate is stopping' };
    try {
      this.unsettledPulses++;
      await this.deps.relay.pulseChecked(Math.min(pulseMs ?? this.deps.pulseMs(), this.deps.pulseMs()));
      return { opened: true };
    } catch (err) {
      return { opened: false, reason: errorText(err) };
    }
  }

  /** act() for decisions made outside the frame loop, whose errors have no one to go to. */
  actLogged(d: GateDecision, capturedAtMs: number | null): void {
    this.act(d, capturedAtMs).catch((err: Error) => log.error({ err: err.message, reason: d.reason }, 'recording a decision failed'));
  }

  /** Record the decision (and its outgoing message) first, then open the door. */
  async act(decision: GateDecision, capturedAtMs: number | null): Promise<void> {
    const { store, outbox, fleet, relay, health, status, stats } = this.deps;
    const eventId = this.deps.eventId() ?? undefined;
    let d = decision;
    const attendee = d.userId && eventId ? (store.getSession(eventId, d.userId) ?? null) : null;
    // Deleted between the gallery search and now (by another process): never let them in.
    if (d.kind === 'grant' && !attendee) d = { ...d, kind: 'deny', reason: 'attendee_removed', detail: 'the attendee was removed from the cache' };
    // The relay was made safe when shutdown began; a late grant must not energise it again.
    if (d.kind === 'grant' && this.deps.signal.aborted) d = { ...d, kind: 'deny', reason: 'gate_stopping', detail: 'decided while the gate was stopping' };
    stats.decisions[d.reason] = (stats.decisions[d.reason] ?? 0) + 1;
    status.decision(d);
    this.deps.metrics.decisions.inc({ reason: d.reason });
    const timingsMs = Object.fromEntries(Object.entries(d.timings).map(([k, v]) => [k, Math.round(v * 10) / 10]));
    const threshold = d.threshold ?? this.threshold;
    // Recorded first; a gate that cannot record (disk full, read-only) opens nothing.
    try {
      store.transaction(() => {
        outbox.recordDecision({ decision: publishedDecision(d), reason: d.reason, similarity: d.similarity, timingsMs, atMs: d.atMs, ...(d.liveness && { liveness: d.liveness }), ...(threshold !== undefined ? { threshold } : {}) }, attendee);
        if (d.kind === 'grant' && eventId && d.userId) {
          store.recordEntry(eventId, d.userId, d.atMs);
          fleet.recordGrant(eventId, d.userId, d.atMs);
        }
      });
    } catch (err) {
      health.set('store', false, `cannot record decisions: ${errorText(err)}; the door stays shut until it can`);
      throw err;
    }
    health.set('store', true, 'recording decisions');
    let frameToRelayMs: number | undefined;
    if (d.kind === 'grant') {
      try {
        this.unsettledPulses++;
        await relay.pulse();
        if (capturedAtMs !== null) stats.grantLatencyMs.push((frameToRelayMs = performance.now() - capturedAtMs));
      } catch (err) {
        this.settlePulses(false);
        status.relayFault(errorText(err));
        log.error({ err: errorText(err) }, 'relay pulse failed');
        outbox.recordEvent('relay_fault', { error: errorText(err) });
      }
    }
    log.info({ decision: d.kind, reason: d.reason, userId: d.userId, similarity: d.similarity, liveness: d.liveness?.score ?? null, threshold, track: d.trackId, ...(frameToRelayMs !== undefined && { frameToRelayMs: Math.round(frameToRelayMs) }) }, d.kind === 'grant' ? `granted: ${d.userId}` : `denied: ${d.reason}${d.userId ? ` (${d.userId})` : ''}`);
  }

  /** The relay reported the outcome of the pulses asked for so far (they merged into one). */
  private settlePulses(ok: boolean): void {
    if (this.unsettledPulses === 0) return;
    if (ok) this.deps.stats.pulses += this.unsettledPulses;
    else this.deps.stats.pulseFailures += this.unsettledPulses;
    this.unsettledPulses = 0;
    for (const w of this.pulsesSettledWaiters.splice(0)) w();
  }

  /** Resolves once every pulse asked for has an outcome, or after timeoutMs (they stay unconfirmed). */
  async pulsesSettled(timeoutMs: number): Promise<void> {
    if (this.unsettledPulses === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.pulsesSettledWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
