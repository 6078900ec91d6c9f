// The running gate: every part built in the constructor from the stack (stack.ts) and
// the held relay, started in order by start(). The daemon (daemon.ts) makes it once
// the models are loaded and owns its stop.
import type { Frame } from '../capture/index.js';
import type { GateMetrics } from '../api/metrics.js';
import type { GateDecision } from '../gate/types.js';
import { logger } from '../log.js';
import { photoFetcher } from '../api/photo-fetcher.js';
import { baseTopicOf } from '../publish/options.js';
import type { Relay } from '../relay/index.js';
import { purgeExpiredInBatches } from '../store/purge.js';
import { SyncScheduler } from '../sync/scheduler.js';
import type { AgentContext } from './context.js';
import { VERSION } from '../version.js';
import { FleetLink } from './fleet-link.js';
import { DecisionActor, type RecordEvent } from './gate-act.js';
import { GateCamera } from './gate-camera.js';
import { EventKeeper } from './gate-event.js';
import { FrameStage, type AnalyzedFrame } from './gate-frame.js';
import type { DaemonStats } from './gate-stats.js';
import type { GateHealth, HealthPart } from './health.js';
import type { AgentStack } from './stack.js';
import type { GateStatus } from './status.js';
import { errorText } from '../errors.js';

const log = logger('daemon');
const TICK_MS = 250;

export interface GateDeps {
  ctx: AgentContext & { once: boolean };
  stack: AgentStack;
  relay: Relay;
  health: GateHealth;
  status: GateStatus;
  stats: DaemonStats;
  metrics: GateMetrics;
  now: () => number;
  mono: () => number;
  /** Aborted when shutdown begins. */
  signal: AbortSignal;
  /** The daemon wants to stop by itself (--once and the replay ended). */
  finish: () => void;
  recordEvent: RecordEvent;
  /** Re-reads the config file (the MQTT `reload` command). */
  reload: () => string[];
}

export class RunningGate {
  readonly fleet: FleetLink;
  readonly events: EventKeeper;
  readonly actor: DecisionActor;
  readonly frames: FrameStage;
  readonly camera: GateCamera<AnalyzedFrame | null>;
  readonly sync: SyncScheduler;
  private readonly timers: NodeJS.Timeout[] = [];
  private purging = false;

  constructor(private readonly deps: GateDeps) {
    const { ctx, stack, health, now, mono, recordEvent } = deps;
    const c = ctx.config;
    const { rec, outbox } = stack;
    this.fleet = new FleetLink({ config: c, db: rec.store.db, baseTopic: baseTopicOf(c.mqtt, c), version: VERSION, health, now, mono, policy: () => this.events.policy, eventId: () => this.events.event?.id ?? null, recordConflict: (x) => recordEvent('fleet_conflict', FleetLink.conflictEvent(x)) });
    this.events = new EventKeeper({ config: c, store: rec.store, fleet: this.fleet, health, identity: stack.identity, now, mono, onNewPolicy: () => this.frames.resetTracks() });
    this.actor = new DecisionActor({ store: rec.store, outbox, relay: deps.relay, fleet: this.fleet, health, status: deps.status, stats: deps.stats, metrics: deps.metrics, signal: deps.signal, eventId: () => this.events.event?.id ?? null, recordEvent, pulseMs: () => c.relay.pulseMs });
    this.frames = new FrameStage({ config: c, rec, events: this.events, actor: this.actor, stats: deps.stats, metrics: deps.metrics, now, mono });
    this.camera = new GateCamera({ config: c, health, stats: deps.stats, recordEvent, signal: deps.signal, once: ctx.once, finish: deps.finish, analyze: (f, takenAtMs) => this.frames.analyze(f, takenAtMs), decide: (a) => this.frames.decide(a), maxInFlight: c.vision.inferenceWorker ? c.vision.inferenceWorkers : 1, priority: () => stack.api?.priority });
    this.sync = new SyncScheduler({
      config: c,
      store: rec.store,
      pipeline: rec.pipeline,
      modelId: rec.embedderId,
      fetchPhoto: (baseUrl) => photoFetcher({ baseUrl, maxPhotoBytes: c.sync.maxPhotoBytes, requestTimeoutMs: c.sync.requestTimeoutMs }),
      extraEvents: () => (c.event.id ? [c.event.id] : []),
      onDone: (results, durationMs) => {
        const attendees = results.reduce((n, r) => n + r.attendees, 0);
        log.info({ attendees, durationMs }, 'sync done');
        outbox.recordEvent('sync_done', { attendees, durationMs });
        this.events.select();
      },
      onFailed: (error) => {
        log.warn({ error }, 'sync failed; deciding from the cached attendees');
        outbox.recordEvent('sync_failed', { error });
      },
    });
  }

  /** Event, MQTT commands, relay events, fleet, API, sync, camera, timers: in this order. */
  async start(): Promise<void> {
    const c = this.deps.ctx.config;
    this.housekeeping();
    const publisher = this.deps.stack.publisher;
    if (publisher) {
      publisher.onCommand('open', (p) => this.actor.remoteOpen(p.pulseMs));
      publisher.onCommand('reload', () => ({ changed: this.deps.reload() }));
      publisher.onCommand('sync', async () => {
        if (!this.sync.enabled) throw new Error('sync.baseUrl is not set on this gate');
        const results = await this.sync.runNow();
        return { attendees: results.reduce((n, r) => n + r.attendees, 0) };
      });
    }
    this.deps.stack.startPublisher('results');
    this.actor.watchRelay();
    this.fleet.start();
    if (c.api.enabled) await this.startApi();
    this.sync.start();
    await this.camera.start();
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.housekeeping(), c.daemon.purgeIntervalMs));
  }

  /** Stops the timers and the camera; the loop has ended when it resolves. */
  async stopLoop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.camera.stop();
  }

  /** The identity endpoint; a failure to listen (a busy port) is an API fault: the door keeps working. */
  private async startApi(): Promise<void> {
    const { ctx, health, stack } = this.deps;
    const c = ctx.config;
    const critical: HealthPart[] = ['event', 'camera', 'relay', 'store', 'vision', ...(this.fleet.enabled ? (['fleet'] as const) : [])];
    let address;
    try {
      // Readiness is the gate's own account: each part as it was last seen working or failing.
      const api = await stack.startApi(
        critical.map((part) => ({
          name: part,
          check: () => {
            const h = health.get(part);
            return !h ? { ready: false, reason: `${part}: not seen working yet` } : h.ok ? { ready: true } : { ready: false, reason: h.detail };
          },
        })),
      );
      address = api.address;
    } catch (err) {
      health.set('api', false, `identity endpoint not served on ${c.api.host}:${c.api.port}: ${errorText(err)}`);
      return;
    }
    this.deps.metrics.syncAgeSeconds.collect(() => {
      const e = this.events.event;
      const at = e ? stack.rec.store.getSyncState(e.id).lastSuccessAt : null;
      return at === null ? NaN : (this.deps.now() - at) / 1000;
    });
    health.set('api', true, `serving on ${address.host}:${address.port}`);
    log.info({ address }, `identity endpoint on http://${address.host}:${address.port}`);
  }

  /** New settings applied in place by a reload (reload.ts). */
  reconfigure(changed: readonly string[]): void {
    if (changed.includes('gate')) this.events.renewPolicy();
    if (['match', 'identification', 'gate', 'quality'].some((k) => changed.includes(k))) this.frames.reconfigure();
  }

  async processFrame(frame: Frame): Promise<GateDecision[]> {
    return this.frames.process(frame);
  }

  /** Report every open track as if it had expired (end of a replay). */
  flushTracks(): void {
    const policy = this.events.policy;
    if (!policy) return;
    const past = this.deps.ctx.config.gate.trackTtlMs + 1;
    for (const d of policy.tick(this.deps.now() + past, this.deps.mono() + past)) this.actor.actLogged(d, null);
  }

  private tick(): void {
    this.noteBroker();
    const policy = this.events.policy;
    if (!policy) return;
    for (const d of policy.tick(this.deps.now(), this.deps.mono())) this.actor.actLogged(d, null);
  }

  /** The broker as the publisher last saw it (results queue in the outbox meanwhile). */
  private noteBroker(): void {
    const publisher = this.deps.stack.publisher;
    if (!publisher) return;
    const st = publisher.status();
    if (st.state === 'online') this.deps.health.set('broker', true, `connected to ${st.broker}`);
    else if (st.state !== 'stopped' && st.failedAttempts > 0) this.deps.health.set('broker', false, `${st.state}: ${st.lastError ?? 'not connected'}; results wait in the outbox`);
  }

  /** Store probe, purge of ended events in bounded steps (never one long delete on the loop), event choice. */
  private housekeeping(): void {
    this.probeStore();
    try {
      this.events.select();
    } catch (err) {
      log.error({ err: errorText(err) }, 'housekeeping failed');
    }
    if (this.purging) return;
    this.purging = true;
    purgeExpiredInBatches(this.deps.stack.rec.store, { batchRows: this.deps.ctx.config.store.purgeBatchRows, signal: this.deps.signal })
      .then((purged) => {
        if (purged.length) log.info({ events: purged }, 'purged attendees of ended events');
        this.events.select();
      })
      .catch((err: Error) => log.error({ err: err.message }, 'housekeeping failed'))
      .finally(() => (this.purging = false));
  }

  /** The store takes writes (a heartbeat row), or the gate says it cannot record decisions. */
  private probeStore(): void {
    try {
      this.deps.stack.rec.store.heartbeat();
      this.deps.health.set('store', true, 'recording decisions');
    } catch (err) {
      this.deps.health.set('store', false, `cannot record decisions: ${errorText(err)}; the door stays shut until it can`);
    }
  }
}
